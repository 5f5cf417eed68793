import type { z } from 'zod';
import { AnalysisRun, AnalysisTemplate, ClusterAnalysisTemplate } from './analysis.ts';
import { Rollout } from './rollout.ts';

const SCHEMAS = { Rollout, AnalysisTemplate, ClusterAnalysisTemplate, AnalysisRun } as const;
export type SluiceKind = keyof typeof SCHEMAS;

export type Parsed<K extends SluiceKind> =
  | { ok: true; value: z.infer<(typeof SCHEMAS)[K]> }
  | { ok: false; message: string };

/** `spec.strategy.canary.steps[1].pause.duration`: the path a person searches their YAML for. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`))
    .join('');
}

/** Validates a Sluice object, naming every offending field in the message. */
export function parseResource<K extends SluiceKind>(kind: K, object: unknown): Parsed<K> {
  const result = SCHEMAS[kind].safeParse(object);
  if (result.success) return { ok: true, value: result.data as z.infer<(typeof SCHEMAS)[K]> };
  const message = result.error.issues
    .map((issue) => `${fieldPath(issue.path) || '<root>'}: ${issue.message}`)
    .join('; ');
  return { ok: false, message };
}

/** What the schema refuses in a Sluice object, one entry per field, for callers that list them. */
export function resourceIssues(
  kind: SluiceKind,
  object: unknown,
): { path: PropertyKey[]; message: string }[] {
  const result = SCHEMAS[kind].safeParse(object);
  return result.success ? [] : result.error.issues.map((i) => ({ path: i.path, message: i.message }));
}

export function isSluiceKind(kind: unknown): kind is SluiceKind {
  return typeof kind === 'string' && kind in SCHEMAS;
}
