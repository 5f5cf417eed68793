import { type RolloutSpec, type RolloutStatus, replicasOf } from '../crds/index.ts';

/**
 * The replicas a Deployment named in workloadRef should run, as Argo Rollouts' scaleDown means
 * it, or undefined to leave it as it is. `progressively` hands the Deployment's load over as the
 * Rollout's stable pods become available, and hands it back if they go; `onsuccess` scales it to
 * zero once the stable runs all its pods; `never` (the default) leaves it to its owner. Until the
 * Rollout has a stable revision, nothing is taken from the Deployment.
 */
export function deploymentReplicas(
  spec: RolloutSpec,
  status: RolloutStatus | undefined,
  stableAvailable: number,
): number | undefined {
  const mode = spec.workloadRef?.scaleDown ?? 'never';
  if (mode === 'never' || status?.stableRevision === undefined) return undefined;
  const replicas = replicasOf(spec);
  if (mode === 'progressively') return Math.max(0, replicas - stableAvailable);
  return stableAvailable >= replicas ? 0 : undefined;
}
