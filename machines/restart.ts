// Restarting a Rollout's pods, as Argo Rollouts' `restartAt` does: once the restart time has
// come, the pods of its live ReplicaSets (stable and canary) created before it are replaced one
// at a time, and only while every other pod is ready, so at most one is ever missing. A
// ReplicaSet whose pods are all newer is never touched. The time is the later of spec.restartAt
// (written in git, Argo's shape) and the last `kubectl sluice restart` (a signal, in status, so
// that a GitOps sync does not undo it). Pure: the controller (controller/restart.ts) reads the
// pods, evicts the one named and records the outcome.

/** What a restart reads of the Rollout. */
export interface RestartRecord {
  /** spec.restartAt. */
  restartAt?: string;
  /** status.restartRequestedAt, with a pending `restart` signal already folded in. */
  requestedAt?: string;
  /** status.restartedAt: the restart time last completed. */
  restartedAt?: string;
}

/** A pod of one of the Rollout's live ReplicaSets. */
export interface RestartPod {
  name: string;
  createdAt: string;
  ready: boolean;
  terminating: boolean;
}

/** A live ReplicaSet (desired above zero): how many pods it wants and how many are ready. */
export interface RestartReplicaSet {
  name: string;
  desired: number;
  ready: number;
}

export type RestartStep =
  /** Nothing owed, or not yet: `wakeAt` when a restart time is still to come. */
  | { type: 'idle'; wakeAt?: number }
  /** Replace this pod now (the oldest created before the restart time). */
  | { type: 'evict'; pod: string; at: string; left: number }
  /** A pod is missing or not ready: wait for it before taking another. */
  | { type: 'wait'; at: string; left: number; why: string }
  /** Every pod is newer than the restart time and ready: record it. */
  | { type: 'done'; at: string };

const time = (iso: string | undefined): number => (iso === undefined ? Number.NaN : Date.parse(iso));

/**
 * The restart owed, if any: the later of spec.restartAt and the last request, in whole seconds,
 * when later than the last done. Whole seconds because a pod's creationTimestamp has no finer
 * grain: a replacement made in the second a restart was asked must count as new, or it would be
 * replaced again (Argo's restartAt is whole seconds too).
 */
export function restartOwed(record: RestartRecord): string | undefined {
  const times = [record.restartAt, record.requestedAt].map(time).filter((t) => !Number.isNaN(t));
  if (times.length === 0) return undefined;
  const at = Math.floor(Math.max(...times) / 1000) * 1000;
  const done = time(record.restartedAt);
  return !Number.isNaN(done) && done >= at ? undefined : new Date(at).toISOString().replace('.000Z', 'Z');
}

/** The next move of a restart, given the Rollout's record, its live ReplicaSets and their pods. */
export function restartStep(
  record: RestartRecord,
  now: number,
  replicaSets: RestartReplicaSet[],
  pods: RestartPod[],
): RestartStep {
  const at = restartOwed(record);
  if (at === undefined) return { type: 'idle' };
  if (time(at) > now) return { type: 'idle', wakeAt: time(at) };
  const older = pods
    .filter((p) => time(p.createdAt) < time(at))
    .sort((a, b) => time(a.createdAt) - time(b.createdAt) || a.name.localeCompare(b.name));
  const left = older.length;
  // Availability first: one pod down at a time, counting a replacement that is not ready yet.
  const unready = replicaSets.find((rs) => rs.ready < rs.desired);
  const notReady = pods.find((p) => p.terminating || !p.ready);
  if (unready || notReady) {
    const why = notReady
      ? `pod ${notReady.name} is ${notReady.terminating ? 'terminating' : 'not ready'}`
      : `ReplicaSet ${unready?.name} has ${unready?.ready} of ${unready?.desired} pods ready`;
    return { type: 'wait', at, left, why };
  }
  const oldest = older[0];
  if (oldest === undefined) return { type: 'done', at };
  return { type: 'evict', pod: oldest.name, at, left };
}
