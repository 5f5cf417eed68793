// Whether a Rollout's rollback should be committed back to git: a pure look at spec and status.
// Once per failed revision: status.writeBack records the revision it was about, so a restart,
// a resync or a second replica never commits twice.
import type { RolloutSpec, RolloutStatus } from '../crds/index.ts';

export interface WriteBackDue {
  /** The revision that was rolled back, still in spec.template (and in git). */
  failedRevision: string;
  /** The revision serving traffic, whose template git should hold again. */
  stableRevision: string;
  /** Why the release was aborted: the gate that failed and its message. */
  reason: string;
}

/**
 * Aborts a person asked for (`kubectl sluice abort`) are not rolled back in git: that person may
 * want to retry. The machine words them `requested by <who>` or `aborted on request`.
 */
export function isRequestedAbort(reason: string | undefined): boolean {
  return reason === undefined || reason.startsWith('requested by') || reason === 'aborted on request';
}

export function writeBackDue(
  spec: Pick<RolloutSpec, 'writeBack'>,
  status: RolloutStatus | undefined,
  enabledByDefault: boolean,
): WriteBackDue | undefined {
  if (!(spec.writeBack?.enabled ?? enabledByDefault)) return undefined;
  if (status?.phase !== 'Degraded' || status.abort !== true) return undefined;
  const failed = status.currentRevision;
  const stable = status.stableRevision;
  if (!failed || !stable || failed === stable) return undefined;
  const last = status.history?.at(-1);
  if (last?.outcome !== 'Aborted' || last.revision !== failed || isRequestedAbort(last.reason))
    return undefined;
  if (status.writeBack?.revision === failed) return undefined;
  return { failedRevision: failed, stableRevision: stable, reason: last.reason ?? '' };
}
