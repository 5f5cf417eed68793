import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { requestJson } from '../../controller/kube/client.ts';
import { parseResource } from '../../crds/validate.ts';
import { VERSIONS } from '../../sandbox/config.ts';
import { gatewayApiCrdFiles } from '../../sandbox/crds.ts';
import { createYaml } from '../harness/apply.ts';
import { kube } from '../harness/kube.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { exampleDocuments, invalidFixtures, ROOT } from '../support/fixtures.ts';

// The real API server judges Sluice's CRDs: what the schema and CEL rules refuse, with which
// message, and that every example a user may copy is accepted.
describe('Sluice CRDs on the real API server', () => {
  const refusedByApi = invalidFixtures().filter((f) => f.layer !== 'zod');

  it.each(refusedByApi.map((f) => [f.file, f]))(
    '%s is rejected with a message naming the field',
    async (_n, fixture) => {
      const namespace = await freshNamespace('crd');
      const error = await createYaml(stringify(fixture.object), namespace).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error, `${fixture.file} was accepted`).toBeDefined();
      const message = String((error as { body?: unknown }).body ?? error);
      for (const part of fixture.expect) expect(message).toContain(part);
    },
  );

  it.each(
    invalidFixtures()
      .filter((f) => f.layer === 'zod')
      .map((f) => [f.file, f]),
  )('%s passes the API server, so the controller must catch it', async (_n, fixture) => {
    const namespace = await freshNamespace('crd');
    const created = await createYaml(stringify(fixture.object), namespace);
    expect(created).toHaveLength(1);
  });

  it('accepts every Sluice example', async () => {
    const docs = exampleDocuments().filter((d) => String(d.object.apiVersion).startsWith('sluice.dev/'));
    expect(docs.length).toBeGreaterThanOrEqual(4);
    // A namespace per file, as a user applies them: some files are alternative versions of the
    // same Rollout (examples/flux/write-back-rbac.yaml opts examples/canary's checkout in).
    const namespaces = new Map<string, string>();
    for (const doc of docs) {
      const namespace = namespaces.get(doc.file) ?? (await freshNamespace('crd'));
      namespaces.set(doc.file, namespace);
      const object = { ...doc.object, metadata: { ...(doc.object.metadata as object), namespace } };
      if (object.kind === 'ClusterAnalysisTemplate') object.metadata = { name: `${namespace}-cat` } as never;
      await expect(createYaml(stringify(object), namespace), doc.file).resolves.toHaveLength(1);
    }
  });

  it('takes a pause in whole seconds, as Argo Rollouts writes it, and the controller reads it as a duration', async () => {
    const namespace = await freshNamespace('crd');
    const rollout = parse(
      readFileSync(join(ROOT, 'test/fixtures/invalid/pause-negative-seconds.yaml'), 'utf8'),
    );
    rollout.metadata.name = 'argo-pause';
    rollout.spec.strategy.canary.steps = [
      { setWeight: 10 },
      { pause: { duration: 10 } },
      { pause: { duration: '1m' } },
    ];
    await createYaml(stringify(rollout), namespace);
    // Read as the controller reads it: plain JSON, as watch events carry it.
    const stored = await requestJson<{ spec: { strategy: { canary: { steps: { pause?: unknown }[] } } } }>(
      kube().kc,
      { method: 'GET', path: `/apis/sluice.dev/v1alpha1/namespaces/${namespace}/rollouts/argo-pause` },
    );
    expect(stored.spec.strategy.canary.steps[1]?.pause).toEqual({ duration: 10 });
    const read = parseResource('Rollout', stored);
    expect(read.ok && read.value.spec.strategy.canary?.steps?.map((s) => s.pause?.duration)).toEqual([
      undefined,
      '10s',
      '1m',
    ]);
  });

  it('serves exactly what crds/ holds', async () => {
    const served = await requestJson<{ spec: unknown }>(kube().kc, {
      method: 'GET',
      path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/rollouts.sluice.dev',
    });
    const committed = parse(readFileSync(join(ROOT, 'crds/rollouts.yaml'), 'utf8'));
    expect(served.spec).toMatchObject(committed.spec);
  });
});

describe('Gateway API CRDs on the real API server', () => {
  it("serves the module's standard channel, Established, with the module's schemas", async () => {
    const crds = (await gatewayApiCrdFiles())
      .flatMap((f) => parseAllDocuments(readFileSync(f, 'utf8')).map((d) => d.toJS()))
      .filter((d) => d?.kind === 'CustomResourceDefinition');
    expect(crds.map((c) => c.spec.names.kind)).toEqual(
      expect.arrayContaining(['Gateway', 'GatewayClass', 'GRPCRoute', 'HTTPRoute', 'ReferenceGrant']),
    );
    for (const crd of crds) {
      const served = await requestJson<{
        metadata: { annotations: Record<string, string> };
        spec: unknown;
        status: { conditions: { type: string; status: string }[] };
      }>(kube().kc, {
        method: 'GET',
        path: `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`,
      });
      expect(served.metadata.annotations).toMatchObject({
        'gateway.networking.k8s.io/channel': 'standard',
        'gateway.networking.k8s.io/bundle-version': VERSIONS.gatewayApi,
      });
      expect(served.status.conditions).toContainEqual(
        expect.objectContaining({ type: 'Established', status: 'True' }),
      );
      expect(served.spec).toMatchObject(crd.spec);
    }
  });

  it('validates HTTPRoutes with the CRD rules: a negative weight is refused', async () => {
    const namespace = await freshNamespace('crd');
    const route = (weight: number) => `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: checkout-${weight < 0 ? 'bad' : 'ok'}}
spec:
  parentRefs: [{group: "", kind: Service, name: checkout}]
  rules: [{backendRefs: [{name: checkout-stable, port: 80, weight: ${weight}}]}]
`;
    await expect(createYaml(route(5), namespace)).resolves.toHaveLength(1);
    const error = await createYaml(route(-1), namespace).then(
      () => undefined,
      (err: unknown) => String((err as { body?: unknown }).body ?? err),
    );
    expect(error).toContain('weight');
  });
});
