// One look of a compareToStable metric: query canary and stable counts since the run started,
// judge them, and say in words and numbers why.
import type { RunMetric } from '../../crds/index.ts';
import type { MeasurementPhase } from '../../machines/analysis-run.ts';
import { flavourOf } from '../flavour.ts';
import type { MetricProvider } from '../provider.ts';
import { normalise } from './histogram.ts';
import {
  type Common,
  type Comparison,
  compareErrors,
  compareLatencyDistribution,
  compareLatencyP99,
  type Verdict,
} from './judge.ts';
import { bucketsOf, errorCounts, sideOf, withWindow } from './queries.ts';

export const DEFAULT_CONFIDENCE = 0.99;
export const DEFAULT_MIN_REQUESTS = 100;
export const DEFAULT_POWER = 0.9;

const PHASE: Record<Verdict, MeasurementPhase> = {
  worse: 'Failed',
  notWorse: 'Successful',
  undecided: 'Inconclusive',
  tooFewRequests: 'Inconclusive',
};

export interface Look {
  phase: MeasurementPhase;
  value: string;
  message: string;
  comparison: Comparison;
}

/** Judges the samples of one look (pure: the provider call is in `look`). */
export function judgeSamples(metric: RunMetric, samples: Parameters<typeof errorCounts>[0]): Look {
  const c = metric.compare;
  if (!c) throw new Error(`metric ${metric.name} is not a compareToStable metric`);
  // A run stored before `power` existed is judged by the default rule too.
  const common: Common = {
    alpha: 1 - c.confidence,
    minRequests: c.minRequests,
    power: c.power ?? DEFAULT_POWER,
  };
  // Runs stored before subset routing have no revisions: their sides are Service names.
  const canarySide = sideOf(c.canaryService, c.canaryRevision);
  const stableSide = sideOf(c.stableService, c.stableRevision);
  const flavour = flavourOf(metric.builtinMetrics);
  let comparison: Comparison;
  if (metric.builtin === 'compareErrors') {
    comparison = compareErrors(
      errorCounts(samples, canarySide, flavour),
      errorCounts(samples, stableSide, flavour),
      {
        ...(c.maxIncreasePoints === undefined ? {} : { maxIncreasePoints: c.maxIncreasePoints }),
        ...(c.maxIncreasePercent === undefined ? {} : { maxIncreasePercent: c.maxIncreasePercent }),
      },
      common,
    );
  } else {
    const canary = normalise(bucketsOf(samples, canarySide, flavour));
    const stable = normalise(bucketsOf(samples, stableSide, flavour));
    comparison =
      metric.builtin === 'compareLatencyP99'
        ? compareLatencyP99(canary, stable, c.maxIncreasePercent ?? 0, common)
        : compareLatencyDistribution(canary, stable, c.maxShiftPoints ?? 0, common);
  }
  const side = c.baseline === true ? 'baseline' : 'stable';
  return { phase: PHASE[comparison.verdict], ...describe(comparison, c.minRequests, side) };
}

export async function look(
  metric: RunMetric,
  provider: MetricProvider,
  now: number,
  windowMs: number,
): Promise<Look> {
  const samples = await provider.series(withWindow(metric.provider.prometheus?.query ?? '', windowMs), {
    at: new Date(now),
  });
  return judgeSamples(metric, samples);
}

const n = (x: number) => String(Math.round(x));

function describe(
  c: Comparison,
  minRequests: number,
  /** What the other side is called: the stable, or the canary's fresh baseline. */
  side: 'stable' | 'baseline',
): { value: string; message: string; comparison: Comparison } {
  const arms = `canary ${n(c.canary.requests)} requests, ${side} ${n(c.stable.requests)}`;
  let value: string;
  if (c.test === 'errors') value = `canary ${c.canary.value}% vs ${side} ${c.stable.value}% errors`;
  else if (c.test === 'latencyP99')
    value = `p99 canary ${c.canary.value ?? '?'} ms vs ${side} ${c.stable.value ?? '?'} ms`;
  else value = `p50 canary ${c.canary.value ?? '?'} ms vs ${side} ${c.stable.value ?? '?'} ms`;
  const what =
    c.test === 'errors'
      ? 'error increase'
      : c.test === 'latencyP99'
        ? `share of canary requests slower than ${c.atMs} ms`
        : `excess share of canary requests slower than ${c.atMs} ms`;
  const bounds = `${what} ${c.estimate} points, between ${c.lower} and ${c.upper} with confidence ${c.required}; allowed ${c.margin}`;
  const reached = `confidence reached ${c.confidence}`;
  // Why a pass is a pass: the chance a regression of the configured size had of being caught.
  const power = `a regression of ${c.regression} points would have been caught with probability ${c.power} (need ${c.powerRequired})`;
  const message = {
    worse: `canary worse than ${side}: ${bounds} (${reached}; ${arms})`,
    // A pass on power says the power; a pass on the bounds (the canary confidently within the
    // allowed increase) is the stronger statement and says the confidence.
    notWorse:
      c.power >= c.powerRequired
        ? `canary not worse than ${side}: ${bounds}; ${power} (${arms})`
        : `canary not worse than ${side}: ${bounds} (${reached}; ${arms})`,
    undecided: `undecided so far: ${bounds} (${reached}); ${power} (${arms})`,
    tooFewRequests: `too few requests to judge yet (${arms}; need ${minRequests} each)`,
  }[c.verdict];
  return { value, message, comparison: c };
}
