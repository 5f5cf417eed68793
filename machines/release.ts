import { enqueueActions, setup } from 'xstate';
import {
  abortScaleDownDelayMs,
  gatesFor,
  parseDuration,
  progressDeadlineMs,
  scaleDownDelayMs,
  stepsOf,
} from '../crds/index.ts';
import { type AbortKind, EFFECT_IMPLEMENTATIONS, type Effect, effect } from './actions.ts';
import { hasCanaryPods, resizesCanary } from './canary-scale.ts';
import {
  emptyContext,
  type HeldPauseReason,
  type ReleaseContext,
  type ReleaseInput,
  strategyOf,
} from './context.ts';
import type { Millis, ObserveEvent, ReleaseEvent } from './events.ts';
import { currentStep, isPhase, observedPhase, startGate, stopGates, withObservation } from './gates.ts';
import { closeRelease } from './history.ts';
import { cancelScaleDown, flushScaleDown, scaleDownDue, scheduleScaleDown } from './scale-down.ts';

/**
 * The release logic both strategies share: how a release starts, is superseded, rolled back,
 * aborted, retried, paused and promoted. Each operation is a pure function from context and
 * event to a context patch and the effects to run; the machines (canary.ts, blue-green.ts)
 * only decide which operation runs when.
 */
interface Outcome {
  patch?: Partial<ReleaseContext>;
  effects?: Effect[];
}
type Operation = (ctx: ReleaseContext, event: ReleaseEvent) => Outcome;

const isObserve = (event: ReleaseEvent): event is ObserveEvent => event.type === 'OBSERVE';
const revisionOf = (event: ReleaseEvent): string | undefined =>
  isObserve(event) ? event.revision : undefined;
const strategyConfig = (ctx: ReleaseContext) => ctx.spec.strategy.canary ?? ctx.spec.strategy.blueGreen ?? {};
const notice = (reason: string, message: string) => effect('emitEvent', { reason, message, type: 'Normal' });
const warning = (reason: string, message: string) =>
  effect('emitEvent', { reason, message, type: 'Warning' });

function beginRelease(ctx: ReleaseContext, revision: string, now: Millis): Outcome {
  return {
    patch: {
      currentRevision: revision,
      stepIndex: 0,
      attempt: 0,
      gateRestarts: 0,
      releaseStartedAt: now,
      stepStartedAt: undefined,
      lastProgressAt: now,
      weight: 0,
      pause: undefined,
      abortedAt: undefined,
      promoteFull: false,
      analysis: undefined,
      background: undefined,
      activeRevision: strategyOf(ctx.spec) === 'blueGreen' ? ctx.stableRevision : undefined,
      previewReadyAt: undefined,
      promotedAt: undefined,
      scaleDown: cancelScaleDown(ctx.scaleDown, revision),
    },
    effects: [notice('ReleaseStarted', `Releasing revision ${revision}; stable is ${ctx.stableRevision}.`)],
  };
}

/** Ends the release in flight without promoting it: its gates stop (traffic and pods follow the status). */
const leaveRelease = (ctx: ReleaseContext): Effect[] => stopGates(ctx.analysis, ctx.background);

function abort(ctx: ReleaseContext, now: Millis, kind: AbortKind, reason: string): Outcome {
  const revision = ctx.currentRevision ?? '';
  return {
    patch: {
      abortedAt: now,
      weight: 0,
      pause: undefined,
      activeRevision: strategyOf(ctx.spec) === 'blueGreen' ? ctx.stableRevision : undefined,
      scaleDown: scheduleScaleDown(ctx.scaleDown, revision, now + abortScaleDownDelayMs(strategyConfig(ctx))),
      history: closeRelease(ctx, 'Aborted', reason, now),
    },
    effects: [
      ...stopGates(ctx.analysis, ctx.background),
      effect('markAborted', { reason, kind }),
      warning(
        'ReleaseAborted',
        `Revision ${revision} aborted: ${reason}. Traffic is back on ${ctx.stableRevision}.`,
      ),
    ],
  };
}

const gateLabel = (ctx: ReleaseContext): string =>
  ctx.analysis ? `analysis ${ctx.analysis.name} ended ${ctx.analysis.phase}` : 'analysis ended';
const withMessage = (text: string, message: string | undefined) => (message ? `${text}: ${message}` : text);

function holdForGate(ctx: ReleaseContext, now: Millis, ref = ctx.analysis): Outcome {
  const reason: HeldPauseReason = ref?.phase === 'Error' ? 'AnalysisError' : 'Inconclusive';
  const message = withMessage(`analysis ${ref?.name} ended ${ref?.phase}`, ref?.message);
  return {
    patch: { pause: { reason, message, startTime: now } },
    effects: [warning(`Paused${reason}`, `Release of ${ctx.currentRevision} paused: ${message}.`)],
  };
}

function holdForBackground(ctx: ReleaseContext, event: ReleaseEvent): Outcome {
  const background = withObservation(event, ctx.background);
  return merge({ patch: { background } }, holdForGate(ctx, event.now, background));
}

function promote(ctx: ReleaseContext, now: Millis): Outcome {
  const revision = ctx.currentRevision ?? '';
  const old = ctx.stableRevision;
  const full = ctx.promoteFull;
  const canary = strategyOf(ctx.spec) === 'canary';
  const reason = full
    ? 'promoted in full on request; remaining steps and gates were skipped'
    : 'every step and gate passed';
  return {
    patch: {
      stableRevision: revision,
      weight: 0,
      pause: undefined,
      analysis: undefined,
      background: undefined,
      stepIndex: canary ? stepsOf(ctx.spec).length : 0,
      activeRevision: canary ? undefined : revision,
      scaleDown:
        old && old !== revision
          ? scheduleScaleDown(ctx.scaleDown, old, now + scaleDownDelayMs(strategyConfig(ctx)))
          : ctx.scaleDown,
      history: closeRelease(ctx, 'Promoted', reason, now),
    },
    effects: [
      ...stopGates(ctx.analysis, ctx.background),
      notice('ReleasePromoted', `Revision ${revision} is stable: ${reason}.`),
    ],
  };
}

function advance(ctx: ReleaseContext, now: Millis, extra: Effect[] = []): Outcome {
  const stepIndex = ctx.stepIndex + 1;
  const moved: Outcome = {
    patch: { stepIndex, stepStartedAt: now, lastProgressAt: now, analysis: undefined },
    effects: [...extra, ...stopGates(ctx.analysis)],
  };
  // Background analysis with a startingStep begins when the release reaches that step.
  if (!gatesFor(ctx.spec, 'background') || ctx.background || !backgroundDue({ ...ctx, stepIndex }))
    return moved;
  const { ref, effects } = startGate({ ...ctx, stepIndex }, 'background', undefined);
  return merge(moved, { patch: { background: ref }, effects });
}

/** Whether the background gates run yet: from the first step, or from spec's startingStep. */
export const backgroundDue = (ctx: ReleaseContext): boolean =>
  ctx.stepIndex >= Math.min(ctx.spec.strategy.canary?.analysis?.startingStep ?? 0, stepsOf(ctx.spec).length);

const merge = (...outcomes: Outcome[]): Outcome => ({
  patch: Object.assign({}, ...outcomes.map((o) => o.patch ?? {})),
  effects: outcomes.flatMap((o) => o.effects ?? []),
});

export const OPERATIONS = {
  adoptFirstRevision: (ctx, event) => {
    const revision = revisionOf(event) ?? '';
    const fake = { ...ctx, currentRevision: revision, releaseStartedAt: event.now };
    return {
      patch: {
        stableRevision: revision,
        currentRevision: revision,
        activeRevision: strategyOf(ctx.spec) === 'blueGreen' ? revision : undefined,
        releaseStartedAt: event.now,
        history: closeRelease(
          fake,
          'Promoted',
          'first revision: there is nothing to compare it with',
          event.now,
        ),
      },
      effects: [notice('FirstRevision', `Revision ${revision} is the first; it becomes stable at once.`)],
    };
  },
  startRelease: (ctx, event) => beginRelease(ctx, revisionOf(event) ?? '', event.now),
  supersede: (ctx, event) => {
    const newer = revisionOf(event) ?? '';
    const superseded: Outcome = {
      patch: { history: closeRelease(ctx, 'Superseded', `superseded by revision ${newer}`, event.now) },
      effects: leaveRelease(ctx),
    };
    const restarted = beginRelease(ctx, newer, event.now);
    return merge(superseded, restarted);
  },
  rollBack: (ctx, event) => {
    const stable = ctx.stableRevision ?? '';
    return {
      patch: {
        currentRevision: stable,
        weight: 0,
        pause: undefined,
        analysis: undefined,
        background: undefined,
        activeRevision: strategyOf(ctx.spec) === 'blueGreen' ? stable : undefined,
        history: closeRelease(
          ctx,
          'RolledBack',
          `the template went back to stable revision ${stable}`,
          event.now,
        ),
      },
      effects: [
        ...leaveRelease(ctx),
        warning(
          'RolledBack',
          `Template reverted to stable ${stable}; ${ctx.currentRevision} rolled back at once.`,
        ),
      ],
    };
  },
  settleOnStable: (ctx) => ({
    patch: {
      currentRevision: ctx.stableRevision,
      abortedAt: undefined,
      analysis: undefined,
      background: undefined,
    },
    effects: [notice('BackOnStable', `Template matches stable revision ${ctx.stableRevision} again.`)],
  }),
  abortRequested: (ctx, event) =>
    abort(
      ctx,
      event.now,
      'Requested',
      event.type === 'ABORT' && event.reason ? event.reason : 'aborted on request',
    ),
  abortGateFailed: (ctx, event) =>
    abort(ctx, event.now, 'AnalysisFailed', withMessage(gateLabel(ctx), ctx.analysis?.message)),
  abortBackgroundFailed: (ctx, event) => {
    const seen = observedPhase(event, ctx.background);
    return abort(
      ctx,
      event.now,
      'AnalysisFailed',
      withMessage(`background analysis ${ctx.background?.name} failed`, seen?.message),
    );
  },
  abortDeadline: (ctx, event) =>
    abort(
      ctx,
      event.now,
      'ProgressDeadline',
      `no progress for ${progressDeadlineMs(ctx.spec) / 1000}s (progressDeadlineSeconds): the new revision never became ready or its gates never reported`,
    ),
  retry: (ctx, event) => ({
    patch: {
      attempt: ctx.attempt + 1,
      stepIndex: 0,
      gateRestarts: 0,
      stepStartedAt: undefined,
      lastProgressAt: event.now,
      releaseStartedAt: event.now,
      abortedAt: undefined,
      promoteFull: false,
      analysis: undefined,
      background: undefined,
      previewReadyAt: undefined,
      promotedAt: undefined,
      scaleDown: cancelScaleDown(ctx.scaleDown, ctx.currentRevision),
    },
    effects: [notice('ReleaseRetried', `Retrying revision ${ctx.currentRevision} from the first step.`)],
  }),
  recordObservation: (ctx, event) => ({
    patch: {
      analysis: withObservation(event, ctx.analysis),
      background: withObservation(event, ctx.background),
    },
  }),
  beginSteps: (ctx, event) => {
    const patch: Partial<ReleaseContext> = { lastProgressAt: event.now };
    if (ctx.stepStartedAt === undefined) patch.stepStartedAt = event.now;
    if (!gatesFor(ctx.spec, 'background') || !backgroundDue(ctx)) return { patch };
    const { ref, effects } = startGate(ctx, 'background', ctx.background);
    return { patch: { ...patch, background: ref }, effects };
  },
  applyStepWeight: (ctx, event) => {
    const weight = currentStep(ctx)?.setWeight ?? 0;
    return merge(advance(ctx, event.now), { patch: { weight } });
  },
  advanceStep: (ctx, event) => advance(ctx, event.now),
  skipPause: (ctx, event) =>
    advance(ctx, event.now, [notice('StepSkipped', `Pause at step ${ctx.stepIndex} ended by promote.`)]),
  startStepAnalysis: (ctx) => {
    const { ref, effects } = startGate(ctx, 'step', ctx.analysis, ctx.stepIndex);
    return { patch: { analysis: ref }, effects };
  },
  startPreAnalysis: (ctx) => {
    const { ref, effects } = startGate(ctx, 'prePromotion', ctx.analysis);
    return { patch: { analysis: ref }, effects };
  },
  startPostAnalysis: (ctx) => {
    const { ref, effects } = startGate(ctx, 'postPromotion', ctx.analysis);
    return { patch: { analysis: ref }, effects };
  },
  passGate: (ctx, event) => ({
    patch: { analysis: undefined, lastProgressAt: event.now },
    effects: stopGates(ctx.analysis),
  }),
  pauseForGate: (ctx, event) => holdForGate(ctx, event.now),
  pauseForBackground: (ctx, event) => holdForBackground(ctx, event),
  /**
   * The background gate ended undecided: the release pauses, and the gate starts again as a
   * watch, so a canary that keeps its traffic through the pause is still measured and a
   * failing look still aborts it. The watch is a re-run (`-r<n>`), so a comparison carries
   * its evidence over.
   */
  pauseAndWatch: (ctx, event) => {
    const held = holdForBackground(ctx, event);
    const restarted = { ...ctx, gateRestarts: ctx.gateRestarts + 1 };
    const { ref, effects } = startGate(restarted, 'background', undefined);
    const watch = effects.map((e) =>
      e.type === 'startAnalysis' ? effect('startAnalysis', { ...e.params, watch: true }) : e,
    );
    return merge(held, {
      patch: { gateRestarts: restarted.gateRestarts, background: ref },
      effects: [
        ...watch,
        notice(
          'WatchingWhilePaused',
          `Background analysis runs again as ${ref.name} while ${ctx.currentRevision} is paused: a failing look still aborts it.`,
        ),
      ],
    });
  },
  /** The watch itself ended (Prometheus gone, a query that errors): say why, start no other. */
  noteWatchEnded: (ctx, event) => {
    const background = withObservation(event, ctx.background);
    const { patch } = holdForGate(ctx, event.now, background);
    const startTime = ctx.pause?.startTime ?? event.now;
    const pause = patch?.pause && { ...patch.pause, startTime };
    return {
      patch: { background, pause },
      effects: [
        warning(
          'WatchEnded',
          `Background watch of paused ${ctx.currentRevision} ended: ${pause?.message ?? 'no reason given'}.`,
        ),
      ],
    };
  },
  /**
   * A gate found the stable breaking the same threshold as the canary: not the canary's fault,
   * so no rollback, and nothing is promoted while it lasts. The gates keep measuring; the
   * release carries on by itself at the first look that passes (resumeAfterIncident).
   */
  holdForIncident: (ctx, event) => {
    const message = incidentOf(ctx, event) ?? 'the stable breaks the same threshold';
    return {
      patch: {
        analysis: withObservation(event, ctx.analysis),
        background: withObservation(event, ctx.background),
        pause: { reason: 'SharedIncident', message, startTime: event.now },
      },
      effects: [
        warning(
          'SharedIncident',
          `Release of ${ctx.currentRevision} held, not rolled back: ${message}. It resumes by itself when the incident ends.`,
        ),
      ],
    };
  },
  resumeAfterIncident: (ctx, event) => ({
    patch: {
      analysis: withObservation(event, ctx.analysis),
      background: withObservation(event, ctx.background),
      pause: undefined,
      lastProgressAt: event.now,
    },
    effects: [
      notice(
        'IncidentEnded',
        `Release of ${ctx.currentRevision} resumed by itself: the shared incident is over and its gates pass again.`,
      ),
    ],
  }),
  pauseManually: (ctx, event) => ({
    patch: { pause: { reason: 'Manual', message: 'paused on request', startTime: event.now } },
    effects: [notice('Paused', `Release of ${ctx.currentRevision} paused on request.`)],
  }),
  resume: (ctx, event) => {
    const rerunGates = ctx.pause?.reason === 'Inconclusive' || ctx.pause?.reason === 'AnalysisError';
    return {
      patch: {
        pause: undefined,
        lastProgressAt: event.now,
        gateRestarts: ctx.gateRestarts + (rerunGates ? 1 : 0),
      },
      effects: [
        ...(rerunGates ? stopGates(ctx.analysis, ctx.background) : []),
        notice(
          'Resumed',
          `Release of ${ctx.currentRevision} resumed${rerunGates ? '; gates run again' : ''}.`,
        ),
      ],
    };
  },
  requestFullPromotion: (ctx, event) => ({
    // A background gate that already ended (its run stopped by the resume) is not run again
    // when gates are skipped: forget it, so no later pause shows it as if it still watched.
    // One still measuring keeps watching: its Failed look aborts even a full promotion.
    patch: {
      promoteFull: true,
      pause: undefined,
      lastProgressAt: event.now,
      ...(isPhase(ctx.background, 'Successful', 'Failed', 'Inconclusive', 'Error')
        ? { background: undefined }
        : {}),
    },
    effects: [
      warning('PromoteFull', `Full promotion of ${ctx.currentRevision} requested: skipping steps and gates.`),
    ],
  }),
  explainPromoteIgnored: (ctx) => ({
    effects: [
      warning(
        'PromoteIgnored',
        `Promote ignored for ${ctx.currentRevision}: nothing to skip here without --full (gates are never skipped silently).`,
      ),
    ],
  }),
  acceptPromote: (ctx) => ({
    effects: [notice('PromoteAccepted', `Promoting ${ctx.currentRevision} on request.`)],
  }),
  promote: (ctx, event) => promote(ctx, event.now),
  previewReady: (_ctx, event) => ({ patch: { previewReadyAt: event.now, lastProgressAt: event.now } }),
  switchToPreview: (ctx, event) => ({
    patch: { activeRevision: ctx.currentRevision, promotedAt: event.now },
  }),
  flushScaleDown: (ctx, event) => ({ patch: { scaleDown: flushScaleDown(ctx.scaleDown, event.now) } }),
} satisfies Record<string, Operation>;

type OperationName = keyof typeof OPERATIONS;

/** Wraps an operation as an xstate action that emits its effects as named actions, then assigns. */
const asAction = (operation: Operation) =>
  enqueueActions(({ context, event, enqueue }) => {
    const { patch, effects = [] } = operation(context as ReleaseContext, event as ReleaseEvent);
    for (const e of effects) enqueue(e as never);
    if (patch) enqueue.assign(patch as never);
  });

const operationActions = Object.fromEntries(
  Object.entries(OPERATIONS).map(([name, operation]) => [name, asAction(operation)]),
) as Record<OperationName, never>; // typed by setup(); the wrapper is context-agnostic

type Guard = (args: { context: ReleaseContext; event: ReleaseEvent }) => boolean;

/** The runner's reasons for ending a run (analysis/run-state.ts; a unit test keeps them equal). */
export const REASON_INVALID = 'InvalidAnalysis';
export const REASON_UNREACHABLE = 'PrometheusUnreachable';

const observedBackground = (ctx: ReleaseContext, event: ReleaseEvent) => observedPhase(event, ctx.background);
/** Why a gate of this release holds for a shared incident, as observed now; undefined when none does. */
const incidentOf = (ctx: ReleaseContext, event: ReleaseEvent): string | undefined =>
  [observedPhase(event, ctx.analysis), observedPhase(event, ctx.background)].find(
    (g) => g?.sharedIncident !== undefined && (g.phase === 'Pending' || g.phase === 'Running'),
  )?.sharedIncident;
const changedTo =
  (...phases: string[]): Guard =>
  ({ context, event }) => {
    const seen = observedBackground(context, event);
    return seen !== undefined && phases.includes(seen.phase) && seen.phase !== context.background?.phase;
  };
const pauseDurationMs = (ctx: ReleaseContext): number | undefined => {
  const duration = currentStep(ctx)?.pause?.duration;
  return duration === undefined ? undefined : parseDuration(duration);
};

/** When a timed pause step ends; undefined for indefinite pauses. Also used by nextWakeAt. */
export const pauseEndsAt = (ctx: ReleaseContext): Millis | undefined => {
  const duration = pauseDurationMs(ctx);
  return duration === undefined ? undefined : (ctx.stepStartedAt ?? 0) + duration;
};
export const progressDeadlineAt = (ctx: ReleaseContext): Millis =>
  (ctx.lastProgressAt ?? 0) + progressDeadlineMs(ctx.spec);
/**
 * Whether the background gate, if the release has one, passes now (its newest answer passed).
 * Nothing raises a canary's share or promotes it on an older lucky look, or on none.
 */
export const backgroundPassing = (ctx: ReleaseContext): boolean =>
  !gatesFor(ctx.spec, 'background') ||
  !backgroundDue(ctx) ||
  isPhase(ctx.background, 'Running', 'Successful');
/**
 * Whether a timed pause whose time is up may end: the background gate passes now, or the canary
 * has no traffic yet (a gate waits for the canary's first traffic, so it can pass no look before
 * the weight rises: holding for it would hold forever).
 */
export const pauseMayEnd = (ctx: ReleaseContext): boolean => ctx.weight === 0 || backgroundPassing(ctx);
/**
 * A timed pause whose time is up waits for the background gate to pass a look; by this moment
 * (a progress deadline after the pause ended) a gate that never did counts as no progress.
 */
export const pauseOverdueAt = (ctx: ReleaseContext): Millis | undefined => {
  const end = pauseEndsAt(ctx);
  return end === undefined
    ? undefined
    : Math.max(end, ctx.lastProgressAt ?? 0) + progressDeadlineMs(ctx.spec);
};
export const autoPromotionAt = (ctx: ReleaseContext): Millis | undefined => {
  const blueGreen = ctx.spec.strategy.blueGreen;
  if (!blueGreen || blueGreen.autoPromotionEnabled === false || ctx.previewReadyAt === undefined)
    return undefined;
  return ctx.previewReadyAt + (blueGreen.autoPromotionSeconds ?? 0) * 1000;
};

export const GUARDS = {
  noStableYet: ({ context, event }) => isObserve(event) && context.stableRevision === undefined,
  revisionDiffersFromStable: ({ context, event }) =>
    isObserve(event) && event.revision !== context.stableRevision,
  revertedToStable: ({ context, event }) =>
    isObserve(event) &&
    event.revision === context.stableRevision &&
    event.revision !== context.currentRevision,
  newerRevision: ({ context, event }) =>
    isObserve(event) &&
    event.revision !== context.currentRevision &&
    event.revision !== context.stableRevision,
  backgroundFailed: changedTo('Failed'),
  backgroundHeld: changedTo('Inconclusive', 'Error'),
  /**
   * Whether running the ended background gate again could measure anything: not when it can
   * never run as written (InvalidAnalysis), nor when Prometheus cannot be reached (the runner
   * probes that run and resumes the release, gates and all, once Prometheus answers).
   */
  backgroundWatchable: ({ context, event }) => {
    const reason = observedBackground(context, event)?.reason;
    return reason !== REASON_INVALID && reason !== REASON_UNREACHABLE;
  },
  gateInIncident: ({ context, event }) => incidentOf(context, event) !== undefined,
  /** Level-triggered: the incident is over at the first OBSERVE where no gate of the release holds for one. */
  incidentOver: ({ context, event }) => isObserve(event) && incidentOf(context, event) === undefined,
  canaryReady: ({ event }) => isObserve(event) && event.ready?.canary === true,
  previewReady: ({ event }) => isObserve(event) && event.ready?.preview === true,
  progressDeadlinePassed: ({ context, event }) =>
    isObserve(event) && event.now >= progressDeadlineAt(context),
  promoteFullRequested: ({ context }) => context.promoteFull,
  isFullPromote: ({ event }) => event.type === 'PROMOTE' && event.full === true,
  isPlainPromote: ({ event }) => event.type === 'PROMOTE' && event.full !== true,
  notHeld: ({ context }) => context.pause === undefined,
  stepsDone: ({ context }) => context.stepIndex >= stepsOf(context.spec).length,
  stepIsSetWeight: ({ context }) => currentStep(context)?.setWeight !== undefined,
  stepIsSetCanaryScale: ({ context }) => currentStep(context)?.setCanaryScale !== undefined,
  /**
   * A Rollout that resizes its canary moves no weight, and is not promoted, until the canary has
   * the pods that step needs; one that never does keeps Sluice's full-size canary, whose
   * readiness awaitingCanary already waited for.
   */
  stepNeedsPods: ({ context, event }) => {
    if (!resizesCanary(context.spec)) return false;
    const step = currentStep(context);
    const movesTraffic =
      context.promoteFull ||
      step === undefined ||
      step.setWeight !== undefined ||
      step.setCanaryScale !== undefined;
    return movesTraffic && !hasCanaryPods(context, event);
  },
  canaryScaled: ({ context, event }) => hasCanaryPods(context, event),
  stepIsPause: ({ context }) => currentStep(context)?.pause !== undefined,
  stepIsAnalysis: ({ context }) => currentStep(context)?.analysis !== undefined,
  pauseElapsed: ({ context, event }) => {
    const end = pauseEndsAt(context);
    return end !== undefined && event.now >= end;
  },
  gateSuccessful: ({ context }) => isPhase(context.analysis, 'Successful'),
  gateFailed: ({ context }) => isPhase(context.analysis, 'Failed'),
  gateHeld: ({ context }) => isPhase(context.analysis, 'Inconclusive', 'Error'),
  /** Never promote, nor raise the weight, on missing data: background gates must be passing. */
  backgroundSettled: ({ context }) => backgroundPassing(context),
  pauseMayEnd: ({ context }) => pauseMayEnd(context),
  pauseOverdue: ({ context, event }) => {
    const at = pauseOverdueAt(context);
    return isObserve(event) && at !== undefined && event.now >= at;
  },
  hasPrePromotionGate: ({ context }) => gatesFor(context.spec, 'prePromotion') !== undefined,
  postPromotionGateRequired: ({ context }) =>
    !context.promoteFull && gatesFor(context.spec, 'postPromotion') !== undefined,
  autoPromotionDue: ({ context, event }) => {
    const at = autoPromotionAt(context);
    return at !== undefined && event.now >= at;
  },
  activeIsCurrent: ({ context }) =>
    context.activeRevision !== undefined &&
    context.activeRevision === context.currentRevision &&
    context.currentRevision !== context.stableRevision,
  scaleDownDue: ({ context, event }) => scaleDownDue(context.scaleDown, event.now),
} satisfies Record<string, Guard>;

export const releaseSetup = setup({
  types: {
    context: {} as ReleaseContext,
    events: {} as ReleaseEvent,
    input: {} as ReleaseInput,
  },
  actions: { ...EFFECT_IMPLEMENTATIONS, ...operationActions },
  guards: GUARDS,
});

export const initialContext = ({ input }: { input: ReleaseInput }): ReleaseContext => emptyContext(input);
