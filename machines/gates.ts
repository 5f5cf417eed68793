import { type AnalysisPhase, type Step, stepsOf } from '../crds/index.ts';
import { type Effect, effect } from './actions.ts';
import type { GateRef, ReleaseContext } from './context.ts';
import type { GateKind, GateObservation, ReleaseEvent } from './events.ts';

const NAME_LIMIT = 253;
const SHORT: Record<GateKind, string> = {
  background: 'bg',
  step: 'step',
  prePromotion: 'pre',
  postPromotion: 'post',
};

/**
 * Deterministic AnalysisRun name: the same release position always yields the same name, so a
 * reconcile repeated after a crash finds the run it already created instead of starting another.
 * The rollout part is shortened when needed; the distinguishing suffix never is.
 */
export function runName(ctx: ReleaseContext, gate: GateKind, stepIndex?: number): string {
  const step = stepIndex === undefined ? '' : `-${stepIndex}`;
  const restarts = ctx.gateRestarts > 0 ? `-r${ctx.gateRestarts}` : '';
  const suffix = `-${ctx.currentRevision ?? ''}-${SHORT[gate]}${step}-a${ctx.attempt}${restarts}`;
  const room = Math.max(1, NAME_LIMIT - suffix.length);
  const prefix = ctx.rollout.slice(0, room).replace(/[-.]+$/, '') || 'r';
  return `${prefix}${suffix}`.slice(0, NAME_LIMIT);
}

export const currentStep = (ctx: ReleaseContext): Step | undefined => stepsOf(ctx.spec)[ctx.stepIndex];

/** The observed result of `ref`'s run, if this event carries it; results of other runs are stale. */
export function observedPhase(event: ReleaseEvent, ref: GateRef | undefined): GateObservation | undefined {
  if (event.type !== 'OBSERVE' || !ref) return undefined;
  return Object.values(event.gates ?? {}).find((g) => g?.name === ref.name);
}

/** Updates the stored ref with what was observed, keeping the ref when nothing new was seen. */
export function withObservation(event: ReleaseEvent, ref: GateRef | undefined): GateRef | undefined {
  const seen = observedPhase(event, ref);
  if (!ref || !seen) return ref;
  // Only name, phase and message are status; the reason decides this look and is not stored.
  return seen.message === undefined
    ? { name: ref.name, phase: seen.phase }
    : { name: ref.name, phase: seen.phase, message: seen.message };
}

/** A start for the gate at this position unless that very run is already known. */
export function startGate(
  ctx: ReleaseContext,
  gate: GateKind,
  current: GateRef | undefined,
  stepIndex?: number,
): { ref: GateRef; effects: Effect[] } {
  const name = runName(ctx, gate, stepIndex);
  if (current?.name === name) return { ref: current, effects: [] };
  const params = { gate, name, revision: ctx.currentRevision ?? '' };
  return {
    ref: { name, phase: 'Pending' },
    effects: [effect('startAnalysis', stepIndex === undefined ? params : { ...params, stepIndex })],
  };
}

export const stopGates = (...refs: (GateRef | undefined)[]): Effect[] =>
  refs.filter((r): r is GateRef => r !== undefined).map((r) => effect('stopAnalysis', { name: r.name }));

export const isPhase = (ref: GateRef | undefined, ...phases: AnalysisPhase[]): boolean =>
  ref !== undefined && phases.includes(ref.phase);
