import { transition } from 'xstate';
import type { RolloutSpec, RolloutStatus } from '../crds/index.ts';
import { type Effect, isEffect } from './actions.ts';
import type { Millis, ReleaseEvent } from './events.ts';
import { progressEvents } from './progress-events.ts';
import { autoPromotionAt, pauseEndsAt, pauseMayEnd, pauseOverdueAt, progressDeadlineAt } from './release.ts';
import { fromStatus, machineFor, type ReleaseSnapshot, statePath, toStatus } from './status.ts';

/** The earliest moment the machine must see an event again, for `requeueAfter`. */
export function nextWakeAt(snapshot: ReleaseSnapshot): Millis | undefined {
  return earliest([releaseWakeAt(snapshot), scaleDownWakeAt(snapshot)]);
}

/** When the release itself owes something: a pause ends, an auto-promotion, a progress deadline. */
function releaseWakeAt(snapshot: ReleaseSnapshot): Millis | undefined {
  const ctx = snapshot.context;
  const path = statePath(snapshot.value);
  const candidates: (Millis | undefined)[] = [];
  // A pause whose gate does not pass yet ends when the gate's next answer comes (the run's
  // status change wakes the release), or at its deadline.
  if (path === 'release.running.stepPause')
    candidates.push(pauseMayEnd(ctx) ? pauseEndsAt(ctx) : undefined, pauseOverdueAt(ctx));
  if (path === 'release.running.awaitingPromotion') candidates.push(autoPromotionAt(ctx));
  const waiting = [
    'release.running.awaitingCanary',
    'release.running.awaitingPreview',
    'release.running.finalizing',
  ];
  if (waiting.includes(path)) candidates.push(progressDeadlineAt(ctx));
  return earliest(candidates);
}

/** Housekeeping: an old revision's delayed scale-down. */
const scaleDownWakeAt = (snapshot: ReleaseSnapshot): Millis | undefined =>
  earliest(snapshot.context.scaleDown.map((e) => e.at));

function earliest(times: (Millis | undefined)[]): Millis | undefined {
  const known = times.filter((t): t is Millis => t !== undefined && !Number.isNaN(t));
  return known.length ? Math.min(...known) : undefined;
}

/** Applies events to a snapshot, collecting the effects in order. */
export function step(
  snapshot: ReleaseSnapshot,
  events: ReleaseEvent[],
): { snapshot: ReleaseSnapshot; actions: Effect[] } {
  const machine = machineFor(snapshot.context.spec);
  const actions: Effect[] = [];
  let current = snapshot;
  for (const event of events) {
    const [next, emitted] = transition(machine, current as never, event) as [
      ReleaseSnapshot,
      { type: string }[],
    ];
    current = next;
    for (const action of emitted) {
      if (isEffect(action)) actions.push({ type: action.type, params: action.params } as Effect);
    }
  }
  return { snapshot: current, actions };
}

export interface Decision {
  status: RolloutStatus;
  actions: Effect[];
  wakeAt: Millis | undefined;
  /** `wakeAt` is only housekeeping (a scale-down), which may wait behind steps that are owed. */
  wakeIsHousekeeping: boolean;
}

/**
 * What the controller calls each reconcile: restore from status, apply this reconcile's events
 * in order (signals first, then OBSERVE), and map the result back. `actions` are to be carried
 * out in order before `status` is written; `wakeAt` is when to requeue at the latest.
 */
export function decide(
  rollout: { name: string; spec: RolloutSpec },
  status: RolloutStatus | undefined,
  events: ReleaseEvent[],
): Decision {
  const { snapshot, actions } = step(fromStatus(rollout.name, rollout.spec, status), events);
  const release = releaseWakeAt(snapshot);
  const wakeAt = nextWakeAt(snapshot);
  const next = toStatus(snapshot);
  return {
    status: next,
    actions: [...actions, ...progressEvents(rollout.spec, status, next, actions)],
    wakeAt,
    wakeIsHousekeeping: wakeAt !== undefined && (release === undefined || wakeAt < release),
  };
}
