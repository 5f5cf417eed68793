// What Sluice's API would keep of a converted object, judged by the API itself rather than by a
// list of fields here: the structural schema the CRDs are generated from (crds/definitions.ts)
// says which keys exist, and its CEL rules and the zod schemas say what is refused. So a field
// Sluice learns later is carried by the converter with no change to it.
//
// The API server prunes unknown keys without a word, and z.object strips them: both would lose
// an Argo field silently, so unknown keys are looked for here, explicitly, before either runs.
import { isCelError, run } from '@bufbuild/cel';
import { crdFor, DEFINITIONS } from '../crds/definitions.ts';
import { resourceIssues } from '../crds/validate.ts';

/** The kinds a conversion produces. */
export type ConvertedKind = 'Rollout' | 'AnalysisTemplate' | 'ClusterAnalysisTemplate';

export type Path = (string | number)[];

export interface Problem {
  path: Path;
  reason: string;
}

type Schema = {
  type?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-validations'?: { rule: string; message: string; fieldPath?: string }[];
};

const specSchemas = new Map<string, Schema>();
function specSchema(kind: ConvertedKind): Schema {
  let schema = specSchemas.get(kind);
  if (!schema) {
    const def = DEFINITIONS.find((d) => d.kind === kind);
    if (!def) throw new Error(`no definition for ${kind}`);
    const root = crdFor(def).spec.versions[0]?.schema.openAPIV3Schema as Schema;
    schema = root.properties?.spec as Schema;
    specSchemas.set(kind, schema);
  }
  return schema;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Paths of keys under `value` that the schema does not know, deepest last. */
function unknownKeys(schema: Schema, value: unknown, path: Path, out: Path[]): void {
  if (Array.isArray(value)) {
    if (schema.items) for (const [i, v] of value.entries()) unknownKeys(schema.items, v, [...path, i], out);
    return;
  }
  // A map where the schema wants a scalar is a type error for the schema check to name, not keys.
  if (!isObject(value) || schema.type !== 'object') return;
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  for (const [key, child] of Object.entries(value)) {
    const known = schema.properties?.[key];
    if (known) unknownKeys(known, child, [...path, key], out);
    else if (isObject(schema.additionalProperties))
      unknownKeys(schema.additionalProperties, child, [...path, key], out);
    else if (!preserve && schema.additionalProperties !== true) out.push([...path, key]);
  }
}

/** A JSON value as the API server's CEL sees it: integers where the schema says integer. */
function celValue(schema: Schema | undefined, value: unknown): unknown {
  if (typeof value === 'number' && Number.isInteger(value)) {
    if (schema?.type === 'integer' || schema?.['x-kubernetes-int-or-string']) return BigInt(value);
    return value;
  }
  if (Array.isArray(value)) return value.map((v) => celValue(schema?.items, v));
  if (isObject(value)) {
    const additional = isObject(schema?.additionalProperties) ? schema.additionalProperties : undefined;
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, celValue(schema?.properties?.[k] ?? additional, v)]),
    );
  }
  return value;
}

/** The CRD's CEL rules that a value breaks. A rule that cannot be evaluated here is left to the API server. */
function brokenRules(schema: Schema, value: unknown, path: Path, out: Problem[]): void {
  if (value === undefined || value === null) return;
  for (const { rule, message, fieldPath: at } of schema['x-kubernetes-validations'] ?? []) {
    const verdict = run(rule, { self: celValue(schema, value) } as never);
    if (verdict === false && !isCelError(verdict)) {
      const extra = at ? at.replace(/^\./, '').split('.') : [];
      out.push({ path: [...path, ...extra], reason: message });
    }
  }
  if (Array.isArray(value) && schema.items) {
    for (const [i, v] of value.entries()) brokenRules(schema.items, v, [...path, i], out);
  } else if (isObject(value)) {
    for (const [key, child] of Object.entries(value)) {
      const s =
        schema.properties?.[key] ??
        (isObject(schema.additionalProperties) ? schema.additionalProperties : undefined);
      if (s) brokenRules(s, child, [...path, key], out);
    }
  }
}

export interface SchemaVerdict {
  /** Keys Sluice has no field for, under spec. */
  unknown: Path[];
  /** What the API server or the controller would refuse in what is left. */
  refused: Problem[];
}

/** Judges a Sluice object (its unknown keys already removed or not) as the API server and the controller would. */
export function judgeObject(kind: ConvertedKind, object: Record<string, unknown>): SchemaVerdict {
  const schema = specSchema(kind);
  const unknown: Path[] = [];
  unknownKeys(schema, object.spec, ['spec'], unknown);
  const refused: Problem[] = [];
  brokenRules(schema, object.spec, ['spec'], refused);
  for (const issue of resourceIssues(kind, object)) {
    const path = issue.path as Path;
    // CEL rules and zod refinements often say the same thing in the same words: once is enough.
    if (refused.some((p) => p.reason === issue.message && p.path.join('.') === path.join('.'))) continue;
    // zod says a missing field is of the wrong type ("expected object, received undefined").
    const reason = /received undefined$/.test(issue.message) ? 'required, and missing' : issue.message;
    refused.push({ path, reason });
  }
  return { unknown, refused };
}
