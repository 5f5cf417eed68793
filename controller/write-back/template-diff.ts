// What changed between two pod templates, as leaf paths: the fields a write-back must return
// to the stable revision's values. Pure.
import { sameJson } from '../revision.ts';

export type Path = (string | number)[];

export interface FieldChange {
  /** Path inside the pod template (`spec.containers.0.image` → ['spec', 'containers', 0, 'image']). */
  path: Path;
  /** Value in the stable template; undefined when the field is absent there. */
  stable: unknown;
  /** Value in the failed template; undefined when the field is absent there. */
  failed: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Leaf differences from `failed` to `stable`. Objects are compared key by key and lists of the
 * same length item by item, so a changed image is one small change; a list whose length
 * changed is one change of the whole list.
 */
export function templateDiff(stable: unknown, failed: unknown, path: Path = []): FieldChange[] {
  if (sameJson(stable, failed)) return [];
  if (isObject(stable) && isObject(failed)) {
    const keys = [...new Set([...Object.keys(stable), ...Object.keys(failed)])].sort();
    return keys.flatMap((k) => templateDiff(stable[k], failed[k], [...path, k]));
  }
  if (Array.isArray(stable) && Array.isArray(failed) && stable.length === failed.length) {
    return stable.flatMap((item, i) => templateDiff(item, failed[i], [...path, i]));
  }
  return [{ path, stable, failed }];
}

export const showPath = (path: Path): string => path.join('.');
