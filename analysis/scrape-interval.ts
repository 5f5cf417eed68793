// How often the Prometheus a gate queries scrapes, learned from its own configuration. A rate
// window needs two samples of a series, so a window shorter than two scrapes finds no series on
// most looks: the gate ends Inconclusive and the release pauses with the canary serving.
import { parse } from 'yaml';
import { splitCredentials } from './address.ts';
import { TtlCache } from './ttl-cache.ts';

const PROM_UNIT_MS: Record<string, number> = {
  y: 365 * 86_400_000,
  w: 7 * 86_400_000,
  d: 86_400_000,
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
};
const PROM_PART = /([0-9]+)(ms|y|w|d|h|m|s)/g;
const PROM_WHOLE = /^(?:[0-9]+(?:ms|y|w|d|h|m|s))+$/;

/** Milliseconds in a Prometheus duration (`1m30s`, `15s`, `1d`); undefined when it is not one. */
export function parsePromDuration(text: string): number | undefined {
  if (!PROM_WHOLE.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(PROM_PART))
    total += Number(amount) * (PROM_UNIT_MS[unit as string] ?? 0);
  return total > 0 ? total : undefined;
}

/** Prometheus' own default when a config names no global scrape_interval. */
const PROMETHEUS_DEFAULT_SCRAPE_MS = 60_000;

/**
 * The global scrape interval in the YAML that /api/v1/status/config returns. Prometheus fills
 * in its defaults there, so a missing key means its default of 1m. Per-job intervals are not
 * used: which job scrapes the mesh's metrics is not known here, and the global one is what a
 * job without its own setting inherits. undefined when the text is not a config.
 */
export function scrapeIntervalFromConfig(yamlText: string): number | undefined {
  let doc: unknown;
  try {
    doc = parse(yamlText);
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null) return undefined;
  const global = (doc as { global?: unknown }).global;
  if (global === undefined || global === null) return PROMETHEUS_DEFAULT_SCRAPE_MS;
  if (typeof global !== 'object') return undefined;
  const raw = (global as { scrape_interval?: unknown }).scrape_interval;
  if (raw === undefined) return PROMETHEUS_DEFAULT_SCRAPE_MS;
  return typeof raw === 'string' ? parsePromDuration(raw) : undefined;
}

/** The scrape interval from a /api/v1/status/config response body; undefined when unreadable. */
export function scrapeIntervalFromResponse(body: unknown): number | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const { status, data } = body as { status?: unknown; data?: { yaml?: unknown } };
  if (status !== 'success' || typeof data?.yaml !== 'string') return undefined;
  return scrapeIntervalFromConfig(data.yaml);
}

export interface ScrapeIntervalSource {
  /** Milliseconds between scrapes, or undefined when the config cannot be read (403, old versions, down). */
  get(address: string): Promise<number | undefined>;
}

export interface ScrapeIntervalCacheOptions {
  /** How long an answer (or a failure to get one) is kept. Default 5 minutes. */
  ttlMs?: number;
  /** Most addresses kept: tenants choose addresses, so the map must not grow with them. Default 64. */
  maxEntries?: number;
  /** Per request. Default 3 s: a run start waits on it. */
  timeoutMs?: number;
  /** Largest config body read. Default 4 MiB. */
  maxBytes?: number;
  now?: () => number;
  fetch?: typeof fetch;
}

/**
 * Scrape intervals per Prometheus address, cached with a TTL and bounded (oldest entry out).
 * Failures are cached too, so an address that answers 403 is not asked on every run start.
 */
export class ScrapeIntervalCache implements ScrapeIntervalSource {
  private readonly cache: TtlCache<number | undefined>;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly fetchFn: typeof fetch;

  constructor(opts: ScrapeIntervalCacheOptions = {}) {
    this.cache = new TtlCache({
      ttlMs: opts.ttlMs ?? 5 * 60_000,
      maxEntries: opts.maxEntries ?? 64,
      now: opts.now ?? Date.now,
    });
    this.timeoutMs = opts.timeoutMs ?? 3000;
    this.maxBytes = opts.maxBytes ?? 4 * 1024 * 1024;
    this.fetchFn = opts.fetch ?? fetch;
  }

  get size(): number {
    return this.cache.size;
  }

  get(address: string): Promise<number | undefined> {
    return this.cache.get(address, () => this.read(address));
  }

  private async read(address: string): Promise<number | undefined> {
    const { endpoint, auth } = splitCredentials(address);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (auth) {
      headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
    }
    try {
      const res = await this.fetchFn(`${endpoint.replace(/\/+$/, '')}/api/v1/status/config`, {
        headers,
        // A tenant's address must not bounce the controller's credentials elsewhere.
        redirect: 'error',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      if (!res.ok) return undefined;
      const text = await readCapped(res, this.maxBytes);
      return text === undefined ? undefined : scrapeIntervalFromResponse(JSON.parse(text));
    } catch {
      // Unreachable, slow or not Prometheus: keep today's behaviour and say nothing.
      return undefined;
    }
  }
}

/** The body as text, or undefined once it passes maxBytes (read no further than that). */
async function readCapped(res: Response, maxBytes: number): Promise<string | undefined> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
