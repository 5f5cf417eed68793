// What a compareToStable errors check can see before it runs: from the traffic a service
// usually has, the smallest regression it would catch with the stated power in a given time,
// and the time it needs for a given one. The same rule as the judge (judge.ts errorsPower on
// expected counts), so changing the rule changes both.
import { errorsPower, REGRESSION } from './judge.ts';

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

function powerAfter(t: ExpectedTraffic, seconds: number, increasePercent: number, cfg: PowerConfig): number {
  const nc = t.canaryRps * seconds;
  const ns = t.stableRps * seconds;
  if (nc < cfg.minRequests || ns < cfg.minRequests) return 0;
  return errorsPower(
    nc,
    ns,
    t.errorRatio * ns,
    { maxIncreasePercent: allowedIncreaseFor(increasePercent) },
    1 - cfg.confidence,
  ).power;
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
  const catches = (x: number) => powerAfter(t, seconds, x, cfg) >= cfg.power;
  // Power is not monotone in the increase: a large allowed increase k also multiplies the
  // stable's noise by k. So walk up in 5% steps to the first increase caught, then bisect.
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
  while (hi - lo > Math.max(0.05, hi * 1e-4)) {
    const mid = (lo + hi) / 2;
    if (catches(mid)) hi = mid;
    else lo = mid;
  }
  return Math.ceil(hi * 10) / 10;
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
  const catches = (seconds: number) => powerAfter(t, seconds, increasePercent, cfg) >= cfg.power;
  let hi = Math.floor(maxSeconds);
  if (!(hi > 0) || !catches(hi)) return undefined;
  // Power grows with time (more requests in both arms): bisect on whole seconds.
  let lo = 0;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (catches(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}
