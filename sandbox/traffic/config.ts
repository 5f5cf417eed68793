import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { DEFAULT_PROFILE, type LoadClass, type Profile } from './types.ts';

const loadEntry = z.object({
  rps: z.number().nonnegative(),
  path: z.string().default('/'),
  method: z.string().default('GET'),
  headers: z.record(z.string(), z.string()).default({}),
  sessions: z.int().min(1).max(10_000).optional(),
});

const profileEntry = z.object({
  image: z.string().optional(),
  errorRate: z.number().min(0).max(1).default(DEFAULT_PROFILE.errorRate),
  latencyMs: z
    .object({
      p50: z.number().positive().default(DEFAULT_PROFILE.latencyMs.p50),
      p99: z.number().positive().default(DEFAULT_PROFILE.latencyMs.p99),
    })
    .default({ ...DEFAULT_PROFILE.latencyMs }),
  metrics: z.enum(['ok', 'nan', 'absent']).default('ok'),
});

export interface Parsed<T> {
  value: T;
  /** Entries that were skipped, with why; the simulator logs them rather than stopping. */
  problems: string[];
}

/**
 * ConfigMap `traffic-load`: key = host, value = requests per second ("50"), or YAML for
 * routes that match on request attributes: `{rps: 5, path: /api, headers: {x-user: beta}}`
 * (`sessions: 50` spreads them over 50 clients that keep the cookies answers set),
 * or a list of those to send several kinds of request to one host.
 */
export function parseLoad(data: Record<string, string> | undefined): Parsed<LoadClass[]> {
  const value: LoadClass[] = [];
  const problems: string[] = [];
  for (const host of Object.keys(data ?? {}).sort()) {
    const raw = data?.[host] ?? '';
    try {
      const doc: unknown = parseYaml(raw);
      const items = Array.isArray(doc) ? doc : [typeof doc === 'number' ? { rps: doc } : doc];
      for (const item of items) {
        const e = loadEntry.parse(item);
        const headers = Object.fromEntries(Object.entries(e.headers).map(([k, v]) => [k.toLowerCase(), v]));
        value.push({
          host,
          rps: e.rps,
          path: e.path,
          method: e.method,
          headers,
          ...(e.sessions !== undefined && { sessions: e.sessions }),
        });
      }
    } catch (err) {
      problems.push(`traffic-load[${host}]: ${describe(err)} (value: ${JSON.stringify(raw)})`);
    }
  }
  return { value, problems };
}

/**
 * ConfigMap `traffic-profiles`: key = image (or the image with characters a key cannot hold
 * replaced by '_', or any key with an `image:` field), value = YAML
 * `{errorRate: 0.1, latencyMs: {p50: 20, p99: 80}, metrics: ok | nan | absent}`.
 */
export function parseProfiles(data: Record<string, string> | undefined): Parsed<Map<string, Profile>> {
  const value = new Map<string, Profile>();
  const problems: string[] = [];
  for (const key of Object.keys(data ?? {}).sort()) {
    const raw = data?.[key] ?? '';
    try {
      const e = profileEntry.parse(parseYaml(raw) ?? {});
      if (e.latencyMs.p99 < e.latencyMs.p50) throw new Error('latencyMs.p99 is below p50');
      value.set(e.image ?? key, {
        errorRate: e.errorRate,
        latencyMs: { p50: e.latencyMs.p50, p99: e.latencyMs.p99 },
        ...(e.metrics === 'ok' ? {} : { metrics: e.metrics }),
      });
    } catch (err) {
      problems.push(`traffic-profiles[${key}]: ${describe(err)} (value: ${JSON.stringify(raw)})`);
    }
  }
  return { value, problems };
}

function describe(err: unknown): string {
  if (err instanceof z.ZodError)
    return err.issues.map((i) => `${i.path.join('.') || 'value'}: ${i.message}`).join('; ');
  return err instanceof Error ? err.message : String(err);
}
