import type { AnyStateMachine, StateValue } from 'xstate';
import { type RolloutPhase, type RolloutSpec, type RolloutStatus, stepsOf } from '../crds/index.ts';
import { blueGreenMachine } from './blue-green.ts';
import { canaryMachine } from './canary.ts';
import { canaryReplicasNow, weighsByPods } from './canary-scale.ts';
import { emptyContext, type HeldPause, iso, type ReleaseContext, strategyOf } from './context.ts';
import type { Millis } from './events.ts';
import { autoPromotionAt, pauseEndsAt, pauseMayEnd, pauseOverdueAt, progressDeadlineAt } from './release.ts';

export type ReleaseMachine = typeof canaryMachine | typeof blueGreenMachine;
export type ReleaseSnapshot = ReturnType<ReleaseMachine['resolveState']>;

export const machineFor = (spec: RolloutSpec): ReleaseMachine =>
  strategyOf(spec) === 'blueGreen' ? blueGreenMachine : canaryMachine;

/** `{release: {running: 'stepPause'}}` → `release.running.stepPause`. */
export function statePath(value: StateValue): string {
  if (typeof value === 'string') return value;
  const [key, child] = Object.entries(value)[0] ?? ['', ''];
  return child === undefined ? key : `${key}.${statePath(child)}`;
}

const toValue = (path: string): StateValue =>
  path
    .split('.')
    .reverse()
    .reduce<StateValue>((inner, key) => (inner === '' ? key : { [key]: inner }), '');

/** Every state a machine can rest in, as dotted paths (atomic states only). */
export function atomicPaths(machine: AnyStateMachine): string[] {
  const paths: string[] = [];
  const walk = (node: AnyStateMachine['root'], prefix: string) => {
    const children = Object.entries(node.states);
    if (children.length === 0) paths.push(prefix);
    for (const [key, child] of children) walk(child, prefix ? `${prefix}.${key}` : key);
  };
  walk(machine.root, '');
  return paths;
}

const PAUSED_STATES = ['release.running.stepPause', 'release.running.awaitingPromotion'];

/** Held by a person or a gate: `release.paused`, or one of its children (canary). */
const isHeld = (path: string): boolean => path === 'release.paused' || path.startsWith('release.paused.');

function phaseOf(path: string): RolloutPhase {
  if (path === 'healthy') return 'Healthy';
  if (path === 'degraded') return 'Degraded';
  return isHeld(path) || PAUSED_STATES.includes(path) ? 'Paused' : 'Progressing';
}

const at = (ms: Millis | undefined): string | undefined => (ms === undefined ? undefined : iso(ms));
const ms = (text: string | undefined): Millis | undefined =>
  text === undefined ? undefined : Date.parse(text);

function pauseOf(path: string, ctx: ReleaseContext): RolloutStatus['pause'] {
  if (isHeld(path) && ctx.pause) {
    const { reason, message, startTime } = ctx.pause;
    return { reason, ...(message === undefined ? {} : { message }), startTime: iso(startTime) };
  }
  const stepPause = path === 'release.running.stepPause';
  const awaiting = path === 'release.running.awaitingPromotion';
  if (!stepPause && !awaiting) return undefined;
  const start = stepPause ? ctx.stepStartedAt : ctx.previewReadyAt;
  const resumeAt = stepPause ? pauseEndsAt(ctx) : autoPromotionAt(ctx);
  return {
    reason: stepPause ? 'Step' : 'AwaitingPromotion',
    startTime: iso(start ?? 0),
    ...(resumeAt === undefined ? {} : { resumeAt: iso(resumeAt) }),
  };
}

/** A sentence for `status.message`: what is happening and why. */
export function describe(path: string, ctx: ReleaseContext): string {
  const { currentRevision: current, stableRevision: stable } = ctx;
  const steps = stepsOf(ctx.spec).length;
  const stepLabel = `step ${ctx.stepIndex + 1}/${steps}`;
  const gate = ctx.analysis ? `analysis ${ctx.analysis.name} (${ctx.analysis.phase})` : 'analysis';
  switch (path) {
    case 'healthy': {
      if (!stable) return 'No revision observed yet.';
      const pending = ctx.scaleDown.map((e) => `${e.revision} at ${iso(e.at)}`).join(', ');
      return `Revision ${stable} is stable and serves all traffic.${pending ? ` Scaling down ${pending}.` : ''}`;
    }
    case 'degraded': {
      const reason = ctx.history.findLast((h) => h.outcome === 'Aborted')?.reason ?? 'aborted';
      return `Revision ${current} was aborted (${reason}); all traffic is on stable ${stable}. Retry it or push a new revision.`;
    }
    case 'release.paused':
    case 'release.paused.held':
      return `Release of ${current} is paused (${ctx.pause?.reason}: ${ctx.pause?.message}); resume or promote to continue.`;
    case 'release.paused.incident':
      return `Release of ${current} is held by a shared incident (${ctx.pause?.message}): the stable breaks the same threshold, so the canary is not rolled back; it resumes by itself at the first look that passes.`;
    case 'release.paused.watching':
      return `Release of ${current} is paused (${ctx.pause?.reason}: ${ctx.pause?.message}); background analysis ${ctx.background?.name} (${ctx.background?.phase}) keeps watching the canary's traffic. Resume or promote to continue.`;
    case 'release.running.awaitingCanary':
      return `Waiting for canary ${current} to be ready before giving it traffic (deadline ${iso(progressDeadlineAt(ctx))}).`;
    case 'release.running.scalingCanary': {
      const before = ctx.stepIndex >= steps || ctx.promoteFull ? 'the promotion' : stepLabel;
      const why = weighsByPods(ctx.spec) ? 'its share of the pods' : 'setCanaryScale';
      return `Canary ${current} at ${ctx.weight}% traffic; ${before} waits for it to have ${canaryReplicasNow(ctx)} available pods (${why}; deadline ${iso(progressDeadlineAt(ctx))}).`;
    }
    case 'release.running.stepPause': {
      const end = pauseEndsAt(ctx);
      const until = end === undefined ? 'until promoted (kubectl sluice promote)' : `until ${iso(end)}`;
      const gated =
        end === undefined || pauseMayEnd(ctx)
          ? ''
          : `, then until background analysis ${ctx.background?.name} (${ctx.background?.phase}) passes a look (deadline ${iso(pauseOverdueAt(ctx) ?? end)})`;
      return `Canary ${current} at ${ctx.weight}% traffic; paused at ${stepLabel} ${until}${gated}.`;
    }
    case 'release.running.stepAnalysis':
      return `Canary ${current} at ${ctx.weight}% traffic; ${stepLabel} waits for ${gate} to succeed.`;
    case 'release.running.finalizing':
      return `All steps of ${current} done; waiting for background analysis ${ctx.background?.name} to report before promoting (deadline ${iso(progressDeadlineAt(ctx))}).`;
    case 'release.running.awaitingPreview':
      return `Waiting for preview ${current} to be ready (deadline ${iso(progressDeadlineAt(ctx))}); ${stable} stays active.`;
    case 'release.running.preAnalysis':
      return `Preview ${current} is ready; pre-promotion ${gate} must succeed before it becomes active.`;
    case 'release.running.awaitingPromotion': {
      const auto = autoPromotionAt(ctx);
      return auto === undefined
        ? `Preview ${current} is ready and awaits promotion (kubectl sluice promote).`
        : `Preview ${current} is ready; it becomes active at ${iso(auto)}.`;
    }
    case 'release.running.postAnalysis':
      return `${current} is active; post-promotion ${gate} must succeed, ${stable} stays up to switch back.`;
    /* v8 ignore next 2 -- transient states never rest, so never reach status */
    default:
      return `Releasing ${current}.`;
  }
}

const prune = <T extends object>(value: T): T =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;

/** The status a snapshot stands for: the machine-owned part of RolloutStatus. */
export function toStatus(snapshot: ReleaseSnapshot): RolloutStatus {
  const ctx = snapshot.context;
  const path = statePath(snapshot.value);
  const canary = strategyOf(ctx.spec) === 'canary';
  return prune<RolloutStatus>({
    phase: phaseOf(path),
    message: describe(path, ctx),
    machineState: path,
    currentRevision: ctx.currentRevision,
    stableRevision: ctx.stableRevision,
    currentStepIndex: canary ? ctx.stepIndex : undefined,
    attempt: ctx.attempt,
    gateRestarts: ctx.gateRestarts,
    releaseStartedAt: at(ctx.releaseStartedAt),
    stepStartedAt: at(ctx.stepStartedAt),
    lastProgressAt: at(ctx.lastProgressAt),
    canary: canary ? { weight: ctx.weight } : undefined,
    blueGreen: canary
      ? undefined
      : prune({
          activeRevision: ctx.activeRevision,
          previewRevision: ctx.currentRevision,
          previewReadyAt: at(ctx.previewReadyAt),
          promotedAt: at(ctx.promotedAt),
        }),
    pause: pauseOf(path, ctx),
    abort: path === 'degraded' ? true : undefined,
    abortedAt: at(ctx.abortedAt),
    promoteFull: ctx.promoteFull ? true : undefined,
    scaleDown: ctx.scaleDown.length
      ? ctx.scaleDown.map((e) => ({ revision: e.revision, at: iso(e.at) }))
      : undefined,
    analysis: ctx.analysis,
    backgroundAnalysis: ctx.background,
    history: ctx.history.length ? ctx.history : undefined,
  });
}

/** For status written without `machineState` (older controller, hand edits): the closest resting state. */
function derivePath(spec: RolloutSpec, status: RolloutStatus): string {
  if (status.abort) return 'degraded';
  if (!status.stableRevision || !status.currentRevision || status.currentRevision === status.stableRevision) {
    return 'healthy';
  }
  return strategyOf(spec) === 'canary' ? 'release.running.awaitingCanary' : 'release.running.awaitingPreview';
}

/**
 * The atomic state a stored path stands for. A compound path was written before that state had
 * children (a canary's `release.paused`, before `held`/`watching`): it rests in its initial child.
 */
function restingPath(machine: ReleaseMachine, path: string): string | undefined {
  const atomic = atomicPaths(machine);
  if (atomic.includes(path)) return path;
  if (!atomic.some((p) => p.startsWith(`${path}.`))) return undefined;
  const node = machine.getStateNodeById(`${machine.id}.${path}`);
  const first = node.initial?.target[0]?.path.join('.');
  return first !== undefined && atomic.includes(first) ? first : undefined;
}

const HELD_REASONS: string[] = ['Manual', 'Inconclusive', 'AnalysisError', 'SharedIncident'];

/** Restores the machine from status alone; `spec` and `rollout` (the object's name) come from the object. */
export function fromStatus(rollout: string, spec: RolloutSpec, status: RolloutStatus = {}): ReleaseSnapshot {
  const machine = machineFor(spec);
  const stored = status.machineState === undefined ? undefined : restingPath(machine, status.machineState);
  const path = stored ?? derivePath(spec, status);
  const held = status.pause && HELD_REASONS.includes(status.pause.reason) ? status.pause : undefined;
  const pause: HeldPause | undefined =
    isHeld(path) && held
      ? prune({
          reason: held.reason as HeldPause['reason'],
          message: held.message,
          startTime: ms(held.startTime) ?? 0,
        })
      : undefined;
  const context: ReleaseContext = prune({
    ...emptyContext({ rollout, spec }),
    stableRevision: status.stableRevision,
    currentRevision: status.currentRevision,
    stepIndex: Math.min(status.currentStepIndex ?? 0, stepsOf(spec).length),
    attempt: status.attempt ?? 0,
    gateRestarts: status.gateRestarts ?? 0,
    releaseStartedAt: ms(status.releaseStartedAt),
    stepStartedAt: ms(status.stepStartedAt),
    lastProgressAt: ms(status.lastProgressAt),
    weight: status.canary?.weight ?? 0,
    pause,
    abortedAt: ms(status.abortedAt),
    promoteFull: status.promoteFull ?? false,
    scaleDown: (status.scaleDown ?? []).map((e) => ({ revision: e.revision, at: ms(e.at) ?? 0 })),
    analysis: status.analysis,
    background: status.backgroundAnalysis,
    history: status.history ?? [],
    activeRevision: status.blueGreen?.activeRevision,
    previewReadyAt: ms(status.blueGreen?.previewReadyAt),
    promotedAt: ms(status.blueGreen?.promotedAt),
  });
  return machine.resolveState({ value: toValue(path), context }) as ReleaseSnapshot;
}
