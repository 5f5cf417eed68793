// What a compareToStable gate can see before it runs: from the traffic of the last hour, the
// canary's share and the time the steps give it, the smallest regression its errors and p99
// latency checks would catch with the stated power, and the time each needs to catch the
// configured one. Pure: the traffic comes in as numbers (analysis/traffic-history.ts asks
// Prometheus for them).
import type { CompareToStable, Detectability, GateKind, Gates, RolloutSpec } from '../crds/index.ts';
import { DEFAULTS, gatesFor, parseDuration } from '../crds/index.ts';
import { lookBudget } from './compare/budget.ts';
import {
  detectableErrorIncrease,
  detectableSlowShare,
  type ExpectedTraffic,
  type PowerConfig,
  regressionFor,
  secondsToDetect,
  secondsToDetectSlowShare,
} from './compare/detectable.ts';
import { P99_TAIL, REGRESSION } from './compare/judge.ts';
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
 * The gate's checks worked out ahead: errors and latencyP99. Not latencyDistribution: its power
 * is the least over the bucket bounds of a test whose noise is the stable's share slower than
 * each, so it needs the stable's latency histogram, which the last hour's rate does not carry.
 */
export const checksSeenAhead = (cmp: CompareToStable | undefined): ('errors' | 'latencyP99')[] => [
  ...(cmp?.errors ? (['errors'] as const) : []),
  ...(cmp?.latencyP99 ? (['latencyP99'] as const) : []),
];

/** One check's answer: its outcome, its sentence, and its numbers for the status. */
interface Sight<Numbers> {
  outcome: Detectability['outcome'];
  message: string;
  numbers: Numbers;
}

type ErrorsNumbers = Pick<
  Detectability,
  'configuredPercent' | 'detectablePercent' | 'secondsToDetectConfigured'
>;
type LatencyNumbers = NonNullable<Detectability['latencyP99']>;

const powerWords = (cfg: PowerConfig) => `${Math.round(cfg.power * 100)}% power`;

function errorsSight(
  errors: NonNullable<CompareToStable['errors']>,
  expected: ExpectedTraffic,
  horizon: Horizon,
  cfg: PowerConfig,
): Sight<ErrorsNumbers> {
  const allowed = configuredIncreasePercent(errors, expected.errorRatio);
  if (allowed === undefined || expected.errorRatio <= 0) {
    return {
      outcome: 'Unknown',
      message:
        'cannot say what the gate can see: the stable answered no errors in the last hour, so a relative rise has nothing to start from',
      numbers: {},
    };
  }
  // The gate allows `allowed` and promises to catch the regression beyond it (judge.ts).
  const configured = regressionFor(allowed);
  const detectable = detectableErrorIncrease(expected, horizon.seconds, cfg);
  const needed = secondsToDetect(expected, configured, cfg, MAX_SECONDS_TO_DETECT);
  const smallest =
    detectable === undefined
      ? `no rise of the error ratio is caught with ${powerWords(cfg)} in ${duration(horizon.seconds)}`
      : `it catches a rise of the error ratio of ${round(detectable)}% or more with ${powerWords(cfg)} in ${duration(horizon.seconds)}`;
  const what = `the configured ${round(configured)}% (${round(allowed)}% allowed)`;
  return sight(smallest, what, needed, horizon, {
    configuredPercent: configured,
    ...(detectable === undefined ? {} : { detectablePercent: detectable }),
    ...(needed === undefined ? {} : { secondsToDetectConfigured: needed }),
  });
}

/**
 * The latencyP99 check in its own terms: the share of canary requests slower than (1 + pct) ×
 * the stable's p99, which a p99 allows at 1% and the check promises to catch at REGRESSION × 1%.
 * Only the canary's count enters the judge's power rule, so no stable ratio is needed.
 */
function latencySight(
  latency: NonNullable<CompareToStable['latencyP99']>,
  expected: ExpectedTraffic,
  horizon: Horizon,
  cfg: PowerConfig,
): Sight<LatencyNumbers> {
  const bar = `${Math.round(100 + latency.maxIncreasePercent) / 100} × the stable's p99`;
  const configured = REGRESSION * P99_TAIL * 100;
  const detectable = detectableSlowShare(expected, horizon.seconds, cfg);
  const needed = secondsToDetectSlowShare(expected, configured, cfg, MAX_SECONDS_TO_DETECT);
  const smallest =
    detectable === undefined
      ? `no share of requests slower than ${bar} is caught with ${powerWords(cfg)} in ${duration(horizon.seconds)}`
      : `it catches the share of requests slower than ${bar} rising from ${P99_TAIL * 100}% to ${detectable}% or more with ${powerWords(cfg)} in ${duration(horizon.seconds)}`;
  const what = `the configured ${configured}% (${P99_TAIL * 100}% allowed)`;
  const s = sight(smallest, what, needed, horizon, {
    configuredPercent: configured,
    ...(detectable === undefined ? {} : { detectablePercent: detectable }),
    ...(needed === undefined ? {} : { secondsToDetectConfigured: needed }),
  });
  // The status keeps this check's outcome beside its numbers: the gate's is the worse of two.
  return { ...s, numbers: { outcome: s.outcome, ...s.numbers } };
}

/** Both checks' sentence: can or cannot see, the smallest effect caught, the time the configured one needs. */
function sight<N>(
  smallest: string,
  configured: string,
  needed: number | undefined,
  horizon: Horizon,
  numbers: N,
): Sight<N> {
  const sees = needed !== undefined && needed <= horizon.seconds;
  const time =
    needed === undefined
      ? `${configured} is not caught within a day`
      : `${configured} needs ${duration(needed)}`;
  return {
    outcome: sees ? 'CanSee' : 'CannotSee',
    message: `${sees ? 'can see' : 'cannot see'} the configured effect: ${smallest}; ${time}`,
    numbers,
  };
}

/** The gate's outcome: a blind check makes the gate blind; one without an estimate leaves it unknown. */
function worst(outcomes: Detectability['outcome'][]): Detectability['outcome'] {
  for (const o of ['CannotSee', 'NoTrafficHistory', 'Unknown'] as const) if (outcomes.includes(o)) return o;
  return 'CanSee';
}

/**
 * What the gate's errors and latencyP99 tests can see; undefined when it has neither.
 * `traffic` is undefined when Prometheus had nothing to say: `missing` says why, and the answer
 * says so rather than guess.
 */
export function assessGate(
  spec: RolloutSpec,
  gate: GateKind,
  stepIndex: number | undefined,
  traffic: TrafficHistory | { missing: string },
): Detectability | undefined {
  const cmp = gatesFor(spec, gate, stepIndex)?.compareToStable;
  if (!cmp || checksSeenAhead(cmp).length === 0) return undefined;
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
  // A latency-only gate does not read the error ratio: saying it would suggest it matters.
  const errorsBasis = cmp.errors ? `, ${round(traffic.stableErrorRatio * 100)}% errors on stable` : '';
  const basis = `last hour: ${round(traffic.requestsPerSecond)} requests/s${errorsBasis}; ${horizon.what}`;
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
  const errors = cmp.errors && errorsSight(cmp.errors, expected, horizon, cfg);
  const latency = cmp.latencyP99 && latencySight(cmp.latencyP99, expected, horizon, cfg);
  const checks = [errors, latency].filter((c) => c !== undefined);
  // One check says it alone, as before latency was worked out; two name theirs.
  const message =
    errors && latency ? `errors: ${errors.message}. p99 latency: ${latency.message}` : checks[0]?.message;
  return {
    ...numbers,
    outcome: worst(checks.map((c) => c.outcome)),
    message: message ?? '',
    ...(errors ? errors.numbers : {}),
    ...(latency ? { latencyP99: latency.numbers } : {}),
  };
}
