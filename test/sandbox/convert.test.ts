import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { convertYaml } from '../../cli/convert/convert.ts';
import { createYaml } from '../harness/apply.ts';
import { freshNamespace } from '../harness/namespace.ts';

const FIXTURES = new URL('../fixtures/argo/', import.meta.url);

/** Every Sluice document `kubectl sluice convert` made of the Argo and Flagger fixtures, with its verdict. */
function convertedDocuments() {
  return readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((file) =>
      convertYaml(readFileSync(new URL(file, FIXTURES), 'utf8')).converted.map((c) => ({
        label: `${file}: ${c.kind} ${c.name}`,
        object: c.doc.toJS() as { kind: string; metadata: Record<string, unknown> },
        accepted: c.accepted,
      })),
    );
}

/** Into the test's namespace; a cluster-scoped template gets a name no other test run shares. */
function placed(object: { kind: string; metadata: Record<string, unknown> }, namespace: string) {
  const metadata =
    object.kind === 'ClusterAnalysisTemplate'
      ? { ...object.metadata, name: `${namespace}-${String(object.metadata.name)}` }
      : { ...object.metadata, namespace };
  return stringify({ ...object, metadata });
}

// The converter judges its output offline with Sluice's schema and CEL rules; the real API
// server, with the generated CRDs, must agree both ways.
describe('kubectl sluice convert output on the real API server', () => {
  const docs = convertedDocuments();

  it('has fixtures of both verdicts', () => {
    expect(docs.filter((d) => d.accepted).length).toBeGreaterThanOrEqual(8);
    expect(docs.filter((d) => !d.accepted).length).toBeGreaterThanOrEqual(2);
  });

  it.each(docs.filter((d) => d.accepted).map((d) => [d.label, d]))('creates %s', async (_l, doc) => {
    const namespace = await freshNamespace('convert');
    const created = await createYaml(placed(doc.object, namespace), namespace);
    expect(created).toHaveLength(1);
    expect(created[0]?.kind).toBe(doc.object.kind);
  });

  it.each(docs.filter((d) => !d.accepted).map((d) => [d.label, d]))(
    'refuses %s, as the converter said',
    async (_l, doc) => {
      const namespace = await freshNamespace('convert');
      const error = await createYaml(placed(doc.object, namespace), namespace).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error, `${doc.label} was accepted`).toBeDefined();
      expect((error as { code?: number }).code).toBe(422);
    },
  );
});
