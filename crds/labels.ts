// Labels and annotations Sluice puts on the objects it owns: part of the API, since the
// controller, the kubectl plugin and people's selectors all rely on them.
export const REVISION_LABEL = 'sluice.dev/revision';
export const ROLLOUT_LABEL = 'sluice.dev/rollout';
export const INSTANCE_LABEL = 'sluice.dev/controller-instance';
export const REVISION_NUMBER_ANNOTATION = 'sluice.dev/revision-number';
/**
 * On a baseline's ReplicaSet (baselineService): the stable revision whose template it runs. A
 * baseline is not a revision of the Rollout: it has no number and is never kept as history.
 */
export const BASELINE_LABEL = 'sluice.dev/baseline-of';
/** The Rollout's pod template at that revision, verbatim (the ReplicaSet's copy has server defaults). */
export const POD_TEMPLATE_ANNOTATION = 'sluice.dev/pod-template';
/** On a ReplicaSet: the role metadata (canaryMetadata / stableMetadata) Sluice last put on its pods, as JSON. */
export const ROLE_METADATA_ANNOTATION = 'sluice.dev/role-metadata';
/**
 * Istio's pod label for the `destination_canonical_revision` of its metrics. Under subset routing
 * both revisions sit behind one Service, so Sluice sets it to the revision on their pods: it is
 * how the builtin gates tell the canary's requests from the stable's.
 */
export const CANONICAL_REVISION_LABEL = 'service.istio.io/canonical-revision';
