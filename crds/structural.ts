import { z } from 'zod';

type JsonSchema = { [key: string]: unknown };

// zod's bounds for z.int(): noise in a CRD, and `maximum` beyond int64 precision anyway.
const SAFE_INTEGER_BOUNDS = new Set([Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]);

/**
 * Turns a zod schema into an OpenAPI v3 schema the API server accepts as structural:
 * every node typed, no $ref, no `additionalProperties: false`, and loose objects
 * (z.looseObject) kept whole with x-kubernetes-preserve-unknown-fields.
 */
export function toStructuralSchema(schema: z.ZodType): JsonSchema {
  const json = z.toJSONSchema(schema, {
    target: 'openapi-3.0',
    io: 'input',
    reused: 'inline',
    cycles: 'throw',
  });
  const cleaned = clean(json as JsonSchema);
  assertStructural(cleaned, '');
  return cleaned;
}

function clean(node: JsonSchema): JsonSchema {
  // An int-or-string (its meta says so): the one union a structural schema allows, in exactly
  // this shape; the two forms' own bounds move to the CEL rule the meta carries.
  if (node['x-kubernetes-int-or-string'] === true && Array.isArray(node.anyOf)) {
    const { anyOf: forms, ...rest } = node;
    // The string form's length bound stays: without it CEL's cost estimate of the rule runs
    // past the API server's budget (a regex over an unbounded string, in each of 200 steps).
    const maxLength = (forms as JsonSchema[]).find((f) => f.type === 'string')?.maxLength;
    return {
      ...rest,
      ...(maxLength === undefined ? {} : { maxLength }),
      anyOf: [{ type: 'integer' }, { type: 'string' }],
    };
  }
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '$schema' || key === 'id') continue;
    if ((key === 'minimum' || key === 'maximum') && SAFE_INTEGER_BOUNDS.has(value as number)) continue;
    if (key === 'additionalProperties') {
      if (value === false) continue;
      if (isEmptySchema(value)) {
        out['x-kubernetes-preserve-unknown-fields'] = true;
        continue;
      }
      out[key] = clean(value as JsonSchema);
      continue;
    }
    if (key === 'properties') {
      out[key] = Object.fromEntries(
        Object.entries(value as Record<string, JsonSchema>).map(([name, sub]) => [name, clean(sub)]),
      );
      continue;
    }
    if (key === 'items') {
      out[key] = clean(value as JsonSchema);
      continue;
    }
    out[key] = value;
  }
  return out;
}

function isEmptySchema(value: unknown): boolean {
  return typeof value === 'object' && value !== null && Object.keys(value).length === 0;
}

/** Fails generation, not the API server, when a schema would not be structural. */
function assertStructural(node: JsonSchema, path: string): void {
  const intOrString = node['x-kubernetes-int-or-string'] === true;
  for (const forbidden of ['$ref', 'anyOf', 'oneOf', 'allOf', 'not', 'const']) {
    if (forbidden === 'anyOf' && intOrString) continue;
    if (forbidden in node)
      throw new Error(`${path || '<root>'}: '${forbidden}' cannot appear in a structural CRD schema`);
  }
  if (
    !('type' in node) &&
    !node['x-kubernetes-preserve-unknown-fields'] &&
    !node['x-kubernetes-int-or-string']
  ) {
    throw new Error(`${path || '<root>'}: every node of a structural schema needs a type`);
  }
  const properties = node.properties as Record<string, JsonSchema> | undefined;
  for (const [name, sub] of Object.entries(properties ?? {})) assertStructural(sub, `${path}.${name}`);
  if (node.items) assertStructural(node.items as JsonSchema, `${path}[]`);
  if (typeof node.additionalProperties === 'object') {
    assertStructural(node.additionalProperties as JsonSchema, `${path}{}`);
  }
}
