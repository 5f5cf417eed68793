// A gate's `args[].valueFrom`, as Argo Rollouts gives it: read from the Rollout and its
// revisions once, when the run is created, so a run records the values it measured with and a
// label edited mid-run changes nothing. Pure: the Rollout comes in as data.
import type { GateArg, Rollout } from '../crds/index.ts';

/** The revisions `podTemplateHashValue` names: the stable one and the one under test. */
export interface Revisions {
  stable?: string;
  latest: string;
}

/** A valueFrom that cannot be read; the message names the arg and the field. */
export class ArgValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArgValueError';
  }
}

/** `metadata.labels['k']` / `metadata.annotations["k"]`, as Kubernetes' downward API writes them. */
const MAP_KEY = /^metadata\.(labels|annotations)\[(?:'([^']*)'|"([^"]*)")\]$/;
const METADATA_FIELDS = new Set(['name', 'namespace', 'uid']);
/** A dotted path under spec or status: names only (no indexing), so a walk is at most this deep. */
const DOTTED = /^(spec|status)(\.[A-Za-z0-9_-]+){1,16}$/;

/** The args with every valueFrom replaced by the value it names; throws ArgValueError. */
export function resolveArgValues(
  args: readonly GateArg[] | undefined,
  rollout: Rollout,
  revisions: Revisions,
): { name: string; value?: string }[] | undefined {
  return args?.map(({ name, value, valueFrom }) => {
    if (!valueFrom) return value === undefined ? { name } : { name, value };
    const where = `args[${name}].valueFrom`;
    if (valueFrom.podTemplateHashValue !== undefined) {
      const hash = valueFrom.podTemplateHashValue === 'Stable' ? revisions.stable : revisions.latest;
      if (!hash)
        throw new ArgValueError(
          `${where}.podTemplateHashValue Stable: the Rollout has no stable revision yet`,
        );
      return { name, value: hash };
    }
    const path = valueFrom.fieldRef?.fieldPath ?? '';
    return { name, value: readField(rollout, path, `${where}.fieldRef.fieldPath`) };
  });
}

function readField(rollout: Rollout, path: string, where: string): string {
  const meta = rollout.metadata;
  const keyed = MAP_KEY.exec(path);
  if (keyed) {
    const [, map, single, double] = keyed;
    const key = (single ?? double) as string;
    const value = (map === 'labels' ? meta.labels : meta.annotations)?.[key];
    if (value === undefined)
      throw new ArgValueError(
        `${where} ${path}: the Rollout has no such ${map === 'labels' ? 'label' : 'annotation'}`,
      );
    return value;
  }
  if (path.startsWith('metadata.')) {
    const field = path.slice('metadata.'.length);
    const value = METADATA_FIELDS.has(field) ? (meta as Record<string, unknown>)[field] : undefined;
    if (typeof value !== 'string') {
      throw new ArgValueError(
        `${where} ${path} is not supported: use metadata.name, metadata.namespace, metadata.uid, metadata.labels['KEY'] or metadata.annotations['KEY']`,
      );
    }
    return value;
  }
  if (!DOTTED.test(path)) {
    throw new ArgValueError(
      `${where} ${path} is not supported: use metadata.…, or a dotted path of field names under spec. or status.`,
    );
  }
  let at: unknown = rollout;
  for (const part of path.split('.')) {
    at =
      at !== null && typeof at === 'object' && Object.hasOwn(at, part)
        ? (at as Record<string, unknown>)[part]
        : undefined;
  }
  if (typeof at === 'string' || typeof at === 'number' || typeof at === 'boolean') return String(at);
  throw new ArgValueError(
    `${where} ${path}: ${at === undefined ? 'the Rollout has no such field' : 'not a string, number or boolean'}`,
  );
}
