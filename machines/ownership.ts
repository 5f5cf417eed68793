// Whether an object Sluice finds under a name or label it would use is really this Rollout's.
// Names are deterministic (a ReplicaSet per revision, an AnalysisRun per gate position) and
// labels are writable by anyone who may create the object, so neither proves anything: only a
// controller ownerReference naming this Rollout's uid does. What is not ours is never adopted,
// scaled, patched or read as a verdict; these functions say so, and say why, for status.
import { REVISION_LABEL } from '../crds/labels.ts';

interface OwnerRef {
  apiVersion?: string;
  kind?: string;
  name?: string;
  uid?: string;
  controller?: boolean;
}

/** Any Kubernetes object; its metadata is read defensively (a CRD's is loosely typed). */
export interface Owned {
  metadata?: object;
}

/** The object's controller ownerReference, if it has one (the API server allows at most one). */
function controllerOf(obj: Owned): OwnerRef | undefined {
  const refs = (obj.metadata as { ownerReferences?: unknown } | undefined)?.ownerReferences;
  if (!Array.isArray(refs)) return undefined;
  return refs.find((r): r is OwnerRef => typeof r === 'object' && r !== null && r.controller === true);
}

const isRolloutRef = (ref: OwnerRef) =>
  ref.kind === 'Rollout' && (ref.apiVersion ?? '').startsWith('sluice.dev/');

/** True when the object's controller ownerReference is the Rollout with this uid. */
export function controlledBy(obj: Owned | undefined, rolloutUid: string | undefined): boolean {
  if (!obj || !rolloutUid) return false;
  const controller = controllerOf(obj);
  return controller !== undefined && isRolloutRef(controller) && controller.uid === rolloutUid;
}

/** Who the object says controls it, in words for a status message. */
function describeController(obj: Owned): string {
  const controller = controllerOf(obj);
  if (!controller) return 'it has no controller ownerReference';
  return `its controller is ${controller.kind ?? '?'} ${controller.name ?? '?'} (uid ${controller.uid ?? '?'})`;
}

export interface RolloutIdentity {
  namespace: string;
  name: string;
  uid?: string;
}

/**
 * The status message for an object found where this Rollout's own would be. `consequence` says
 * what Sluice will not do with it; `remedy` what a person can do.
 */
export function notOwnedMessage(
  kind: 'AnalysisRun' | 'ReplicaSet',
  objectName: string,
  obj: Owned,
  rollout: RolloutIdentity,
): string {
  const why = `${kind} ${rollout.namespace}/${objectName} is not owned by Rollout ${rollout.name} (uid ${rollout.uid ?? '?'}): ${describeController(obj)}`;
  return kind === 'AnalysisRun'
    ? `${why}. Its result is not this gate's verdict; delete it, then resume the Rollout to run the gate again`
    : `${why}. Sluice does not scale it or send traffic to it; delete or rename it`;
}

const pairs = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');

export interface ServiceView {
  namespace: string;
  name: string;
  /** Which field of the Rollout names it, e.g. spec.strategy.canary.canaryService. */
  field: string;
  selector: Record<string, string> | undefined;
}

export interface PodSelection {
  /** The Rollout's spec.selector.matchLabels. */
  matchLabels: Record<string, string>;
  /** The labels every pod of the Rollout carries (spec.template.metadata.labels). */
  podLabels: Record<string, string>;
}

/**
 * Why Sluice must not add its `sluice.dev/revision` key to this Service's selector, or
 * undefined when it may. Sluice only narrows a Service that already selects this Rollout's pods
 * and nothing wider than its selector: writing the key into another app's Service (a tenant
 * naming it as canaryService) would take that Service's traffic, or cut it off. A Service
 * without a selector of its own (endpoints kept by hand, ExternalName) is not taken over either.
 */
export function serviceRefusal(service: ServiceView, rollout: PodSelection): string | undefined {
  const own = Object.fromEntries(
    Object.entries(service.selector ?? {}).filter(([key]) => key !== REVISION_LABEL),
  );
  const where = `Service ${service.namespace}/${service.name} (${service.field})`;
  if (Object.keys(own).length === 0) {
    return `${where} has no selector of its own; Sluice only adds ${REVISION_LABEL} to a Service that already selects this Rollout's pods`;
  }
  const missing = Object.entries(rollout.matchLabels).filter(([k, v]) => own[k] !== v);
  const foreign = Object.entries(own).filter(([k, v]) => rollout.podLabels[k] !== v);
  if (missing.length === 0 && foreign.length === 0) return undefined;
  const detail =
    foreign.length > 0
      ? `its selector ${pairs(own)} does not select this Rollout's pods (labels ${pairs(rollout.podLabels) || 'none'})`
      : `its selector ${pairs(own)} does not include the Rollout's selector ${pairs(rollout.matchLabels)}`;
  return `${where}: ${detail}; Sluice will not rewrite the selector of a Service that is not this Rollout's`;
}
