import type { Condition, RolloutStatus } from '../crds/index.ts';

export type ConditionType = 'Ready' | 'Reconciling' | 'Stalled' | 'Paused';

export interface Problem {
  /** CamelCase reason, e.g. InvalidSpec or VirtualServiceNotFound. */
  reason: string;
  message: string;
}

/** How many pods of the stable revision are available, of how many wanted. */
export interface PodsAvailable {
  available: number;
  wanted: number;
}

type Desired = Record<ConditionType, Omit<Condition, 'type' | 'lastTransitionTime' | 'observedGeneration'>>;

/**
 * kstatus conditions from the phase. Flux and other kstatus readers treat Reconciling=True as
 * in progress and Stalled=True as failed, so an aborted release reads as failed and a
 * release paused for a person reads as still in progress.
 */
export function desiredConditions(status: RolloutStatus, problem?: Problem, pods?: PodsAvailable): Desired {
  const message = status.message ?? '';
  if (problem) {
    return {
      Ready: { status: 'False', reason: problem.reason, message: problem.message },
      Reconciling: { status: 'False', reason: problem.reason, message: problem.message },
      Stalled: { status: 'True', reason: problem.reason, message: problem.message },
      Paused: { status: 'False', reason: 'NotPaused', message: '' },
    };
  }
  const paused = status.pause
    ? { status: 'True' as const, reason: status.pause.reason, message: status.pause.message ?? message }
    : { status: 'False' as const, reason: 'NotPaused', message: '' };
  switch (status.phase) {
    case 'Healthy':
      // Promoted is not ready: a GitOps tool waiting on Ready must not report success while
      // the serving revision's pods are still starting (a first release, a scale-up).
      if (pods && pods.available < pods.wanted) {
        const waiting = `${pods.available} of ${pods.wanted} pods of revision ${status.stableRevision} available`;
        return {
          Ready: { status: 'False', reason: 'WaitingForPods', message: waiting },
          Reconciling: { status: 'True', reason: 'WaitingForPods', message: waiting },
          Stalled: { status: 'False', reason: 'WaitingForPods', message: '' },
          Paused: paused,
        };
      }
      return {
        Ready: { status: 'True', reason: 'Healthy', message },
        Reconciling: { status: 'False', reason: 'Healthy', message: '' },
        Stalled: { status: 'False', reason: 'Healthy', message: '' },
        Paused: paused,
      };
    case 'Degraded':
      return {
        Ready: { status: 'False', reason: 'Degraded', message },
        Reconciling: { status: 'False', reason: 'Degraded', message },
        Stalled: { status: 'True', reason: 'RolledBack', message },
        Paused: paused,
      };
    case 'Paused':
      return {
        Ready: { status: 'False', reason: 'Paused', message },
        Reconciling: { status: 'True', reason: 'Paused', message },
        Stalled: { status: 'False', reason: 'Paused', message: '' },
        Paused: paused,
      };
    default:
      return {
        Ready: { status: 'False', reason: 'Progressing', message },
        Reconciling: { status: 'True', reason: 'Progressing', message },
        Stalled: { status: 'False', reason: 'Progressing', message: '' },
        Paused: paused,
      };
  }
}

/** Merges desired conditions into the previous ones, keeping lastTransitionTime unless status flips. */
export function mergeConditions(
  previous: Condition[] | undefined,
  desired: Desired,
  generation: number,
  now: string,
): Condition[] {
  return (Object.keys(desired) as ConditionType[]).map((type) => {
    const want = desired[type];
    const old = previous?.find((c) => c.type === type);
    const lastTransitionTime =
      old && old.status === want.status && old.lastTransitionTime ? old.lastTransitionTime : now;
    return { type, ...want, observedGeneration: generation, lastTransitionTime };
  });
}
