// Pure builders for the objects a Rollout owns: one ReplicaSet per revision, and the
// single selector key Sluice sets on the user's Services.
import type { V1LabelSelector, V1OwnerReference, V1ReplicaSet } from '@kubernetes/client-node';
import { API_VERSION, type Rollout } from '../crds/index.ts';
import { POD_TEMPLATE_ANNOTATION } from '../crds/labels.ts';
import { canonicalJson, REVISION_LABEL, REVISION_NUMBER_ANNOTATION, ROLLOUT_LABEL } from './revision.ts';

const MAX_NAME = 253;
// Pod names append 6 characters to the ReplicaSet's; keep room so pods stay valid names.
const POD_SUFFIX = 6;

export function replicaSetName(rollout: string, revision: string): string {
  const room = MAX_NAME - POD_SUFFIX - revision.length - 1;
  return `${rollout.slice(0, room).replace(/[-.]+$/, '')}-${revision}`;
}

export function ownerReference(rollout: Rollout): V1OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: 'Rollout',
    name: rollout.metadata.name ?? '',
    uid: rollout.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function replicaSetFor(
  rollout: Rollout,
  revision: string,
  revisionNumber: number,
  replicas: number,
): V1ReplicaSet {
  const name = rollout.metadata.name ?? '';
  const template = rollout.spec.template;
  const podLabels = { ...(template.metadata?.labels ?? {}), [REVISION_LABEL]: revision };
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: replicaSetName(name, revision),
      namespace: rollout.metadata.namespace,
      labels: { ...podLabels, [ROLLOUT_LABEL]: name },
      annotations: {
        [REVISION_NUMBER_ANNOTATION]: String(revisionNumber),
        [POD_TEMPLATE_ANNOTATION]: canonicalJson(template),
      },
      ownerReferences: [ownerReference(rollout)],
    },
    spec: {
      replicas,
      selector: {
        matchLabels: { ...(rollout.spec.selector.matchLabels ?? {}), [REVISION_LABEL]: revision },
        matchExpressions: rollout.spec.selector.matchExpressions as V1LabelSelector['matchExpressions'],
      },
      template: {
        ...template,
        metadata: { ...(template.metadata ?? {}), labels: podLabels },
      } as NonNullable<V1ReplicaSet['spec']>['template'],
    },
  };
}

/** The merge patch that points a Service at a revision, touching no other selector key. */
export function serviceSelectorPatch(revision: string): { spec: { selector: Record<string, string> } } {
  return { spec: { selector: { [REVISION_LABEL]: revision } } };
}

/** Ready and available counts of a ReplicaSet, as the machines' readiness facts need them. */
export function replicaSetReady(rs: V1ReplicaSet | undefined, wanted: number): boolean {
  if (!rs) return wanted === 0;
  const status = rs.status;
  return (
    (rs.spec?.replicas ?? 0) === wanted &&
    (status?.observedGeneration ?? 0) >= (rs.metadata?.generation ?? 0) &&
    (status?.availableReplicas ?? 0) >= wanted
  );
}
