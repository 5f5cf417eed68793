// Taking one measurement, and deciding when the next one is due. Pure apart from the
// provider call; the clock comes in as `now`.
import type {
  AbsoluteDetails,
  AnalysisRun,
  ComparisonDetails,
  MetricResult,
  RunMetric,
  WebProvider,
} from '../crds/index.ts';
import { DEFAULTS, parseDuration } from '../crds/index.ts';
import { answered, type MeasurementPhase } from '../machines/analysis-run.ts';
import { lookAbsolute } from './absolute-look.ts';
import { judge } from './cel-conditions.ts';
import { look } from './compare/measure.ts';
import {
  type AnalysisPolicy,
  effectiveTimeoutMs,
  MIN_INTERVAL_MS,
  policyProblem,
  tenantAddress,
} from './policy.ts';
import { DEFAULT_TIMEOUT_MS, ProviderError, type ProviderPool } from './provider.ts';
import { DEFAULT_WEB_TIMEOUT_SECONDS, measureWeb } from './web.ts';

export interface Taken {
  metric: string;
  phase: MeasurementPhase;
  value?: string;
  /** Only set when the value is a single number: for the last-value gauge. */
  number?: number;
  message?: string;
  /** The provider never answered (connection refused, timeout). */
  unreachable?: boolean;
  /** compareToStable: the numbers behind the verdict. */
  comparison?: ComparisonDetails;
  /** successRate / latencyP99: the numbers behind the verdict. */
  absolute?: AbsoluteDetails;
  /** The stable broke the same threshold in the same window: not the canary's fault. */
  sharedIncident?: true;
  /** The full error text behind a short message (tenant-named address): for the log, never status. */
  detail?: string;
}

export async function takeMeasurement(
  metric: RunMetric,
  providers: ProviderPool,
  policy: AnalysisPolicy,
  now: number,
  /** When the run started: compareToStable looks at everything since its initialDelay ended. */
  since = now,
): Promise<Taken> {
  if (metric.provider.web) return measureWebMetric(metric, metric.provider.web, policy);
  const prom = metric.provider.prometheus;
  if (!prom) {
    // A Job metric needs the API server: the runner measures it (controller/analysis/jobs.ts).
    return { metric: metric.name, phase: 'Error', message: 'this metric is not measured by a query' };
  }
  const address = prom.address ?? policy.defaultAddress;
  if (!address) {
    return {
      metric: metric.name,
      phase: 'Error',
      message:
        'no Prometheus address: set provider.prometheus.address or start the controller with --prometheus-url',
    };
  }
  // The runner refuses such a run before measuring; this keeps any other caller from sending
  // a request the policy forbids.
  const problem = policyProblem(metric, policy);
  if (problem) return { metric: metric.name, phase: 'Error', message: problem };
  const timeoutMs = effectiveTimeoutMs(prom.timeout, DEFAULT_TIMEOUT_MS, policy);
  const provider = providers.get(address, timeoutMs, tenantAddress(prom.address, policy));
  try {
    if (metric.compare) {
      const windowMs = evidenceWindowMs(metric, since, now);
      return { metric: metric.name, ...(await look(metric, provider, now, windowMs)) };
    }
    if (metric.absolute) return { metric: metric.name, ...(await lookAbsolute(metric, provider, now)) };
    // A builtin written into a run before it was judged on counts still measures as it was written.
    const result = await provider.query(prom.query, {
      at: new Date(now),
      expect: metric.builtin ? 'scalar' : 'any',
    });
    const verdict = judge(metric, result);
    return {
      metric: metric.name,
      ...verdict,
      ...(result.kind === 'value' ? { number: result.value } : {}),
    };
  } catch (err) {
    return errorTaken(metric.name, err, prom.query);
  }
}

async function measureWebMetric(metric: RunMetric, web: WebProvider, policy: AnalysisPolicy): Promise<Taken> {
  const problem = policyProblem(metric, policy);
  if (problem) return { metric: metric.name, phase: 'Error', message: problem };
  const seconds = web.timeoutSeconds ?? DEFAULT_WEB_TIMEOUT_SECONDS;
  const timeoutMs = Math.min(seconds * 1000, policy.maxTimeoutMs);
  try {
    const result = await measureWeb(web, timeoutMs);
    return {
      metric: metric.name,
      ...judge(metric, result),
      ...(result.kind === 'value' ? { number: result.value } : {}),
    };
  } catch (err) {
    return errorTaken(metric.name, err, web.url);
  }
}

/** A measurement that could not be taken, with the full text kept for the log only. */
function errorTaken(metric: string, err: unknown, query: string): Taken {
  const e = err instanceof ProviderError ? err : new ProviderError(String(err), query, false);
  return {
    metric,
    phase: 'Error',
    message: e.message,
    unreachable: e.unreachable,
    ...(e.detail !== undefined && e.detail !== e.message ? { detail: e.detail } : {}),
  };
}

const ms = (iso: string | undefined): number | undefined => {
  if (!iso) return undefined;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : t;
};

/** Never under a second, even for a run written before the schema said so: no hot loop. */
export const intervalMs = (m: RunMetric): number =>
  Math.max(MIN_INTERVAL_MS, parseDuration(m.interval ?? DEFAULTS.interval));

/** When the run began counting: its creation (second precision) or its first measurement. */
export function runStart(run: AnalysisRun): number {
  return ms(run.metadata.creationTimestamp) ?? ms(run.status?.startedAt) ?? 0;
}

/**
 * Where compareToStable's evidence starts: the first run of this gate in this attempt, else
 * the moment this run's canary first had traffic (requests before that were not the canary's).
 */
export function evidenceStart(run: AnalysisRun): number {
  return ms(run.spec.evidenceSince) ?? ms(run.status?.trafficSince) ?? runStart(run);
}

/** A re-run of a gate (after a pause, `kubectl sluice resume`) is named `<first run>-r<n>`. */
const firstRunName = (name: string) => name.replace(/-r\d+$/, '');

/**
 * The evidenceSince for a new run: the start of the earliest earlier run of the same gate in
 * the same attempt, when one is still there. The mSPRT's guarantee holds however many looks
 * are taken, so carrying the counts across a pause costs no confidence, and a release held as
 * "undecided" gets its verdict from all the evidence instead of starting from none. A new
 * attempt (retry, new revision) starts afresh: its runs have another name.
 */
export function evidenceSinceFor(name: string, earlier: AnalysisRun[]): string | undefined {
  const first = firstRunName(name);
  let since: number | undefined;
  for (const run of earlier) {
    if (run.metadata.name === name || firstRunName(run.metadata.name ?? '') !== first) continue;
    const start = evidenceStart(run);
    if (start > 0 && (since === undefined || start < since)) since = start;
  }
  return since === undefined ? undefined : new Date(since).toISOString();
}

const initialDelayMs = (metric: RunMetric): number =>
  metric.initialDelay ? parseDuration(metric.initialDelay) : 0;

/**
 * What a compareToStable look counts: everything since the run's initialDelay ended, at least
 * one interval. initialDelay is the user saying "ignore the warm-up": a canary's first seconds
 * (pods turning ready, caches filling) are not evidence against it.
 */
export function evidenceWindowMs(metric: RunMetric, runStart: number, now: number): number {
  return Math.max(intervalMs(metric), now - (runStart + initialDelayMs(metric)));
}

/**
 * When `metric` is next due, or undefined when it takes no more measurements (count answers
 * reached, or decided): a query that errored is retried, it does not use up the count. The first measurement waits initialDelay from `start`, when the canary's traffic began
 * (analysis/traffic-start.ts); each next one an interval after the previous one finished.
 */
export function nextDueAt(
  metric: RunMetric,
  result: MetricResult | undefined,
  start: number,
): number | undefined {
  if (result && result.phase !== 'Pending' && result.phase !== 'Running') return undefined;
  if (metric.count && result && answered(result) >= metric.count) return undefined;
  const last = result?.measurements.at(-1);
  const lastAt = ms(last?.finishedAt ?? last?.startedAt);
  if (lastAt === undefined) return start + initialDelayMs(metric);
  return lastAt + intervalMs(metric);
}
