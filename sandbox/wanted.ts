// What a sandbox was asked to be, and how a running one differs from it. Pure: `up` reads what
// runs (Prometheus' config, the API server's flags) and acts on the differences found here.
import { parsePromDuration } from '../analysis/scrape-interval.ts';
import { SandboxError } from './log.ts';

/** The tests and the demo are written for this: a rate over a few seconds finds series. */
export const DEFAULT_SCRAPE_INTERVAL = '1s';

export interface Wanted {
  /** Prometheus' global scrape (and rule evaluation) interval, a Prometheus duration. */
  scrapeInterval: string;
  /** The API server's audit policy (the file's text); undefined: no audit log. */
  auditPolicy?: string;
}

/** What runs, as far as `up` could read it; undefined fields could not be read. */
export interface Running {
  scrapeIntervalMs?: number;
  /** The audit policy the API server was started with: null when it runs without one. */
  auditPolicy?: string | null;
}

export interface Difference {
  part: 'prometheus' | 'cluster';
  /** For a person: what runs and what was asked. */
  say: string;
}

/** Checks a scrape interval given on the command line or to `up()`, naming the option. */
export function checkScrapeInterval(value: string, field = '--scrape-interval'): string {
  const ms = parsePromDuration(value);
  if (ms === undefined)
    throw new SandboxError(`${field} ${JSON.stringify(value)} is not a duration (e.g. 1s, 15s, 1m)`);
  if (ms < 1000 || ms > 5 * 60_000) throw new SandboxError(`${field} ${value} is outside 1s..5m`);
  return value;
}

export function prometheusConfig(w: Wanted, targets: { simulator: string; controller: string }): string {
  return [
    '# Written by sandbox/prometheus.ts on every `up` from what it was asked; edits are overwritten.',
    'global:',
    `  scrape_interval: ${w.scrapeInterval}`,
    `  evaluation_interval: ${w.scrapeInterval}`,
    'scrape_configs:',
    '  - job_name: traffic-simulator',
    '    static_configs:',
    `      - targets: ['${targets.simulator}']`,
    '  - job_name: sluice-controller',
    '    static_configs:',
    `      - targets: ['${targets.controller}']`,
    '',
  ].join('\n');
}

const fmtMs = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);
const normalise = (policy: string) => policy.replace(/\r\n/g, '\n').trim();

/** Parts of a running sandbox that are not what was asked for; unreadable facts count as equal. */
export function differences(running: Running, wanted: Wanted): Difference[] {
  const out: Difference[] = [];
  const wantMs = parsePromDuration(wanted.scrapeInterval);
  if (running.scrapeIntervalMs !== undefined && wantMs !== undefined && running.scrapeIntervalMs !== wantMs) {
    out.push({
      part: 'prometheus',
      say: `Prometheus scrapes every ${fmtMs(running.scrapeIntervalMs)}, asked for ${fmtMs(wantMs)}`,
    });
  }
  if (running.auditPolicy !== undefined) {
    const has = running.auditPolicy === null ? undefined : normalise(running.auditPolicy);
    const want = wanted.auditPolicy === undefined ? undefined : normalise(wanted.auditPolicy);
    if (has !== want) {
      out.push({
        part: 'cluster',
        say:
          want === undefined
            ? 'the API server writes an audit log, asked for none'
            : has === undefined
              ? 'the API server writes no audit log, asked for one'
              : 'the API server audits with a different policy than asked',
      });
    }
  }
  return out;
}

/** The audit policy file a kube-apiserver command line names, if any. */
export function auditPolicyFlag(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a.startsWith('--audit-policy-file=')) return a.slice('--audit-policy-file='.length);
    if (a === '--audit-policy-file') return args[i + 1];
  }
  return undefined;
}
