// Subset-level canaries: the VirtualService splits between two subsets of one host, and the
// DestinationRule says which pods each subset is. Sluice owns one label of each of those two
// subsets, `sluice.dev/revision`, and leaves every other subset and field as written.
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

const where = (dr: DestinationRule) => `DestinationRule ${dr.metadata.namespace}/${dr.metadata.name}`;

/** The index of each named subset, or a RoutingError naming the missing one and those there are. */
function indexes(dr: DestinationRule, names: readonly string[]): number[] {
  const subsets = dr.spec.subsets ?? [];
  return names.map((subset) => {
    const index = subsets.findIndex((s) => s.name === subset);
    if (index < 0) {
      const there = subsets.map((s) => s.name).join(', ') || 'none';
      throw new RoutingError(`${where(dr)}: subset '${subset}' not found (subsets: ${there})`);
    }
    return index;
  });
}

/** Subset name → the revision its labels select now (undefined: none); throws when a subset is missing. */
export function subsetRevisions(
  dr: DestinationRule,
  names: readonly string[],
): Record<string, string | undefined> {
  const subsets = dr.spec.subsets ?? [];
  const found = indexes(dr, names);
  return Object.fromEntries(
    names.map((name, i) => [name, subsets[found[i] as number]?.labels?.[REVISION_LABEL]]),
  );
}

// `/` in a label key is escaped as `~1` in a JSON Pointer.
const LABEL_KEY = REVISION_LABEL.replace(/~/g, '~0').replace(/\//g, '~1');

/** JSON Patch pointing each named subset at a revision; empty when they already do. */
export function subsetPatch(dr: DestinationRule, revisions: Record<string, string>): SubsetPatchOp[] {
  const subsets = dr.spec.subsets ?? [];
  const names = Object.keys(revisions);
  const found = indexes(dr, names);
  const ops: SubsetPatchOp[] = [];
  names.forEach((subset, i) => {
    const index = found[i] as number;
    const revision = revisions[subset] as string;
    const labels = subsets[index]?.labels;
    if (labels?.[REVISION_LABEL] === revision) return;
    if (labels === undefined) {
      ops.push({ op: 'add', path: `/spec/subsets/${index}/labels`, value: { [REVISION_LABEL]: revision } });
    } else {
      ops.push({ op: 'add', path: `/spec/subsets/${index}/labels/${LABEL_KEY}`, value: revision });
    }
  });
  if (ops.length === 0) return ops;
  return [{ op: 'test', path: '/metadata/resourceVersion', value: dr.metadata.resourceVersion }, ...ops];
}
