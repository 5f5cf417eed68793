import type { RolloutSpec, RolloutStatus } from '../crds/index.ts';
import { stepsOf } from '../crds/spec.ts';
import { type Effect, effect } from './actions.ts';

// What a person watching `kubectl get events` wants to see move: the canary's share of traffic
// and each step behind it. Both are read off the change of status one decision makes, so they
// say what the release did, not what a transition meant to do; a status that did not move says
// nothing (an idle pass, a repeated decision), so these cost nothing while a release waits.

const describeStep = (spec: RolloutSpec, index: number): string => {
  const step = stepsOf(spec)[index];
  if (!step) return '';
  if (step.setWeight !== undefined) return ` (setWeight ${step.setWeight})`;
  if (step.pause) return step.pause.duration ? ` (pause ${step.pause.duration})` : ' (pause)';
  if (step.setCanaryScale) return ' (setCanaryScale)';
  if (step.setHeaderRoute) return ` (setHeaderRoute ${step.setHeaderRoute.name})`;
  if (step.setMirrorRoute) return ` (setMirrorRoute ${step.setMirrorRoute.name})`;
  return ' (analysis)';
};

/**
 * `StepCompleted` for each step the release left behind in order, and `WeightChanged` when the
 * canary's weight moved. Steps left by a skip (`promote --full`, a skipped step) are told by
 * their own Events (PromoteFull, StepSkipped), so a skipping release says nothing here of steps.
 */
export function progressEvents(
  spec: RolloutSpec,
  before: RolloutStatus | undefined,
  after: RolloutStatus,
  actions: readonly Effect[],
): Effect[] {
  const out: Effect[] = [];
  // A new revision restarts the steps at 0: nothing was completed by that move.
  const sameRelease =
    before?.currentRevision !== undefined && before.currentRevision === after.currentRevision;
  const skipped =
    after.promoteFull === true ||
    actions.some(
      (a) =>
        a.type === 'emitEvent' && (a.params.reason === 'StepSkipped' || a.params.reason === 'PromoteFull'),
    );
  const from = before?.currentStepIndex ?? 0;
  const to = after.currentStepIndex ?? 0;
  const total = stepsOf(spec).length;
  if (sameRelease && !skipped && !after.abort) {
    for (let i = from; i < Math.min(to, total); i++) {
      out.push(
        effect('emitEvent', {
          reason: 'StepCompleted',
          message: `Step ${i + 1} of ${total}${describeStep(spec, i)} completed for ${after.currentRevision}.`,
          type: 'Normal',
        }),
      );
    }
  }
  const was = before?.canary?.weight ?? 0;
  const is = after.canary?.weight ?? 0;
  // A promotion's weight falling to 0 is the canary becoming the stable: ReleasePromoted says so.
  const promoted =
    after.stableRevision !== before?.stableRevision && after.stableRevision === after.currentRevision;
  if (before && was !== is && !promoted) {
    let where = '';
    if (after.abort) where = ' (aborted)';
    else if (!sameRelease) where = ` (the release restarts with ${after.currentRevision})`;
    else if (to > 0 && to <= total) where = ` after step ${to} of ${total}`;
    out.push(
      effect('emitEvent', {
        reason: 'WeightChanged',
        message: `Canary weight ${was}% → ${is}%${where}.`,
        type: 'Normal',
      }),
    );
  }
  return out;
}
