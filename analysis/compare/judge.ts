// Canary versus stable over the same window: is the canary worse by at least the practical
// effect, with the configured confidence? Each judgement returns the numbers behind it so a
// person can check the verdict. Pure: counts in, a Comparison out.

import {
  type ComparedArm,
  type CompareToStable,
  type ComparisonDetails,
  ERRORS_NEEDS_AN_EFFECT,
} from '../../crds/index.ts';
import {
  confidenceAgainst,
  type Interval,
  interval,
  lowProportion,
  powerAt,
  proportion,
  proportionDifference,
  tailBound,
} from './confidence.ts';
import { type Bucket, countAbove, quantile, totalOf } from './histogram.ts';

/** What a check is (errors, latencyP99, latencyDistribution) and its verdicts, as the AnalysisRun records them. */
export type CompareTest = ComparisonDetails['test'];
/**
 * worse: the canary is worse by more than the allowed increase, with the required confidence (fail).
 * notWorse: passes: either a regression of the configured size (REGRESSION × the allowed
 * increase) would have been caught by now with the required power and was not, or the canary
 * is confidently within the allowed increase.
 * undecided: not enough evidence either way yet. tooFewRequests: below minRequests.
 */
export type Verdict = ComparisonDetails['verdict'];
export type Arm = ComparedArm;
/** A judgement always states its power; the record's fields are optional for runs written before it did. */
export type Comparison = ComparisonDetails &
  Required<Pick<ComparisonDetails, 'power' | 'powerRequired' | 'regression'>>;

/**
 * The regression a check must catch with the stated power before it passes, as a multiple of
 * its allowed increase. It must sit above the allowed increase: a canary exactly at the allowed
 * increase may be rolled back at most 1 − confidence of the time, so it cannot also be caught
 * 90% of the time. Twice leaves room between the two (bench/RESULTS.md, Detection quality).
 */
export const REGRESSION = 2;

export interface ErrorCounts {
  requests: number;
  errors: number;
}

export interface Common {
  /** 1 − confidence: the chance, over the whole release, of calling a canary worse when it is not. */
  alpha: number;
  /**
   * The chance a regression of the configured size must have had of being caught before the
   * check passes; 1 − power is the chance of promoting one. Absent: pass only on bounds.
   */
  power?: number;
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

/** Worse beats everything; then a pass on bounds or on power; then too few requests. */
function decide(bounds: Verdict, power: number, common: Common, tooFewRequests: boolean): Verdict {
  if (tooFewRequests) return 'tooFewRequests';
  if (bounds === 'worse') return 'worse';
  if (bounds === 'notWorse') return 'notWorse';
  return common.power !== undefined && power >= common.power ? 'notWorse' : 'undecided';
}

interface Power {
  power: number;
  /** The regression's distance from the stable, in the compared quantity. */
  regression: number;
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
  power: Power,
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
    power: rounded(power.power),
    powerRequired: common.power ?? 1,
    regression: points(power.regression),
    ...(atMs === undefined ? {} : { atMs: rounded(atMs, 2) }),
  };
}

const tooFew = (c: number, s: number, common: Common) => c < common.minRequests || s < common.minRequests;

export type ErrorEffect = NonNullable<CompareToStable['errors']>;

/**
 * Power of the errors check against its configured regression: the canary's error ratio at
 * REGRESSION × the allowed increase over the stable's (with both effects, over both: the larger
 * of the two ratios). Counts may be expected rather than seen (detectable.ts): the stable's
 * ratio is read low (lowProportion) either way, so the two agree. With both effects the canary
 * is called worse only when both parts say so: P(both) ≥ P₁ + P₂ − 1.
 */
export function errorsPower(
  canaryRequests: number,
  stableRequests: number,
  stableErrors: number,
  effect: ErrorEffect,
  alpha: number,
): Power {
  const ps = lowProportion(stableErrors, stableRequests);
  const targets: number[] = [];
  if (effect.maxIncreasePoints !== undefined)
    targets.push(ps + (REGRESSION * effect.maxIncreasePoints) / 100);
  if (effect.maxIncreasePercent !== undefined)
    targets.push(ps * (1 + (REGRESSION * effect.maxIncreasePercent) / 100));
  const pc = Math.min(1, Math.max(...targets));
  const canaryVar = (n: number) => (pc * (1 - pc)) / n;
  let shortfall = 0;
  if (effect.maxIncreasePoints !== undefined) {
    const v = canaryVar(canaryRequests + 2) + (ps * (1 - ps)) / (stableRequests + 2);
    shortfall += 1 - powerAt(pc - ps - effect.maxIncreasePoints / 100, v, alpha, TAU.errors);
  }
  if (effect.maxIncreasePercent !== undefined) {
    const k = 1 + effect.maxIncreasePercent / 100;
    const v = canaryVar(canaryRequests + 4) + (k * k * ps * (1 - ps)) / (stableRequests + 4);
    shortfall += 1 - powerAt(pc - k * ps, v, alpha, TAU.errors);
  }
  return { power: Math.max(0, 1 - shortfall), regression: pc - ps };
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
  if (parts.length === 0) throw new Error(`compareToStable.${ERRORS_NEEDS_AN_EFFECT.message}`);
  const verdicts = parts.map((p) => verdictOf(p.iv, p.margin));
  let bounds: Verdict = 'undecided';
  if (verdicts.every((v) => v === 'worse')) bounds = 'worse';
  else if (verdicts.includes('notWorse')) bounds = 'notWorse';
  const power = errorsPower(canary.requests, stable.requests, stable.errors, effect, common.alpha);
  const verdict = decide(bounds, power.power, common, tooFew(canary.requests, stable.requests, common));
  // Show the part that is furthest from deciding "worse": it is the one holding the verdict.
  const shown = parts.reduce((a, b) => (b.iv.lower - b.margin < a.iv.lower - a.margin ? b : a));
  return comparison(
    'errors',
    shown.iv,
    shown.margin,
    TAU.errors,
    common,
    arms.canary,
    arms.stable,
    verdict,
    power,
  );
}

const pct = (hits: number, total: number) => (total > 0 ? rounded((100 * hits) / total) : 0);

/** One side of a latency comparison: its requests and its q-quantile, when it has any. */
function armAt(buckets: readonly Bucket[], q: number): Arm {
  const value = quantile(buckets, q);
  return { requests: totalOf(buckets), ...(value === undefined ? {} : { value: rounded(value, 2) }) };
}

/** The share of requests a p99 leaves above it: the latencyP99 check's allowed share of slow requests. */
export const P99_TAIL = 0.01;

/**
 * Power of the latencyP99 check against a canary with `slow` (0–1) of its requests slower than
 * the bar. The configured regression is REGRESSION × P99_TAIL, in the test's own terms (2%
 * slower than (1 + pct) × the stable's p99), not "every latency stretched": what a stretch does
 * to that share depends on the shape inside Istio's wide buckets (100, 250, 500 ms), which the
 * histogram does not show. Only the canary's count enters, so expected counts (detectable.ts)
 * give the judge's own number.
 */
export function slowSharePower(canaryRequests: number, slow: number, alpha: number): Power {
  return {
    power: powerAt(slow - P99_TAIL, (slow * (1 - slow)) / (canaryRequests + 4), alpha, TAU.share),
    regression: slow,
  };
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
  let bounds: Verdict = 'undecided';
  if (ivFail.lower > P99_TAIL) bounds = 'worse';
  else if (ivPass.upper < P99_TAIL) bounds = 'notWorse';
  const power = slowSharePower(nc, REGRESSION * P99_TAIL, common.alpha);
  const verdict = decide(bounds, power.power, common, tooFew(nc, ns, common));
  return comparison(
    'latencyP99',
    ivFail,
    P99_TAIL,
    TAU.share,
    common,
    arms.canary,
    arms.stable,
    verdict,
    power,
    high,
  );
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
  // The configured regression: REGRESSION × the margin more canary requests slower than some
  // bound. It may sit at any bound, so the power is the least over them.
  let power = bounds.length > 0 ? 1 : 0;
  const shift = REGRESSION * margin;
  for (const le of bounds) {
    const slowStable = countAbove(stable, le);
    const d = proportionDifference(countAbove(canary, le), nc, slowStable, ns);
    const iv = interval(d.estimate, d.variance, alpha, TAU.share);
    if (!worst || iv.lower > worst.iv.lower) worst = { iv, le };
    if (iv.upper >= margin) allBelow = false;
    const ss = (slowStable + 1) / (ns + 2);
    const sc = ss + shift;
    if (sc > 1) continue; // no canary can be that much slower here
    const v = (sc * (1 - sc)) / (nc + 2) + (ss * (1 - ss)) / (ns + 2);
    power = Math.min(power, powerAt(shift - margin, v, alpha, TAU.share));
  }
  const iv = worst?.iv ?? interval(0, 1, alpha, TAU.share);
  let verdict: Verdict = 'undecided';
  if (iv.lower > margin) verdict = 'worse';
  else if (allBelow) verdict = 'notWorse';
  verdict = decide(verdict, power, common, tooFew(nc, ns, common));
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
    { power, regression: shift },
    worst?.le,
  );
}
