// Input generators for the fuzz suite: objects mutated from known-good ones at one random
// place, and objects made up from nothing. Every generated case carries the path it changed,
// so a rejection can be checked for naming that field.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { parse } from 'yaml';
import { fieldPath } from '../../crds/index.ts';
import { ROOT } from './fixtures.ts';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };
export type Path = (string | number)[];

/** Which profile runs: `full` is the issue's ≥ 5,000 objects, `ci` fits CI's share (≥ 500). */
export const FUZZ_PROFILE = process.env.SLUICE_FUZZ_PROFILE === 'full' ? 'full' : 'ci';

/**
 * A seed from SLUICE_FUZZ_SEED; else a fixed one in the `ci` profile, so a CI run is reproducible
 * and never fails on inputs no earlier run drew, and a fresh one in `full` (`npm run fuzz`), which
 * is where new inputs are explored. Logged by the suites so a failure replays.
 */
export const FUZZ_SEED = process.env.SLUICE_FUZZ_SEED
  ? Number(process.env.SLUICE_FUZZ_SEED)
  : FUZZ_PROFILE === 'ci'
    ? 877974463 // the seed that found Prometheus refusing a literal U+FFFD (analysis/queries.ts)
    : Math.floor(Math.random() * 2 ** 31);

export const example = (file: string): JsonObject => parse(readFileSync(join(ROOT, file), 'utf8'));

/** Strings people and attackers type: markup, PromQL, template syntax, unicode, control characters. */
const hostileString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '-1',
    '1e309',
    'NaN',
    '0x10',
    '30',
    '30x',
    '1h30',
    '-5m',
    '99999999999h',
    '{{args.nope}}',
    '{{args.service}}',
    '"} or vector(1) #',
    'result >',
    'result >= ',
    'true',
    'null',
    '../../etc/passwd',
    'Ünïcödé-名前-🚀',
    'a'.repeat(254),
    'x'.repeat(5000),
    'UPPER',
    'has space',
    'dot.dot',
    '\u0000',
    '\n',
  ),
);

/** Any JSON value, weighted toward the types and edges a schema must refuse. */
export const wrongValue: fc.Arbitrary<Json> = fc.oneof(
  fc.integer({ min: -3, max: 200 }),
  fc.constantFrom(-1, 0, 101, 2 ** 31, -(2 ** 31) - 1, 2 ** 53, 0.5, -0.0001, 1e308),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  hostileString,
  fc.array(fc.oneof(fc.integer(), hostileString, fc.constant({})), { maxLength: 3 }),
  fc.dictionary(fc.constantFrom('name', 'min', 'duration', 'x', ''), fc.oneof(fc.integer(), hostileString), {
    maxKeys: 2,
  }),
) as fc.Arbitrary<Json>;

/** Every path to a node below `from` (objects and arrays included), in document order. */
export function pathsUnder(value: Json, from: Path): Path[] {
  const out: Path[] = [];
  const walk = (v: Json, at: Path): void => {
    out.push(at);
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        walk(x, [...at, i]);
      });
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) walk(x, [...at, k]);
    }
  };

  walk(get(value, from), from);
  return out;
}

function get(v: Json, path: Path): Json {
  let cur: Json = v;
  for (const p of path) cur = (cur as Record<string | number, Json>)[p] as Json;
  return cur;
}

export type Mutation =
  | { op: 'replace'; path: Path; value: Json }
  | { op: 'delete'; path: Path }
  | { op: 'add'; path: Path; key: string; value: Json };

export function applyMutation(base: JsonObject, m: Mutation): JsonObject {
  const copy = structuredClone(base);
  const parent = get(copy, m.path.slice(0, -1)) as Record<string | number, Json>;
  const last = m.path[m.path.length - 1] as string | number;
  if (m.op === 'replace') parent[last] = m.value;
  else if (m.op === 'delete') {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete parent[last];
  } else {
    const target = parent[last];
    if (Array.isArray(target)) target.push(m.value);
    else if (target !== null && typeof target === 'object') target[m.key] = m.value;
    else parent[last] = m.value;
  }
  return copy;
}

/** One to three mutations of `base` below `under`; the first one's path is the field a rejection should name. */
export function mutated(
  base: JsonObject,
  under: Path,
): fc.Arbitrary<{ object: JsonObject; mutations: Mutation[] }> {
  const paths = pathsUnder(base, under).filter((p) => p.length > under.length);
  const one = fc.record({
    path: fc.constantFrom(...paths),
    kind: fc.constantFrom('replace', 'replace', 'delete', 'add') as fc.Arbitrary<Mutation['op']>,
    value: wrongValue,
    key: fc.constantFrom('extra', 'name', 'setWeight', 'pause', 'analysis', 'min', 'unknownField'),
  });
  return fc.array(one, { minLength: 1, maxLength: 3 }).map((picks) => {
    let object = base;
    const mutations: Mutation[] = [];
    for (const p of picks) {
      // A later mutation may land under an earlier deletion: skip paths that no longer exist.
      if (!exists(object, p.path)) continue;
      const m: Mutation =
        p.kind === 'delete'
          ? { op: 'delete', path: p.path }
          : p.kind === 'add'
            ? { op: 'add', path: p.path, key: p.key, value: p.value }
            : { op: 'replace', path: p.path, value: p.value };
      object = applyMutation(object, m);
      mutations.push(m);
    }
    return { object, mutations };
  });
}

function exists(v: Json, path: Path): boolean {
  let cur: Json = v;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object' || !(p in cur)) return false;
    cur = (cur as Record<string | number, Json>)[p] as Json;
  }
  return true;
}

/** A spec made up from nothing: random keys the schema knows and does not, random values. */
export const randomSpec: fc.Arbitrary<JsonObject> = fc.dictionary(
  fc.constantFrom('replicas', 'selector', 'template', 'strategy', 'steps', 'metrics', 'args', 'bogus'),
  fc.oneof(
    wrongValue,
    fc.dictionary(fc.constantFrom('canary', 'blueGreen', 'matchLabels', 'name', 'x'), wrongValue, {
      maxKeys: 3,
    }),
  ),
  { maxKeys: 5 },
) as fc.Arbitrary<JsonObject>;

/**
 * The field paths the API server may name for a change at `path`: the path itself and each
 * ancestor (a CEL rule reports at the object that holds it), in the server's spelling.
 */
export function acceptableFieldNames(path: Path): string[] {
  const names: string[] = [];
  for (let i = path.length; i >= 1; i--) names.push(fieldPath(path.slice(0, i)));
  return names;
}

/**
 * Every field a message names: `a.b[0].c:` as validation writes it, and `ObjectMeta.name` as
 * the decoder writes it for a wrongly typed metadata field (a 400 before validation runs).
 */
export function fieldsNamed(message: string): string[] {
  const validation = [
    ...message.matchAll(/((?:metadata|spec|status)(?:\.[A-Za-z0-9_]+|\[\d+\])*)(?=[:\s]|$)/g),
  ];
  const decoder = [...message.matchAll(/Go struct field ObjectMeta\.([A-Za-z0-9_.]+)/g)];
  return [...validation.map((m) => m[1] as string), ...decoder.map((m) => `metadata.${m[1]}`)];
}

/**
 * Whether a refusal names the field a mutation changed: by path (itself, an ancestor holding a
 * CEL rule, or a field below it), or by the field's own name in a cross-field rule's words
 * ("selector.matchLabels must match template.metadata.labels" for a change to the labels).
 */
export function namesField(message: string, path: Path): boolean {
  const acceptable = acceptableFieldNames(path);
  const self = acceptable[0] as string;
  const byPath = fieldsNamed(message).some(
    (f) => acceptable.includes(f) || f.startsWith(`${self}.`) || f.startsWith(`${self}[`),
  );
  const keys = path.slice(1).filter((k): k is string => typeof k === 'string');
  return byPath || keys.some((k) => new RegExp(`\\b${k}\\b`).test(message));
}

/** kubectl sluice argv: commands, flags and values, valid and not, in any order. */
const CLI_COMMANDS = ['list', 'status', 'promote', 'abort', 'retry', 'pause', 'resume', 'undo', 'set image'];
const CLI_TOKENS = [
  'help',
  'set',
  'image',
  '--full',
  '-A',
  '--all-namespaces',
  '-w',
  '--to-revision',
  '--to-revision=-1',
  '--to-revision=abc',
  '--to-revision=99999999999999999999',
  '-n',
  '--namespace=',
  '--context',
  '--context=nope',
  '--kubeconfig=/nonexistent',
  '--bogus',
  '-h',
  '--',
  'app=',
  '=img',
  'app=img:2',
  'a=b=c',
];

/**
 * kubectl sluice argv: half of them a real command on a real or hostile name with random
 * flags after it (so they reach the API server), half any tokens in any order.
 */
export const cliArgv = (rolloutNames: string[]): fc.Arbitrary<string[]> => {
  const token = fc.oneof(
    fc.constantFrom(...CLI_TOKENS, ...CLI_COMMANDS),
    fc.constantFrom(...rolloutNames),
    hostileString.filter((s) => !s.includes('\u0000')),
  );
  const name = fc.oneof(
    fc.constantFrom(...rolloutNames),
    hostileString.filter((s) => !s.includes('\u0000')),
  );
  const command = fc
    .tuple(fc.constantFrom(...CLI_COMMANDS), name, fc.array(token, { maxLength: 3 }))
    .map(([cmd, n, rest]) => [...cmd.split(' '), n, ...rest]);
  return fc.oneof(command, fc.array(token, { maxLength: 6 }));
};
