// Pure builders for the objects a Rollout owns: one ReplicaSet per revision, and the
// single selector key Sluice sets on the user's Services.
import type { V1LabelSelector, V1OwnerReference, V1ReplicaSet } from '@kubernetes/client-node';
import {
  API_VERSION,
  destinationRuleOf,
  type PodTemplate,
  type RoleMetadata,
  type Rollout,
} from '../crds/index.ts';
import { CANONICAL_REVISION_LABEL, POD_TEMPLATE_ANNOTATION } from '../crds/labels.ts';
import { statusCode } from './kube/client.ts';
import {
  BASELINE_LABEL,
  canonicalJson,
  REVISION_LABEL,
  REVISION_NUMBER_ANNOTATION,
  ROLLOUT_LABEL,
} from './revision.ts';
import type { Problem } from './rollout-conditions.ts';

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

/** A Rollout with its pod template in hand: its own, or the workloadRef Deployment's. */
export type ResolvedRollout = Rollout & { spec: { template: PodTemplate } };

export function replicaSetFor(
  rollout: ResolvedRollout,
  revision: string,
  revisionNumber: number,
  replicas: number,
): V1ReplicaSet {
  const name = rollout.metadata.name ?? '';
  const template = rollout.spec.template;
  const podLabels = {
    ...(template.metadata?.labels ?? {}),
    [REVISION_LABEL]: revision,
    // Subset routing puts both revisions behind one Service: Istio's metrics tell them apart by
    // this label (destination_canonical_revision), and so do the builtin gates.
    ...(destinationRuleOf(rollout.spec.strategy) ? { [CANONICAL_REVISION_LABEL]: revision } : {}),
  };
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
      ...(rollout.spec.minReadySeconds !== undefined && { minReadySeconds: rollout.spec.minReadySeconds }),
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

/**
 * A baseline's ReplicaSet: the stable's pod template (as recorded on the stable's ReplicaSet)
 * under the baseline's own revision, without a revision number, labelled with the stable it
 * copies.
 */
export function baselineReplicaSetFor(
  rollout: ResolvedRollout,
  stable: V1ReplicaSet,
  revision: string,
  replicas: number,
): V1ReplicaSet {
  const template = recordedTemplate(stable);
  const rs = replicaSetFor({ ...rollout, spec: { ...rollout.spec, template } }, revision, 0, replicas);
  const { [REVISION_NUMBER_ANNOTATION]: _number, ...annotations } = rs.metadata?.annotations ?? {};
  const of = stable.metadata?.labels?.[REVISION_LABEL] ?? '';
  return {
    ...rs,
    metadata: { ...rs.metadata, labels: { ...rs.metadata?.labels, [BASELINE_LABEL]: of }, annotations },
  };
}

/**
 * The template a ReplicaSet was created from: the verbatim copy Sluice recorded, or (on one
 * created without it) its own, which differs only by the server's defaults.
 */
function recordedTemplate(rs: V1ReplicaSet): PodTemplate {
  const text = rs.metadata?.annotations?.[POD_TEMPLATE_ANNOTATION];
  try {
    if (text !== undefined) return JSON.parse(text) as PodTemplate;
  } catch {
    // unreadable: the ReplicaSet's own template below
  }
  return rs.spec?.template as PodTemplate;
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

const MAX_LABEL_VALUE = 63;

/**
 * The pod template is stored loosely in the Rollout (as in a Deployment it would be checked
 * on apply), so a template the API server will not accept surfaces only when its ReplicaSet is
 * created. That answer is final until someone edits the Rollout: a Problem to stall on, naming
 * the fields the server named, rather than an error retried forever.
 */
export function refusedReplicaSet(err: unknown, rollout: string): Problem | undefined {
  const code = statusCode(err);
  if (code !== 422 && code !== 400) return undefined;
  if (rollout.length > MAX_LABEL_VALUE) {
    return {
      reason: 'InvalidSpec',
      message:
        `the Rollout name is ${rollout.length} characters; its ReplicaSets and pods carry it as label ` +
        `${ROLLOUT_LABEL}, whose value holds at most ${MAX_LABEL_VALUE}: rename the Rollout`,
    };
  }
  const body = (
    err as {
      body?: { message?: string; details?: { causes?: { field?: string; message?: string }[] } };
    }
  ).body;
  // 422 lists the invalid fields; 400 (a value of the wrong type) names the field in its message.
  const causes = (body?.details?.causes ?? [])
    .map((c) => `${c.field ?? '<unknown field>'}: ${(c.message ?? 'invalid').slice(0, 200)}`)
    .join('; ');
  const detail =
    causes || body?.message?.replace(/^ReplicaSet in version "v1" cannot be handled as a ReplicaSet: /, '');
  return {
    reason: 'InvalidSpec',
    message:
      `the API server refused this revision's ReplicaSet, fix spec.template: ${detail || 'no details given'}`.slice(
        0,
        1000,
      ),
  };
}

/** A merge patch's labels and annotations: a key set to null is removed. */
export interface MetadataPatch {
  labels: Record<string, string | null>;
  annotations: Record<string, string | null>;
}

/**
 * What moves a revision's pods from one role's metadata to the next: the new keys set, the
 * keys only the old role had removed, except where the pod template itself carries the key
 * (that value comes back rather than being dropped).
 */
export function roleMetadataPatch(
  next: RoleMetadata,
  previous: RoleMetadata,
  template: { labels?: Record<string, string>; annotations?: Record<string, string> } | undefined,
): MetadataPatch {
  const side = (key: 'labels' | 'annotations') => {
    const out: Record<string, string | null> = {};
    for (const k of Object.keys(previous[key] ?? {})) out[k] = template?.[key]?.[k] ?? null;
    return Object.assign(out, next[key] ?? {});
  };
  return { labels: side('labels'), annotations: side('annotations') };
}
