// What a compareToStable errors or latencyP99 check can see before it runs: from the traffic a
// service usually has, the smallest regression it would catch with the stated power in a given
// time, and the time it needs for a given one. The same rule as the judge (judge.ts errorsPower
// and slowSharePower on expected counts), so changing the rule changes both.
import { errorsPower, P99_TAIL, REGRESSION, slowSharePower } from './judge.ts';

export interface ExpectedTraffic {
  canaryRps: number;
  stableRps: number;
  /** The stable's usual error ratio (0–1). */
  errorRatio: number;
}

export interface PowerConfig {
  confidence: number;
  power: number;
  minRequests: number;
}

/**
 * The allowed increase (the CRD's `maxIncreasePercent`) whose configured regression is
 * `increasePercent`: the check catches REGRESSION × its allowed increase with the stated power.
 */
export const allowedIncreaseFor = (increasePercent: number): number => increasePercent / REGRESSION;

/** The regression (percent over the stable) a check with this allowed increase promises to catch. */
export const regressionFor = (maxIncreasePercent: number): number => maxIncreasePercent * REGRESSION;

/**
 * Whether the judge's power rule passes after `seconds` of this traffic: below minRequests in
 * either arm it judges nothing; else the check's power on the expected counts.
 */
function caughtAfter(
  t: Pick<ExpectedTraffic, 'canaryRps' | 'stableRps'>,
  seconds: number,
  cfg: PowerConfig,
  power: (canaryRequests: number, stableRequests: number) => number,
): boolean {
  const nc = t.canaryRps * seconds;
  const ns = t.stableRps * seconds;
  if (nc < cfg.minRequests || ns < cfg.minRequests) return false;
  return power(nc, ns) >= cfg.power;
}

/** The errors check's power against a relative increase of `increasePercent`. */
const errorsAt =
  (t: ExpectedTraffic, increasePercent: number, cfg: PowerConfig) => (nc: number, ns: number) =>
    errorsPower(
      nc,
      ns,
      t.errorRatio * ns,
      { maxIncreasePercent: allowedIncreaseFor(increasePercent) },
      1 - cfg.confidence,
    ).power;

/** The latencyP99 check's power against `slowPercent` of canary requests slower than its bar. */
const slowShareAt = (slowPercent: number, cfg: PowerConfig) => (nc: number) =>
  slowSharePower(nc, slowPercent / 100, 1 - cfg.confidence).power;

/**
 * The smallest x in (0, ceiling] that `catches`, rounded up to `decimals`; undefined when none
 * does. Power need not be monotone in the effect (a large allowed increase k also multiplies the
 * stable's noise by k; a share of slow requests near 100% has almost no variance), so walk up in
 * 5% steps to the first one caught, then bisect.
 */
function smallestCaught(
  catches: (x: number) => boolean,
  ceiling: number,
  decimals: number,
): number | undefined {
  const unit = 10 ** decimals;
  let lo = 0;
  let hi = Number.NaN;
  for (let x = 1; x <= ceiling * 1.05; x *= 1.05) {
    const at = Math.min(x, ceiling);
    if (catches(at)) {
      hi = at;
      break;
    }
    lo = at;
  }
  if (Number.isNaN(hi)) return undefined;
  while (hi - lo > Math.max(0.5 / unit, hi * 1e-4)) {
    const mid = (lo + hi) / 2;
    if (catches(mid)) hi = mid;
    else lo = mid;
  }
  return Math.ceil(hi * unit) / unit;
}

/** The first whole second by which `catches`; undefined past `maxSeconds`. Power grows with time. */
function firstSecondCaught(catches: (seconds: number) => boolean, maxSeconds: number): number | undefined {
  let hi = Math.floor(maxSeconds);
  if (!(hi > 0) || !catches(hi)) return undefined;
  let lo = 0;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (catches(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** Above this a relative increase stops meaning much (the canary would fail most requests). */
const MAX_INCREASE_PERCENT = 100_000;

/**
 * Smallest relative error increase (percent, e.g. 25 = 1.25× stable) the compareToStable errors
 * test would catch with the stated power within `seconds`; undefined when none would be (too
 * little traffic).
 */
export function detectableErrorIncrease(
  t: ExpectedTraffic,
  seconds: number,
  cfg: PowerConfig,
): number | undefined {
  const ceiling = Math.min(MAX_INCREASE_PERCENT, t.errorRatio > 0 ? 100 * (1 / t.errorRatio - 1) : 0);
  return smallestCaught((x) => caughtAfter(t, seconds, cfg, errorsAt(t, x, cfg)), ceiling, 1);
}

/**
 * Seconds the errors test needs to catch a relative increase of `increasePercent` with the
 * stated power; undefined when it would take more than `maxSeconds`.
 */
export function secondsToDetect(
  t: ExpectedTraffic,
  increasePercent: number,
  cfg: PowerConfig,
  maxSeconds: number,
): number | undefined {
  return firstSecondCaught((s) => caughtAfter(t, s, cfg, errorsAt(t, increasePercent, cfg)), maxSeconds);
}

/**
 * Smallest share of canary requests slower than the latencyP99 check's bar ((1 + pct) × the
 * stable's p99), percent, that it would catch with the stated power within `seconds`: above the
 * P99_TAIL a p99 allows, so above 1. Undefined when even every request slow is not caught.
 */
export function detectableSlowShare(
  t: Pick<ExpectedTraffic, 'canaryRps' | 'stableRps'>,
  seconds: number,
  cfg: PowerConfig,
): number | undefined {
  const tail = P99_TAIL * 100;
  // In points of a share a tenth is too coarse: at 30,000 canary requests one standard error of
  // a 1.4% share is 0.07 points, so 1.3% and 1.4% differ in power by 0.8 against 0.99.
  const above = smallestCaught(
    (x) => caughtAfter(t, seconds, cfg, slowShareAt(tail + x, cfg)),
    100 - tail,
    2,
  );
  return above === undefined ? undefined : Math.round((tail + above) * 100) / 100;
}

/** Seconds the latencyP99 check needs to catch `slowPercent` of canary requests slower than its bar. */
export function secondsToDetectSlowShare(
  t: Pick<ExpectedTraffic, 'canaryRps' | 'stableRps'>,
  slowPercent: number,
  cfg: PowerConfig,
  maxSeconds: number,
): number | undefined {
  return firstSecondCaught((s) => caughtAfter(t, s, cfg, slowShareAt(slowPercent, cfg)), maxSeconds);
}
