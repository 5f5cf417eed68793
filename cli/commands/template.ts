import { POD_TEMPLATE_ANNOTATION } from '../../crds/labels.ts';
import { getRollout, type JsonPatchOp, jsonPatchRollout, listReplicaSets } from '../api.ts';
import type { ImageChange } from '../args.ts';
import { CliError } from '../errors.ts';
import type { Io } from '../io.ts';
import type { Kube } from '../kube.ts';
import {
  byRevisionDescending,
  type RawReplicaSet,
  REVISION_LABEL,
  type Rollout,
  revisionView,
} from '../model.ts';

/** Both commands edit spec, which a GitOps tool owns: say so, because the edit looks permanent and is not. */
export function gitOpsWarning(name: string, what: string): string {
  return (
    `warning: ${what} changes spec.template of rollout "${name}", which git owns: ` +
    'the next GitOps sync reverts it unless the same change is committed to git'
  );
}

// ---------- set image ----------

type Containers = { name: string; image?: string }[];

/** A Rollout whose pods come from a Deployment (workloadRef): its template is edited there. */
export const workloadRefMessage = (rollout: Rollout): string =>
  `rollout "${rollout.metadata.name}" takes its pod template from Deployment "${rollout.spec.workloadRef?.name}" (spec.workloadRef): change the Deployment`;

/**
 * JSON Patch ops for `set image`. Each replace is preceded by a `test` of the container's name so that a
 * template changed since it was read (containers reordered) fails instead of re-imaging the wrong one.
 */
export function setImageOps(rollout: Rollout, changes: ImageChange[]): JsonPatchOp[] {
  const template = rollout.spec.template;
  if (!template) throw new CliError(workloadRefMessage(rollout));
  const spec = template.spec as { containers: Containers; initContainers?: Containers };
  const lists: [string, Containers][] = [
    ['containers', spec.containers ?? []],
    ['initContainers', spec.initContainers ?? []],
  ];
  return changes.flatMap(({ container, image }) => {
    for (const [field, list] of lists) {
      const index = list.findIndex((c) => c.name === container);
      if (index >= 0) {
        const base = `/spec/template/spec/${field}/${index}`;
        return [
          { op: 'test' as const, path: `${base}/name`, value: container },
          { op: 'replace' as const, path: `${base}/image`, value: image },
        ];
      }
    }
    const names = lists.flatMap(([, list]) => list.map((c) => c.name));
    throw new CliError(
      `container "${container}" not found in rollout "${rollout.metadata.name}" (containers: ${names.join(', ') || 'none'})`,
    );
  });
}

export async function runSetImage(kube: Kube, io: Io, name: string, changes: ImageChange[]): Promise<number> {
  const rollout = await getRollout(kube, name);
  const ops = setImageOps(rollout, changes);
  await jsonPatchRollout(kube, name, ops);
  io.err(gitOpsWarning(name, 'set image'));
  for (const { container, image } of changes)
    io.out(`rollout "${name}": container "${container}" image set to ${image}`);
  return 0;
}

// ---------- undo ----------

/**
 * The ReplicaSet to go back to: revision N when asked for, else the newest revision numbered below the
 * current one (the one status.currentRevision names; the newest revision when status names none).
 */
export function chooseUndoTarget(
  rollout: Rollout,
  replicaSets: RawReplicaSet[],
  toRevision?: number,
): { target: RawReplicaSet; number: number } {
  const name = rollout.metadata.name ?? '';
  const numbered = replicaSets
    .map((rs) => ({ rs, view: revisionView(rs) }))
    .filter((x): x is typeof x & { view: { number: number } } => x.view.number !== undefined)
    .sort((a, b) => byRevisionDescending(a.view, b.view));
  if (numbered.length === 0) throw new CliError(`rollout "${name}" has no revisions to go back to`);
  const currentHash = rollout.status?.currentRevision;
  const current =
    numbered.find((x) => x.view.hash !== undefined && x.view.hash === currentHash) ?? numbered[0]!;
  const available = numbered
    .map((x) => x.view.number)
    .reverse()
    .join(', ');

  if (toRevision !== undefined) {
    const wanted = numbered.find((x) => x.view.number === toRevision);
    if (!wanted) {
      throw new CliError(`revision ${toRevision} not found for rollout "${name}" (revisions: ${available})`);
    }
    if (wanted === current) throw new CliError(`rollout "${name}" is already at revision ${toRevision}`);
    return { target: wanted.rs, number: toRevision };
  }
  const previous = numbered.find((x) => x.view.number < current.view.number);
  if (!previous) {
    throw new CliError(
      `rollout "${name}" has no revision before the current one (${current.view.number}); revisions: ${available}`,
    );
  }
  return { target: previous.rs, number: previous.view.number };
}

/**
 * The template the Rollout had at that revision. The controller keeps it verbatim on the
 * ReplicaSet, because the ReplicaSet's own copy carries the API server's defaults and would
 * hash as a new revision. Older ReplicaSets without it fall back to their own template.
 */
export function templateForUndo(rs: RawReplicaSet): Record<string, unknown> {
  const original = rs.metadata?.annotations?.[POD_TEMPLATE_ANNOTATION];
  if (original) return JSON.parse(original) as Record<string, unknown>;
  const template = structuredClone(rs.spec?.template ?? {}) as {
    metadata?: { labels?: Record<string, string>; creationTimestamp?: unknown; [k: string]: unknown };
    [k: string]: unknown;
  };
  const metadata = template.metadata;
  if (metadata) {
    if (metadata.labels) {
      delete metadata.labels[REVISION_LABEL];
      delete metadata.labels['pod-template-hash'];
      if (Object.keys(metadata.labels).length === 0) delete metadata.labels;
    }
    // Older API servers serialise an unset creationTimestamp as null; the Rollout schema wants a string or nothing.
    if (metadata.creationTimestamp === null) delete metadata.creationTimestamp;
  }
  return template;
}

export async function runUndo(kube: Kube, io: Io, name: string, toRevision?: number): Promise<number> {
  const rollout = await getRollout(kube, name);
  const replicaSets = await listReplicaSets(kube, name);
  const { target, number } = chooseUndoTarget(rollout, replicaSets, toRevision);
  await jsonPatchRollout(kube, name, [
    { op: 'replace', path: '/spec/template', value: templateForUndo(target) },
  ]);
  io.err(gitOpsWarning(name, 'undo'));
  const images = (target.spec?.template?.spec?.containers ?? []).map((c) => c.image ?? '?').join(', ');
  io.out(`rollout "${name}": template rolled back to revision ${number} (${images})`);
  return 0;
}
