// Canary versus stable over the same window: is the canary worse by at least the practical
// effect, with the configured confidence? Each judgement returns the numbers behind it so a
// person can check the verdict. Pure: counts in, a Comparison out.
import {
  confidenceAgainst,
  type Interval,
  interval,
  proportion,
  proportionDifference,
  tailBound,
} from './confidence.ts';
import { type Bucket, countAbove, quantile, totalOf } from './histogram.ts';

export type CompareTest = 'errors' | 'latencyP99' | 'latencyDistribution';

/**
 * worse: the canary is worse by at least the effect, with the required confidence (fail).
 * notWorse: confidently not worse by the effect (may pass early).
 * undecided: not enough evidence either way yet. tooFewRequests: below minRequests.
 */
export type Verdict = 'worse' | 'notWorse' | 'undecided' | 'tooFewRequests';

export interface Arm {
  requests: number;
  /** errors: error percent; latency: p99 in ms. */
  value?: number;
}

export interface Comparison {
  test: CompareTest;
  verdict: Verdict;
  canary: Arm;
  stable: Arm;
  /** The compared quantity in percent points, its always-valid interval, and the allowed effect. */
  estimate: number;
  lower: number;
  upper: number;
  margin: number;
  /** (estimate − margin) / standard error. */
  statistic: number;
  /** Confidence reached against the margin, in the estimate's direction (0–1). */
  confidence: number;
  required: number;
  /** Latency tests: the latency (ms) at which canary and stable were compared. */
  atMs?: number;
}

export interface ErrorCounts {
  requests: number;
  errors: number;
}

export interface Common {
  /** 1 − confidence: the chance, over the whole release, of calling a canary worse when it is not. */
  alpha: number;
  /** Below this many requests in either arm the verdict is tooFewRequests. */
  minRequests: number;
}

/** Mixture widths (see confidence.ts), fixed in advance: tuning them on the data would void the guarantee. */
const TAU = { errors: 0.005, share: 0.005 };

const points = (x: number) => Math.round(x * 1e6) / 1e4;
const rounded = (x: number, digits = 4) => Math.round(x * 10 ** digits) / 10 ** digits;

function verdictOf(iv: Interval, margin: number): Verdict {
  if (iv.lower > margin) return 'worse';
  if (iv.upper < margin) return 'notWorse';
  return 'undecided';
}

function comparison(
  test: CompareTest,
  iv: Interval,
  margin: number,
  tau: number,
  common: Common,
  canary: Arm,
  stable: Arm,
  verdict: Verdict,
  atMs?: number,
): Comparison {
  const sd = Math.sqrt(iv.variance);
  return {
    test,
    verdict,
    canary,
    stable,
    estimate: points(iv.estimate),
    lower: points(iv.lower),
    upper: points(iv.upper),
    margin: points(margin),
    statistic: rounded(sd > 0 ? (iv.estimate - margin) / sd : 0, 3),
    confidence: rounded(confidenceAgainst(iv.estimate, iv.variance, margin, tau)),
    required: rounded(1 - common.alpha),
    ...(atMs === undefined ? {} : { atMs: rounded(atMs, 2) }),
  };
}

const tooFew = (c: number, s: number, common: Common) => c < common.minRequests || s < common.minRequests;

export interface ErrorEffect {
  /** Worse when the canary's error percent exceeds the stable's by this many points. */
  maxIncreasePoints?: number;
  /** Worse when the canary's error ratio exceeds the stable's by this many percent of it. */
  maxIncreasePercent?: number;
}

/**
 * Error ratios. With both effects set the canary is worse only when it is worse by both (and
 * not worse as soon as either says so): a stable at 0.01% and a canary at 0.03% is three
 * times worse but only 0.02 points, which is noise to most services.
 */
export function compareErrors(
  canary: ErrorCounts,
  stable: ErrorCounts,
  effect: ErrorEffect,
  common: Common,
): Comparison {
  const arms = {
    canary: { requests: canary.requests, value: pct(canary.errors, canary.requests) },
    stable: { requests: stable.requests, value: pct(stable.errors, stable.requests) },
  };
  const parts: { iv: Interval; margin: number }[] = [];
  const diff = proportionDifference(canary.errors, canary.requests, stable.errors, stable.requests);
  if (effect.maxIncreasePoints !== undefined) {
    parts.push({
      iv: interval(diff.estimate, diff.variance, common.alpha, TAU.errors),
      margin: effect.maxIncreasePoints / 100,
    });
  }
  if (effect.maxIncreasePercent !== undefined) {
    // p_c − (1 + r) p_s > 0 ⇔ the canary's ratio is more than (1 + r) times the stable's.
    const k = 1 + effect.maxIncreasePercent / 100;
    const c = proportion(canary.errors, canary.requests);
    const s = proportion(stable.errors, stable.requests);
    parts.push({
      iv: interval(c.estimate - k * s.estimate, c.variance + k * k * s.variance, common.alpha, TAU.errors),
      margin: 0,
    });
  }
  if (parts.length === 0)
    throw new Error('compareToStable.errors needs maxIncreasePoints or maxIncreasePercent');
  const verdicts = parts.map((p) => verdictOf(p.iv, p.margin));
  let verdict: Verdict = 'undecided';
  if (verdicts.every((v) => v === 'worse')) verdict = 'worse';
  else if (verdicts.includes('notWorse')) verdict = 'notWorse';
  if (tooFew(canary.requests, stable.requests, common)) verdict = 'tooFewRequests';
  // Show the part that is furthest from deciding "worse": it is the one holding the verdict.
  const shown = parts.reduce((a, b) => (b.iv.lower - b.margin < a.iv.lower - a.margin ? b : a));
  return comparison('errors', shown.iv, shown.margin, TAU.errors, common, arms.canary, arms.stable, verdict);
}

const pct = (hits: number, total: number) => (total > 0 ? rounded((100 * hits) / total) : 0);

/** One side of a latency comparison: its requests and its q-quantile, when it has any. */
function armAt(buckets: readonly Bucket[], q: number): Arm {
  const value = quantile(buckets, q);
  return { requests: totalOf(buckets), ...(value === undefined ? {} : { value: rounded(value, 2) }) };
}

/**
 * p99: the canary's p99 exceeds (1 + pct) × the stable's p99 exactly when more than 1% of
 * canary requests are slower than that latency. So the test is on that share, against 1%.
 * The stable's p99 is itself an estimate: the failing side uses an upper confidence bound of
 * it (a higher bar) and the passing side a lower one.
 */
export function compareLatencyP99(
  canary: readonly Bucket[],
  stable: readonly Bucket[],
  maxIncreasePercent: number,
  common: Common,
): Comparison {
  const nc = totalOf(canary);
  const ns = totalOf(stable);
  const arms = { canary: armAt(canary, 0.99), stable: armAt(stable, 0.99) };
  const factor = 1 + maxIncreasePercent / 100;
  const slack = tailBound(common.alpha) * Math.sqrt((0.99 * 0.01) / Math.max(ns, 1));
  const high = (quantile(stable, Math.min(0.99 + slack, 1)) ?? 0) * factor;
  const low = (quantile(stable, Math.max(0.99 - slack, 0)) ?? 0) * factor;
  const failing = proportion(countAbove(canary, high), nc);
  const passing = proportion(countAbove(canary, low), nc);
  const ivFail = interval(failing.estimate, failing.variance, common.alpha, TAU.share);
  const ivPass = interval(passing.estimate, passing.variance, common.alpha, TAU.share);
  let verdict: Verdict = 'undecided';
  if (ivFail.lower > 0.01) verdict = 'worse';
  else if (ivPass.upper < 0.01) verdict = 'notWorse';
  if (tooFew(nc, ns, common)) verdict = 'tooFewRequests';
  return comparison('latencyP99', ivFail, 0.01, TAU.share, common, arms.canary, arms.stable, verdict, high);
}

/**
 * The whole distribution through the buckets: at every bucket bound, the share of canary
 * requests slower than it minus the stable's share. Worse when at some bound the canary's
 * share is higher by more than the margin; not worse when at no bound it can be. Each bound
 * gets alpha / bounds (Bonferroni), so the family keeps the configured level.
 */
export function compareLatencyDistribution(
  canary: readonly Bucket[],
  stable: readonly Bucket[],
  maxShiftPoints: number,
  common: Common,
): Comparison {
  const nc = totalOf(canary);
  const ns = totalOf(stable);
  const margin = maxShiftPoints / 100;
  const bounds = canary.map((b) => b.le).filter((le) => Number.isFinite(le));
  const alpha = common.alpha / Math.max(1, bounds.length);
  let worst: { iv: Interval; le: number } | undefined;
  let allBelow = bounds.length > 0;
  for (const le of bounds) {
    const d = proportionDifference(countAbove(canary, le), nc, countAbove(stable, le), ns);
    const iv = interval(d.estimate, d.variance, alpha, TAU.share);
    if (!worst || iv.lower > worst.iv.lower) worst = { iv, le };
    if (iv.upper >= margin) allBelow = false;
  }
  const iv = worst?.iv ?? interval(0, 1, alpha, TAU.share);
  let verdict: Verdict = 'undecided';
  if (iv.lower > margin) verdict = 'worse';
  else if (allBelow) verdict = 'notWorse';
  if (tooFew(nc, ns, common)) verdict = 'tooFewRequests';
  const arms = { canary: armAt(canary, 0.5), stable: armAt(stable, 0.5) };
  return comparison(
    'latencyDistribution',
    iv,
    margin,
    TAU.share,
    { ...common, alpha },
    arms.canary,
    arms.stable,
    verdict,
    worst?.le,
  );
}
