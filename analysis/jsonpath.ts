// The JSONPath a web metric names, as Argo Rollouts' templates write it (Kubernetes' jsonpath
// syntax: `{$.data.ok}`, `{.items[0].value}`), cut down to what selects one leaf: field names
// and list indexes, nothing that searches. So a path costs at most its own length to follow,
// whatever the answer holds, and a missing field is an error rather than an empty match.

/** One step: a field of an object, or an index into a list. */
export type Segment = string | number;

export class JsonPathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JsonPathError';
  }
}

export const MAX_SEGMENTS = 32;

const NAME = /^[A-Za-z_][A-Za-z0-9_-]*/;
const INDEX = /^\[(\d{1,6})\]/;
const QUOTED = /^\[(?:'([^'\\]*)'|"([^"\\]*)")\]/;

/**
 * Parses `{$.a.b[0]['c-d']}` (braces and `$` optional) into its segments. Throws a
 * JsonPathError naming what is not supported: wildcards, filters, recursive descent, slices.
 */
export function parseJsonPath(text: string): Segment[] {
  let rest = text.trim();
  if (rest.startsWith('{') && rest.endsWith('}')) rest = rest.slice(1, -1).trim();
  if (rest.startsWith('$')) rest = rest.slice(1);
  const out: Segment[] = [];
  while (rest.length > 0) {
    if (rest.startsWith('..')) throw unsupported(text, 'recursive descent (..)');
    const name = rest.startsWith('.') ? NAME.exec(rest.slice(1)) : null;
    const index = INDEX.exec(rest);
    const quoted = QUOTED.exec(rest);
    if (name) {
      out.push(name[0]);
      rest = rest.slice(1 + name[0].length);
    } else if (index) {
      out.push(Number(index[1]));
      rest = rest.slice(index[0].length);
    } else if (quoted) {
      out.push((quoted[1] ?? quoted[2]) as string);
      rest = rest.slice(quoted[0].length);
    } else {
      throw unsupported(text, `"${rest.slice(0, 12)}"`);
    }
    if (out.length > MAX_SEGMENTS)
      throw new JsonPathError(`jsonPath ${text}: more than ${MAX_SEGMENTS} steps`);
  }
  return out;
}

const unsupported = (text: string, what: string) =>
  new JsonPathError(
    `jsonPath ${text}: ${what} is not supported; use field names and list indexes, e.g. {$.data.items[0].value}`,
  );

/** The value at `path` in `doc`; a missing step throws a JsonPathError saying where it stopped. */
export function followJsonPath(doc: unknown, path: readonly Segment[]): unknown {
  let at = doc;
  let where = '$';
  for (const step of path) {
    if (typeof step === 'number') {
      if (!Array.isArray(at) || step >= at.length) {
        throw new JsonPathError(`jsonPath: ${where} has no element [${step}]`);
      }
      at = at[step];
      where += `[${step}]`;
    } else {
      if (at === null || typeof at !== 'object' || Array.isArray(at) || !Object.hasOwn(at, step)) {
        throw new JsonPathError(`jsonPath: ${where} has no field "${step}"`);
      }
      at = (at as Record<string, unknown>)[step];
      where += `.${step}`;
    }
  }
  return at;
}
