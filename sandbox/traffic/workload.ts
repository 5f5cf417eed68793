export interface OwnerRef {
  kind: string;
  name: string;
  controller?: boolean;
}

/**
 * Istio's destination_workload: for a ReplicaSet-owned pod, the owner's name without the
 * pod-template hash, so canary and stable pods of one release share a workload. Sluice's
 * ReplicaSets may be suffixed with their `sluice.dev/revision` instead; strip that too.
 */
export function workloadName(
  podName: string,
  labels: Record<string, string>,
  owners: readonly OwnerRef[],
): string {
  const owner = owners.find((o) => o.controller) ?? owners[0];
  if (!owner) return podName;
  if (owner.kind !== 'ReplicaSet') return owner.name;
  let name = owner.name;
  for (const suffix of [labels['pod-template-hash'], labels['sluice.dev/revision']]) {
    if (suffix && name.endsWith(`-${suffix}`)) name = name.slice(0, -(suffix.length + 1));
  }
  return name;
}
