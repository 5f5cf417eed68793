import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { convertYaml } from '../../../../cli/convert/convert.ts';
import { CliError } from '../../../../cli/errors.ts';
import { isSluiceKind, parseResource } from '../../../../crds/validate.ts';

const FIXTURES = new URL('../../../fixtures/argo/', import.meta.url);
const inputs = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => parseAllDocuments(readFileSync(new URL(f, FIXTURES), 'utf8')).map((d) => d.toJS()));

/** Every path to a value inside an object, so a mutation can land anywhere. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (typeof value !== 'object' || value === null) return [prefix];
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
  return [prefix, ...entries.flatMap(([k, v]) => paths(v, [...prefix, k]))];
}

function mutate(root: unknown, path: (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let at = copy;
  for (const part of path.slice(0, -1)) at = at[part] as Record<string | number, unknown>;
  at[path[path.length - 1] as string | number] = value;
  return copy;
}

const hostile = fc.oneof(
  fc.constant(null),
  fc.constant({}),
  fc.constant([]),
  fc.string({ maxLength: 40 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constantFrom('all(result, {# > 1})', 'result[0] >= ', '{{args.x}}', 'nginx', { duration: -1 }),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
);

// Input a person (or a careless script) writes is hostile: any field may hold anything. The
// converter must answer every such file with output or a CliError, and whatever it calls
// accepted must be what Sluice's schema accepts.
describe('convert on mutated Argo files', () => {
  it('never throws anything but a CliError, and "accepted" means accepted', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: inputs.length - 1 }),
        fc.nat(),
        fc.nat(),
        hostile,
        (file, docPick, pathPick, value) => {
          const docs = inputs[file] as unknown[];
          const d = docPick % docs.length;
          const all = paths(docs[d]);
          const mutated = docs.map((doc, i) =>
            i === d ? mutate(doc, all[pathPick % all.length] ?? [], value) : doc,
          );
          const text = mutated.map((m) => stringify(m)).join('---\n');
          let result: ReturnType<typeof convertYaml>;
          try {
            result = convertYaml(text);
          } catch (err) {
            expect(err).toBeInstanceOf(CliError);
            return;
          }
          for (const c of result.converted) {
            if (!c.accepted || !isSluiceKind(c.kind)) continue;
            const parsed = parseResource(c.kind, c.doc.toJS());
            expect(parsed.ok, `${c.kind} ${c.name}: ${parsed.ok ? '' : parsed.message}`).toBe(true);
          }
        },
      ),
      { numRuns: 150 },
    );
  }, 60_000);
});
