// One look of a successRate / latencyP99 builtin: the window's counts of the Service under test
// and of the stable one, judged by analysis/absolute.ts, said in words and numbers.
import type { AbsoluteDetails, RunMetric } from '../crds/index.ts';
import type { MeasurementPhase } from '../machines/analysis-run.ts';
import {
  type AbsoluteJudgement,
  type AbsoluteVerdict,
  judgeLatencyP99,
  judgeSuccessRate,
  p99Of,
  type SideShare,
} from './absolute.ts';
import { normalise } from './compare/histogram.ts';
import { bucketsOf, describeSide, errorCounts, sideOf } from './compare/queries.ts';
import { flavourOf } from './flavour.ts';
import type { MetricProvider, Sample } from './provider.ts';

const PHASE: Record<AbsoluteVerdict, MeasurementPhase> = {
  pass: 'Successful',
  fail: 'Failed',
  // Past the threshold without the confidence to blame: shown Inconclusive, but neither a strike
  // nor a pass (machines/analysis-run.ts keeps the metric Pending until a look passes).
  undecided: 'Inconclusive',
  // Neither a pass (never promote during an incident) nor a strike (the canary is not to blame).
  sharedIncident: 'Inconclusive',
  tooFewRequests: 'Inconclusive',
};

export interface AbsoluteLook {
  phase: MeasurementPhase;
  value?: string;
  /** The single number behind value, for the last-value gauge. */
  number?: number;
  message: string;
  absolute: AbsoluteDetails;
  sharedIncident?: true;
}

const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;
const pct = (x: number) => round(100 * x);

/** Judges the samples of one window (pure: the provider call is in `lookAbsolute`). */
export function judgeAbsoluteSamples(metric: RunMetric, samples: readonly Sample[]): AbsoluteLook {
  const a = metric.absolute;
  if (!a) throw new Error(`metric ${metric.name} is not an absolute builtin`);
  const opts = { confidence: a.confidence, minRequests: a.minRequests };
  const flavour = flavourOf(metric.builtinMetrics);
  const canarySide = sideOf(a.canaryService, a.canaryRevision);
  const stableSide = a.stableService === undefined ? undefined : sideOf(a.stableService, a.stableRevision);
  if (metric.builtin === 'latencyP99') {
    const canary = normalise(bucketsOf(samples, canarySide, flavour));
    const stable = stableSide === undefined ? undefined : normalise(bucketsOf(samples, stableSide, flavour));
    const j = judgeLatencyP99(canary, stable, a.maxMs ?? 0, opts);
    const p99 = (b: typeof canary | undefined) => (b ? p99Of(b) : undefined);
    return describe(metric, j, a.maxMs ?? 0, p99(canary), p99(stable));
  }
  const canary = errorCounts(samples, canarySide, flavour);
  const stable = stableSide === undefined ? undefined : errorCounts(samples, stableSide, flavour);
  const j = judgeSuccessRate(canary, stable, a.min ?? 0, opts);
  const rate = (s: { requests: number; errors: number } | undefined) =>
    s && s.requests > 0 ? 100 * (1 - s.errors / s.requests) : undefined;
  return describe(metric, j, a.min ?? 0, rate(canary), rate(stable));
}

export async function lookAbsolute(
  metric: RunMetric,
  provider: MetricProvider,
  now: number,
): Promise<AbsoluteLook> {
  const samples = await provider.series(metric.provider.prometheus?.query ?? '', { at: new Date(now) });
  return judgeAbsoluteSamples(metric, samples);
}

function describe(
  metric: RunMetric,
  j: AbsoluteJudgement,
  threshold: number,
  canaryValue: number | undefined,
  stableValue: number | undefined,
): AbsoluteLook {
  const a = metric.absolute as NonNullable<RunMetric['absolute']>;
  const latency = metric.builtin === 'latencyP99';
  // Success rate: bounds of the success percent (1 − error share); latency: of the slow share.
  const shown = (s: SideShare, value: number | undefined) => ({
    requests: round(s.requests, 0),
    ...(value === undefined ? {} : { value: round(value, 2) }),
    lower: latency ? pct(s.lower) : pct(1 - s.upper),
    upper: latency ? pct(s.upper) : pct(1 - s.lower),
  });
  const absolute: AbsoluteDetails = {
    verdict: j.verdict,
    threshold,
    canary: shown(j.canary, canaryValue),
    ...(j.stable ? { stable: shown(j.stable, stableValue) } : {}),
    confidence: a.confidence,
    minRequests: a.minRequests,
  };
  const c = absolute.canary;
  const what = (side: typeof c) =>
    latency
      ? `p99 ${side.value ?? '?'} ms (${side.lower}–${side.upper}% of ${side.requests} requests slower than ${threshold} ms)`
      : `success rate ${side.value ?? '?'}% (between ${side.lower}% and ${side.upper}% over ${side.requests} requests)`;
  const limit = latency ? `max ${threshold} ms` : `min ${threshold}%`;
  const at = `confidence ${a.confidence}`;
  const stable = absolute.stable ? `stable ${what(absolute.stable)}` : 'no stable to compare with';
  const message = {
    pass: `${what(c)}: within ${limit} at ${at}`,
    fail: `${what(c)}: past ${limit} at ${at}; ${stable}`,
    undecided: `${what(c)}: past ${limit}, but not at ${at}: undecided`,
    sharedIncident: `shared incident: the stable breaks ${limit} too (${stable}; canary ${what(c)}); not the canary's fault at ${at}`,
    // "no data" as a query without series says it: the runner's outage probe waits for data.
    tooFewRequests:
      j.canary.requests > 0
        ? `too few requests to judge: ${round(j.canary.requests, 0)} in the window, need ${a.minRequests}`
        : `no data: no requests to ${describeSide(sideOf(a.canaryService, a.canaryRevision))} in the window`,
  }[j.verdict];
  // A window with fewer canary requests than minRequests after its traffic began is a look that
  // measured too little to say anything (a late scrape, a Prometheus just restarted, a quiet
  // minute), as a query error is: it counts towards consecutiveErrorLimit, not as an
  // inconclusive strike that pauses the release at once. Zero requests and nine are the same
  // kind of look: the chaos watch-cut suite saw three windows of 9 requests pause a healthy one.
  const noData = j.verdict === 'tooFewRequests';
  return {
    phase: noData ? 'Error' : PHASE[j.verdict],
    ...(c.value === undefined ? {} : { value: String(c.value), number: c.value }),
    message,
    absolute,
    ...(j.verdict === 'sharedIncident' ? { sharedIncident: true as const } : {}),
  };
}
