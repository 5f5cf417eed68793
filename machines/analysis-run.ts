import { assign, setup } from 'xstate';
import {
  type AbsoluteDetails,
  type AnalysisPhase,
  type ComparisonDetails,
  DEFAULTS,
  type MetricResult,
} from '../crds/index.ts';
import { iso } from './context.ts';
import type { Millis } from './events.ts';

/**
 * The bookkeeping of one AnalysisRun: measurements come in, limits decide the run's phase.
 * Providers and CEL live in analysis/; this machine only counts. A run is Pending until every
 * gating metric has a measurement (never promote on missing data), Running while measuring,
 * and ends Successful, Failed, Inconclusive or Error.
 */
export interface MetricLimits {
  name: string;
  /** Measurements to take; 0 or absent: until terminated (background gates). */
  count?: number;
  failureLimit?: number;
  inconclusiveLimit?: number;
  consecutiveErrorLimit?: number;
  /** Measured and shown, never gates. */
  dryRun?: boolean;
  /**
   * A sequential test (compareToStable): each look judges all evidence so far, so an
   * Inconclusive look means "undecided yet", not a strike. It passes at its first Successful
   * look (a background gate keeps watching), and is Inconclusive only when its looks run out.
   */
  sequential?: boolean;
}

export type MeasurementPhase = Exclude<AnalysisPhase, 'Pending' | 'Running'>;

export type AnalysisRunEvent =
  | {
      type: 'MEASURE';
      now: Millis;
      /** When the query was sent; `now` (when it was recorded) when absent. */
      startedAt?: Millis;
      metric: string;
      phase: MeasurementPhase;
      value?: string;
      message?: string;
      comparison?: ComparisonDetails;
      absolute?: AbsoluteDetails;
      /**
       * An absolute builtin found the stable breaking the same threshold (phase Inconclusive):
       * neither an answer nor a strike; the metric holds until a look passes or fails.
       */
      sharedIncident?: boolean;
    }
  | { type: 'TERMINATE'; now: Millis };

export interface AnalysisRunContext {
  metrics: MetricLimits[];
  results: MetricResult[];
  startedAt?: Millis;
  finishedAt?: Millis;
}

const MEASUREMENTS_KEPT = 10;

const emptyResult = (m: MetricLimits): MetricResult => ({
  name: m.name,
  phase: 'Pending',
  ...(m.dryRun ? { dryRun: true } : {}),
  count: 0,
  successful: 0,
  failed: 0,
  inconclusive: 0,
  error: 0,
  consecutiveError: 0,
  measurements: [],
});

/**
 * Measurements that got an answer: a query that errored measured nothing and counts only as an
 * error; a shared incident judged the stable as much as the canary, so it is no answer either.
 */
export const answered = (r: MetricResult): number => r.count - r.error - (r.incidents ?? 0);

/**
 * An absolute builtin's window past the threshold that its bound cannot blame: recorded
 * Inconclusive for the reader, but neither a strike (no rollback, no pause on noise) nor a pass.
 */
const isUndecided = (m: MetricResult['measurements'][number] | undefined) =>
  m?.absolute?.verdict === 'undecided';

/**
 * An absolute builtin's look whose window held fewer canary requests than minRequests: recorded
 * Error (it measured too little, as a query error measures nothing), so a late scrape or a quiet
 * window is tolerated within consecutiveErrorLimit.
 */
export const isNoData = (m: MetricResult['measurements'][number] | undefined) =>
  m?.phase === 'Error' && m.absolute?.verdict === 'tooFewRequests';

/** The newest look that answered (not a query error, not a shared incident). */
const latestAnswer = (r: MetricResult) =>
  r.measurements.findLast((m) => m.phase !== 'Error' && !m.sharedIncident);

/** A metric's phase from its counts and limits; exceeding a limit decides at once. */
export function metricPhase(limits: MetricLimits, r: MetricResult): AnalysisPhase {
  if (r.failed > (limits.failureLimit ?? DEFAULTS.failureLimit)) return 'Failed';
  // More looks in a row without data than consecutiveErrorLimit tolerates say "no traffic", not
  // "Prometheus is broken": each look past the tolerance is an inconclusive one (a watch, whose
  // inconclusiveLimit is unbounded, keeps watching). Counting them all, not the streak as one,
  // lets a gate with inconclusiveLimit > 0 still pause when the data never comes back.
  const errorLimit = limits.consecutiveErrorLimit ?? DEFAULTS.consecutiveErrorLimit;
  const errorStreak = r.consecutiveError > errorLimit;
  const noDataStreak = errorStreak && isNoData(r.measurements.at(-1));
  if (errorStreak && !noDataStreak) return 'Error';
  if (limits.sequential) return sequentialPhase(limits, r);
  const strikes = r.inconclusive + (noDataStreak ? r.consecutiveError - errorLimit : 0);
  if (strikes > (limits.inconclusiveLimit ?? DEFAULTS.inconclusiveLimit)) return 'Inconclusive';
  // A query that errored measured nothing: it does not count towards `count`. And `count`
  // answers are a pass only if one of them passed; inconclusive ones within the limit are
  // tolerated, never taken for success.
  const latest = latestAnswer(r);
  if (limits.count && answered(r) >= limits.count)
    return r.successful > 0 && !isUndecided(latest) ? 'Successful' : 'Inconclusive';
  // Running means passing now: the newest answer passed. Until then (no answer yet, only errors
  // or looks that found "no data", a shared incident, or a newest answer that was undecided or
  // inconclusive within the limit) the metric is Pending, and a release does not finish on an
  // older lucky look or on none.
  return latest?.phase === 'Successful' ? 'Running' : 'Pending';
}

/**
 * Never promote on missing evidence: until a look says "not worse", the metric is Pending.
 * A step stops at its first verdict or after `count` looks; a background comparison, once it
 * has passed, keeps watching, and before that waits at most inconclusiveLimit undecided looks
 * (then the release pauses, saying so, instead of waiting into its progress deadline).
 */
function sequentialPhase(limits: MetricLimits, r: MetricResult): AnalysisPhase {
  if (!limits.count) {
    if (r.successful > 0) return 'Running';
    return r.inconclusive > (limits.inconclusiveLimit ?? DEFAULTS.inconclusiveLimit)
      ? 'Inconclusive'
      : 'Pending';
  }
  if (r.successful > 0) return 'Successful';
  return r.count >= limits.count ? 'Inconclusive' : 'Pending';
}

const SEVERITY: AnalysisPhase[] = ['Failed', 'Error', 'Inconclusive', 'Pending', 'Running', 'Successful'];

/** The run's phase: its worst gating metric; dry-run metrics never gate. */
export function runPhase(ctx: AnalysisRunContext): AnalysisPhase {
  // A run without metrics has nothing that could pass: it never succeeds on its own (the
  // runner ends it in Error). Only dry-run metrics: nothing gates, so it passes.
  if (ctx.results.length === 0) return 'Pending';
  const gating = ctx.results.filter((r) => !r.dryRun).map((r) => r.phase);
  if (gating.length === 0) return 'Successful';
  return SEVERITY.find((phase) => gating.includes(phase)) ?? 'Running';
}

function record(
  ctx: AnalysisRunContext,
  event: Extract<AnalysisRunEvent, { type: 'MEASURE' }>,
): MetricResult[] {
  return ctx.results.map((r, i) => {
    const limits = ctx.metrics[i] as MetricLimits;
    if (r.name !== event.metric || (r.phase !== 'Pending' && r.phase !== 'Running')) return r;
    const key = {
      Successful: 'successful',
      Failed: 'failed',
      Inconclusive: 'inconclusive',
      Error: 'error',
    } as const;
    const incident = event.sharedIncident === true;
    const undecided = event.absolute?.verdict === 'undecided';
    const measurement = {
      phase: event.phase,
      ...(event.value === undefined ? {} : { value: event.value }),
      ...(event.message === undefined ? {} : { message: event.message }),
      ...(event.comparison === undefined ? {} : { comparison: event.comparison }),
      ...(event.absolute === undefined ? {} : { absolute: event.absolute }),
      ...(incident ? { sharedIncident: true } : {}),
      startedAt: iso(event.startedAt ?? event.now),
      finishedAt: iso(event.now),
    };
    const { sharedIncident: _held, ...rest } = r;
    // An incident holds the metric until a look decides about the canary again (pass or fail);
    // looks in between (too few requests, a query error) leave the hold as it was.
    const decides = event.phase === 'Successful' || event.phase === 'Failed';
    const held = incident ? (event.message ?? 'shared incident') : decides ? undefined : r.sharedIncident;
    const next: MetricResult = {
      ...rest,
      count: r.count + 1,
      // An undecided look counts towards `count` (a step gate ends after its looks) and nothing else.
      ...(incident
        ? { incidents: (r.incidents ?? 0) + 1 }
        : undecided
          ? {}
          : { [key[event.phase]]: r[key[event.phase]] + 1 }),
      consecutiveError: event.phase === 'Error' ? r.consecutiveError + 1 : 0,
      ...(held === undefined ? {} : { sharedIncident: held }),
      measurements: [...r.measurements, measurement].slice(-MEASUREMENTS_KEPT),
    };
    return { ...next, phase: metricPhase(limits, next) };
  });
}

export const analysisRunMachine = setup({
  types: {
    context: {} as AnalysisRunContext,
    events: {} as AnalysisRunEvent,
    input: {} as { metrics: MetricLimits[] },
  },
  actions: {
    measure: assign(({ context, event }) =>
      event.type === 'MEASURE'
        ? { results: record(context, event), startedAt: context.startedAt ?? event.now }
        : {},
    ),
    finish: assign(({ context, event }) => ({ finishedAt: context.finishedAt ?? event.now })),
  },
  guards: {
    is: ({ context }, phase: AnalysisPhase) => runPhase(context) === phase,
    measuredEnough: ({ context }) =>
      runPhase(context) === 'Running' && context.results.every((r) => r.dryRun || r.successful > 0),
  },
}).createMachine({
  id: 'analysisRun',
  context: ({ input }) => ({ metrics: input.metrics, results: input.metrics.map(emptyResult) }),
  initial: 'pending',
  states: {
    pending: {
      always: [{ guard: { type: 'is', params: 'Successful' }, target: 'successful' }],
      on: {
        MEASURE: { target: 'measuring', actions: 'measure' },
        TERMINATE: { target: 'terminating', actions: 'finish' },
      },
    },
    measuring: {
      always: [
        { guard: { type: 'is', params: 'Failed' }, target: 'failed', actions: 'finish' },
        { guard: { type: 'is', params: 'Error' }, target: 'error', actions: 'finish' },
        { guard: { type: 'is', params: 'Inconclusive' }, target: 'inconclusive', actions: 'finish' },
        { guard: { type: 'is', params: 'Successful' }, target: 'successful', actions: 'finish' },
        { guard: { type: 'is', params: 'Running' }, target: 'running' },
        { target: 'pending' },
      ],
    },
    running: {
      on: {
        MEASURE: { target: 'measuring', actions: 'measure' },
        TERMINATE: { target: 'terminating', actions: 'finish' },
      },
    },
    // Stopping keeps what was measured: measured and passing is Successful; without data it is
    // Inconclusive, never a silent pass.
    terminating: {
      always: [{ guard: 'measuredEnough', target: 'successful' }, { target: 'inconclusive' }],
    },
    successful: { type: 'final' },
    failed: { type: 'final' },
    inconclusive: { type: 'final' },
    error: { type: 'final' },
  },
});

export type AnalysisRunSnapshot = ReturnType<typeof analysisRunMachine.resolveState>;

/** The run's status fields, as analysis/ writes them to the AnalysisRun object. */
export function toRunStatus(snapshot: AnalysisRunSnapshot) {
  const { results, startedAt, finishedAt } = snapshot.context;
  const phase = snapshot.status === 'done' ? (snapshot.value as string) : runPhase(snapshot.context);
  // A run still measuring while a gating metric holds for a shared incident says so: the release reads it.
  const incident =
    snapshot.status === 'done' ? undefined : results.find((r) => !r.dryRun && r.sharedIncident);
  return {
    phase: (phase.charAt(0).toUpperCase() + phase.slice(1)) as AnalysisPhase,
    ...(incident?.sharedIncident === undefined
      ? {}
      : { sharedIncident: `metric ${incident.name}: ${incident.sharedIncident}` }),
    ...(startedAt === undefined ? {} : { startedAt: iso(startedAt) }),
    ...(finishedAt === undefined ? {} : { finishedAt: iso(finishedAt) }),
    metricResults: results,
  };
}
