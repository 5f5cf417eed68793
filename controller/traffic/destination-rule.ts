// Subset-level canaries: the VirtualService splits between two subsets of one host, and the
// DestinationRule says which pods each subset is. Sluice owns one label of each of those two
// subsets, `sluice.dev/revision`, and leaves every other subset and field as written.
// Not wired into the reconcile yet: the schema refuses istio.destinationRule until it is (the
// patch, an informer, RBAC on destinationrules and its place in write-plan.ts's order).
import { REVISION_LABEL } from '../../crds/labels.ts';
import { RoutingError } from './virtual-service.ts';

export interface DestinationRule {
  metadata: { name: string; namespace?: string; resourceVersion?: string; [key: string]: unknown };
  spec: {
    host?: string;
    subsets?: { name: string; labels?: Record<string, string>; [key: string]: unknown }[];
  };
}

export type SubsetPatchOp =
  | { op: 'test'; path: string; value: unknown }
  | { op: 'add' | 'replace'; path: string; value: unknown };

/** JSON Patch pointing each named subset at a revision; empty when they already do. */
export function subsetPatch(dr: DestinationRule, revisions: Record<string, string>): SubsetPatchOp[] {
  const subsets = dr.spec.subsets ?? [];
  const ops: SubsetPatchOp[] = [];
  for (const [subset, revision] of Object.entries(revisions)) {
    const index = subsets.findIndex((s) => s.name === subset);
    if (index < 0) {
      const names = subsets.map((s) => s.name).join(', ') || 'none';
      throw new RoutingError(
        `DestinationRule ${dr.metadata.namespace}/${dr.metadata.name}: subset '${subset}' not found (subsets: ${names})`,
      );
    }
    const labels = subsets[index]?.labels;
    if (labels?.[REVISION_LABEL] === revision) continue;
    if (labels === undefined) {
      ops.push({ op: 'add', path: `/spec/subsets/${index}/labels`, value: { [REVISION_LABEL]: revision } });
    } else {
      // `/` in a label key is escaped as `~1` in a JSON Pointer.
      const key = REVISION_LABEL.replace(/~/g, '~0').replace(/\//g, '~1');
      ops.push({ op: 'add', path: `/spec/subsets/${index}/labels/${key}`, value: revision });
    }
  }
  if (ops.length === 0) return ops;
  return [{ op: 'test', path: '/metadata/resourceVersion', value: dr.metadata.resourceVersion }, ...ops];
}
