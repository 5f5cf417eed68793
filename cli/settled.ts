import type { Rollout } from './model.ts';

/**
 * Where a release stands for `kubectl sluice status`, which a pipeline waits on as it waits on
 * `kubectl argo rollouts status`: done with exit 0 (Healthy), done with exit 1 (Degraded, or
 * Stalled: it will not get anywhere without a change), or still going, with the line to print.
 */
export type Settled = { done: true; code: 0 | 1; line: string } | { done: false; line: string };

export function settled(rollout: Rollout): Settled {
  const status = rollout.status ?? {};
  const generation = rollout.metadata.generation;
  // A spec the controller has not read yet says nothing about this change: keep waiting.
  if (generation !== undefined && status.observedGeneration !== generation)
    return {
      done: false,
      line: `Progressing - waiting for the controller to observe generation ${generation}`,
    };
  const stalled = status.conditions?.find((c) => c.type === 'Stalled' && c.status === 'True');
  if (stalled)
    return { done: true, code: 1, line: `Stalled - ${stalled.message ?? stalled.reason ?? ''}`.trim() };
  const message = status.message ? ` - ${status.message}` : '';
  switch (status.phase) {
    case 'Healthy':
      return { done: true, code: 0, line: 'Healthy' };
    case 'Degraded':
      return { done: true, code: 1, line: `Degraded${message}` };
    case 'Paused':
      return { done: false, line: `Paused${message}` };
    default:
      return { done: false, line: `Progressing${message}` };
  }
}
