import type { Rollout } from './model.ts';

/** Where a release stands, in the words `kubectl argo rollouts status` prints. */
export type SettledState = 'Healthy' | 'Degraded' | 'Stalled' | 'Paused' | 'Progressing';

/**
 * Where a release stands for `kubectl sluice status`, which a pipeline waits on as it waits on
 * `kubectl argo rollouts status`: done with exit 0 (Healthy), done with exit 1 (Degraded, or
 * Stalled: it will not get anywhere without a change), or still going.
 */
export type Settled = { state: SettledState; message?: string } & (
  | { done: true; code: 0 | 1 }
  | { done: false }
);

export function settled(rollout: Rollout): Settled {
  const status = rollout.status ?? {};
  const generation = rollout.metadata.generation;
  // A spec the controller has not read yet says nothing about this change: keep waiting.
  if (generation !== undefined && status.observedGeneration !== generation)
    return {
      done: false,
      state: 'Progressing',
      message: `waiting for the controller to observe generation ${generation}`,
    };
  const stalled = status.conditions?.find((c) => c.type === 'Stalled' && c.status === 'True');
  if (stalled)
    return withMessage({ done: true, code: 1, state: 'Stalled' }, stalled.message ?? stalled.reason);
  switch (status.phase) {
    case 'Healthy':
      return { done: true, code: 0, state: 'Healthy' };
    case 'Degraded':
      return withMessage({ done: true, code: 1, state: 'Degraded' }, status.message);
    case 'Paused':
      return withMessage({ done: false, state: 'Paused' }, status.message);
    default:
      return withMessage({ done: false, state: 'Progressing' }, status.message);
  }
}

function withMessage(s: Settled, message: string | undefined): Settled {
  return message ? { ...s, message } : s;
}

/** `Paused - waiting for promotion`: the line status prints, the state painted by `paint`. */
export function settledLine(s: Settled, paint: (state: string) => string = (t) => t): string {
  return `${paint(s.state)}${s.message ? ` - ${s.message}` : ''}`;
}
