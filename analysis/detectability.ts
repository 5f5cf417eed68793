// What a compareToStable gate can see before it runs: from the traffic of the last hour, the
// canary's share and the time the steps give it, the smallest rise of the error ratio it would
// catch with the stated power, and the time it needs to catch the configured one. Pure: the
// traffic comes in as numbers (analysis/traffic-history.ts asks Prometheus for them).
import type { CompareToStable, Detectability, GateKind, Gates, RolloutSpec } from '../crds/index.ts';
import { DEFAULTS, gatesFor, parseDuration } from '../crds/index.ts';
import { lookBudget } from './compare/budget.ts';
import {
  detectableErrorIncrease,
  type PowerConfig,
  regressionFor,
  secondsToDetect,
} from './compare/detectable.ts';
import { DEFAULT_CONFIDENCE, DEFAULT_MIN_REQUESTS } from './compare/measure.ts';
import { defaultCount } from './resolve.ts';

/** The power a gate states when it does not say (crds/analysis.ts CompareToStable.power). */
export const DEFAULT_POWER = 0.9;

/** Longest time to detect worth searching for: beyond a day the answer is "not in this release". */
export const MAX_SECONDS_TO_DETECT = 86_400;

/** The last hour's traffic to the stable and canary Services together. */
export interface TrafficHistory {
  requestsPerSecond: number;
  /** The stable's error ratio (0–1): the canary's own errors may be the regression. */
  stableErrorRatio: number;
}

/** The time a gate has and the canary's share of traffic over it. */
export interface Horizon {
  seconds: number;
  /** Percent; for a background gate the time-weighted mean over the release's timed steps. */
  canaryWeight: number;
  /** In words, for the basis: "step 3's analysis: 10 looks of 30s at 10% (5m)". */
  what: string;
}

const secondsOf = (d: string | undefined, fallback: string) => parseDuration(d ?? fallback) / 1000;

/**
 * How long a step gate's looks last at most: its first look after initialDelay, then one per
 * interval. A comparison looks for its budget, as resolve gives it; other gates their count.
 */
function lookSeconds(
  gates: Gates,
  progressDeadlineSeconds: number | undefined,
): { seconds: number; looks: number; interval: string } {
  const interval = gates.interval ?? DEFAULTS.interval;
  const planned = gates.compareToStable
    ? lookBudget(gates, 'step', progressDeadlineSeconds).looks
    : defaultCount(gates, 'step');
  const looks = Math.max(1, planned);
  const seconds = secondsOf(gates.initialDelay, interval) + (looks - 1) * secondsOf(interval, interval);
  return { seconds, looks, interval };
}

/**
 * The time the steps allow a gate and the canary's share over it; a string says why there is none.
 * A step gate has its own looks at the weight set before it. A background gate measures from
 * the first step to promotion: the timed pauses and analysis steps, each at its weight (pauses
 * that wait for a person add nothing: how long they last is not known).
 */
export function gateHorizon(spec: RolloutSpec, gate: GateKind, stepIndex?: number): Horizon | string {
  const canary = spec.strategy.canary;
  if (!canary)
    return "a blue-green preview's traffic is not a share of the active Service's, so it cannot be worked out ahead";
  const steps = canary.steps ?? [];
  if (gate === 'step') {
    const step = stepIndex === undefined ? undefined : steps[stepIndex];
    if (!step?.analysis) return 'no analysis step at this index';
    const weight = steps
      .slice(0, stepIndex)
      .reduce((w, s) => (s.setWeight === undefined ? w : s.setWeight), 0);
    if (weight === 0) return `step ${(stepIndex ?? 0) + 1}'s analysis runs while the canary has no traffic`;
    const { seconds, looks, interval } = lookSeconds(step.analysis, spec.progressDeadlineSeconds);
    return {
      seconds,
      canaryWeight: weight,
      what: `step ${(stepIndex ?? 0) + 1}'s analysis: ${looks} looks of ${interval} at ${weight}% (${duration(seconds)})`,
    };
  }
  if (gate !== 'background') return 'only canary gates are worked out ahead';
  let weight = 0;
  let seconds = 0;
  let weighted = 0;
  let open = 0;
  for (const step of steps) {
    if (step.setWeight !== undefined) weight = step.setWeight;
    const d = step.pause
      ? step.pause.duration === undefined
        ? undefined
        : secondsOf(step.pause.duration, '0s')
      : step.analysis
        ? lookSeconds(step.analysis, spec.progressDeadlineSeconds).seconds
        : 0;
    if (d === undefined) {
      if (weight > 0) open++;
      continue;
    }
    seconds += d;
    weighted += d * weight;
  }
  if (weighted === 0) {
    return open
      ? 'the release has no timed pause with canary traffic (its pauses wait for a person)'
      : 'the release gives the canary no traffic during a timed pause';
  }
  const mean = weighted / seconds;
  const plus = open ? ` (plus ${open} pause${open > 1 ? 's' : ''} waiting for a person)` : '';
  return {
    seconds,
    canaryWeight: mean,
    what: `the release's timed steps: ${duration(seconds)} at ${round(mean)}% on average${plus}`,
  };
}

/**
 * The configured regression as a relative rise of the error ratio, percent. maxIncreasePoints
 * is turned relative by the stable's ratio; with both set the canary fails only when worse by
 * both, so the larger one is the effect. undefined: points on a stable with no errors.
 */
export function configuredIncreasePercent(
  errors: NonNullable<CompareToStable['errors']>,
  stableErrorRatio: number,
): number | undefined {
  const relative: number[] = [];
  if (errors.maxIncreasePercent !== undefined) relative.push(errors.maxIncreasePercent);
  if (errors.maxIncreasePoints !== undefined) {
    if (stableErrorRatio <= 0) return undefined;
    relative.push(errors.maxIncreasePoints / stableErrorRatio);
  }
  return relative.length ? Math.max(...relative) : undefined;
}

const round = (n: number) => (n >= 10 ? Math.round(n) : Math.round(n * 10) / 10);

/** 90s, 5m, 1h20m, more than a day. */
export function duration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s > MAX_SECONDS_TO_DETECT) return 'more than a day';
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)}h${m % 60 ? `${m % 60}m` : ''}`;
}

const unknown = (outcome: Detectability['outcome'], message: string, basis = ''): Detectability => ({
  outcome,
  message,
  basis,
});

/**
 * What the gate's errors test can see; undefined when the gate has no errors test (latency
 * tests are not worked out ahead). `traffic` is undefined when Prometheus had nothing to say:
 * `missing` says why, and the answer says so rather than guess.
 */
export function assessGate(
  spec: RolloutSpec,
  gate: GateKind,
  stepIndex: number | undefined,
  traffic: TrafficHistory | { missing: string },
): Detectability | undefined {
  const cmp = gatesFor(spec, gate, stepIndex)?.compareToStable;
  if (!cmp?.errors) return undefined;
  if ('missing' in traffic)
    return unknown('NoTrafficHistory', `cannot say what the gate can see: ${traffic.missing}`);
  const horizon = gateHorizon(spec, gate, stepIndex);
  if (typeof horizon === 'string') return unknown('Unknown', `cannot say what the gate can see: ${horizon}`);
  const power = cmp.power ?? DEFAULT_POWER;
  const cfg: PowerConfig = {
    confidence: cmp.confidence ?? DEFAULT_CONFIDENCE,
    power,
    minRequests: cmp.minRequests ?? DEFAULT_MIN_REQUESTS,
  };
  const share = horizon.canaryWeight / 100;
  const expected = {
    canaryRps: traffic.requestsPerSecond * share,
    stableRps: traffic.requestsPerSecond * (1 - share),
    errorRatio: traffic.stableErrorRatio,
  };
  const basis =
    `last hour: ${round(traffic.requestsPerSecond)} requests/s, ${round(traffic.stableErrorRatio * 100)}% errors on stable; ` +
    horizon.what;
  const numbers = {
    basis,
    requestsPerSecond: traffic.requestsPerSecond,
    stableErrorPercent: traffic.stableErrorRatio * 100,
    canaryWeight: horizon.canaryWeight,
    allowedSeconds: horizon.seconds,
    power,
  };
  if (traffic.requestsPerSecond <= 0)
    return {
      ...unknown('NoTrafficHistory', 'cannot say what the gate can see: no requests in the last hour'),
      ...numbers,
    };
  const allowed = configuredIncreasePercent(cmp.errors, traffic.stableErrorRatio);
  if (allowed === undefined || traffic.stableErrorRatio <= 0) {
    return {
      ...numbers,
      outcome: 'Unknown',
      message:
        'cannot say what the gate can see: the stable answered no errors in the last hour, so a relative rise has nothing to start from',
    };
  }
  // The gate allows `allowed` and promises to catch the regression beyond it (judge.ts).
  const configured = regressionFor(allowed);
  const detectable = detectableErrorIncrease(expected, horizon.seconds, cfg);
  const needed = secondsToDetect(expected, configured, cfg, MAX_SECONDS_TO_DETECT);
  const sees = needed !== undefined && needed <= horizon.seconds;
  const pct = `${Math.round(power * 100)}% power`;
  const smallest =
    detectable === undefined
      ? `no rise of the error ratio is caught with ${pct} in ${duration(horizon.seconds)}`
      : `it catches a rise of the error ratio of ${round(detectable)}% or more with ${pct} in ${duration(horizon.seconds)}`;
  const time =
    needed === undefined
      ? `the configured ${round(configured)}% (${round(allowed)}% allowed) is not caught within a day`
      : `the configured ${round(configured)}% (${round(allowed)}% allowed) needs ${duration(needed)}`;
  return {
    ...numbers,
    outcome: sees ? 'CanSee' : 'CannotSee',
    message: `${sees ? 'can see' : 'cannot see'} the configured effect: ${smallest}; ${time}`,
    configuredPercent: configured,
    ...(detectable === undefined ? {} : { detectablePercent: detectable }),
    ...(needed === undefined ? {} : { secondsToDetectConfigured: needed }),
  };
}
