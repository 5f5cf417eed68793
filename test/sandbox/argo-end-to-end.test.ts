// Manifests as Argo Rollouts users write them (test/fixtures/argo-e2e), taken the way a user
// moving over would: `kubectl sluice convert`, applied to the real API server, then a new image
// released end to end by Sluice, with nothing edited by hand in between.
import { describe, expect, it } from 'vitest';
import { requestJson } from '../../controller/kube/client.ts';
import { REVISION_LABEL } from '../../controller/revision.ts';
import { applyYaml } from '../harness/apply.ts';
import { kube } from '../harness/kube.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { waitFor } from '../harness/wait.ts';
import { analysisRuns, startAnalysisController } from '../support/analysis.ts';
import {
  canaryWeight,
  kubectlSluice,
  recordWeights,
  replicaSets,
  selectedRevision,
  setImage,
  waitForRollout,
} from '../support/apps.ts';

const fixture = (name: string) => new URL(`../fixtures/argo-e2e/${name}`, import.meta.url).pathname;

/** Converts an Argo file with the plugin, applies what it wrote, and starts the controller. */
async function convertAndApply(file: string, name: string) {
  const ns = await freshNamespace(file.replace('.yaml', ''));
  const converted = await kubectlSluice(ns, 'convert', '-f', fixture(file));
  expect(converted.code, converted.err).toBe(0);
  expect(converted.out).not.toMatch(/apiVersion: argoproj\.io/);
  await applyYaml(converted.out, ns);
  startAnalysisController(ns);
  const first = await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', `${name}'s first revision`, {
    name,
  });
  return { ns, stable: first.status?.stableRevision as string };
}

const releasedFrom = (stable: string) => (r: { status?: { phase?: string; stableRevision?: string } }) =>
  r.status?.phase === 'Healthy' && r.status.stableRevision !== stable;

describe('Argo Rollouts manifests, converted and released by Sluice', () => {
  it('the getting-started Istio canary over two VirtualServices', async () => {
    const { ns, stable } = await convertAndApply('istio-two-virtualservices.yaml', 'shop');
    const mesh = await recordWeights(ns, 'shop-mesh');
    await setImage(ns, 'shop:2', 'shop');
    const done = await waitForRollout(ns, releasedFrom(stable), 'shop:2 released', { name: 'shop' });
    expect(mesh()).toEqual([0, 20, 60, 0]);
    expect(await canaryWeight(ns, 'shop-gateway')).toBe(0);
    expect(await selectedRevision(ns, 'shop-stable')).toBe(done.status?.stableRevision);
  });

  it('the subset-level Istio canary: the DestinationRule subsets follow the revisions', async () => {
    const { ns, stable } = await convertAndApply('istio-subset.yaml', 'search');
    const subsets = async () => {
      const dr = await requestJson<{ spec: { subsets: { name: string; labels: Record<string, string> }[] } }>(
        kube().kc,
        { method: 'GET', path: `/apis/networking.istio.io/v1/namespaces/${ns}/destinationrules/search` },
      );
      return Object.fromEntries(dr.spec.subsets.map((s) => [s.name, s.labels[REVISION_LABEL]]));
    };
    expect(await subsets()).toEqual({ canary: stable, stable });
    const weights = await recordWeights(ns, 'search');
    const canarySubset: (string | undefined)[] = [];
    await setImage(ns, 'search:2', 'search');
    const released = waitForRollout(ns, releasedFrom(stable), 'search:2 released', { name: 'search' });
    // While the weight is on the canary, its subset selects the new revision.
    await waitFor(
      async () => {
        const now = await subsets();
        canarySubset.push(now.canary);
        return now.canary !== stable;
      },
      { description: 'the canary subset to select the new revision' },
    );
    const done = await released;
    const latest = done.status?.stableRevision as string;
    expect(canarySubset.at(-1)).toBe(latest);
    expect(weights()).toEqual([0, 25, 75, 0]);
    expect(await subsets()).toEqual({ canary: latest, stable: latest });
  });

  it('a canary without traffic routing, weighed by pods', async () => {
    const { ns, stable } = await convertAndApply('canary-basic.yaml', 'worker');
    await setImage(ns, 'worker:2', 'worker');
    const done = await waitForRollout(ns, releasedFrom(stable), 'worker:2 released', { name: 'worker' });
    const sets = await replicaSets(ns, 'worker');
    expect(sets.get(done.status?.stableRevision as string)?.status?.availableReplicas).toBe(4);
    await waitFor(async () => (await replicaSets(ns, 'worker')).get(stable)?.spec?.replicas === 0, {
      description: 'the old revision scaled to zero',
    });
  });

  it('blue-green with a one-pod preview and automatic promotion', async () => {
    const { ns, stable } = await convertAndApply('bluegreen.yaml', 'ledger');
    await setImage(ns, 'ledger:2', 'ledger');
    const done = await waitForRollout(ns, releasedFrom(stable), 'ledger:2 switched', { name: 'ledger' });
    expect(await selectedRevision(ns, 'ledger-active')).toBe(done.status?.stableRevision);
  });

  it('analysis step and background analysis (startingStep, valueFrom), setCanaryScale, dynamicStableScale, role metadata', async () => {
    const { ns, stable } = await convertAndApply('analysis.yaml', 'checkout');
    await setImage(ns, 'checkout:2', 'checkout');
    const done = await waitForRollout(ns, releasedFrom(stable), 'checkout:2 released through its gates', {
      name: 'checkout',
      timeout: 120_000,
    });
    const runs = await analysisRuns(ns);
    const latest = done.status?.stableRevision as string;
    expect(runs.map((r) => [r.spec.gate, r.status?.phase]).sort()).toEqual([
      ['background', 'Successful'],
      ['step', 'Successful'],
    ]);
    // valueFrom: podTemplateHashValue Latest is the released revision.
    for (const run of runs) expect(run.spec.args).toContainEqual({ name: 'rev', value: latest });
    await waitFor(
      async () => {
        const pods = await kube().core.listNamespacedPod({
          namespace: ns,
          labelSelector: `${REVISION_LABEL}=${latest}`,
        });
        return pods.items.length === 4 && pods.items.every((p) => p.metadata?.labels?.role === 'stable');
      },
      { description: 'the promoted pods labelled role=stable' },
    );
  });

  it("workloadRef: the team's Deployment is adopted, scaled down on success, and its new image released", async () => {
    const { ns, stable } = await convertAndApply('workload-ref.yaml', 'catalog');
    const deployment = () => kube().apps.readNamespacedDeployment({ namespace: ns, name: 'catalog' });
    await waitFor(async () => (await deployment()).spec?.replicas === 0, {
      description: 'the Deployment scaled to zero once the Rollout is healthy',
    });
    await requestJson(kube().kc, {
      method: 'PATCH',
      path: `/apis/apps/v1/namespaces/${ns}/deployments/catalog`,
      contentType: 'application/json-patch+json',
      body: [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'catalog:2' }],
    });
    const done = await waitForRollout(ns, releasedFrom(stable), 'catalog:2 released', { name: 'catalog' });
    const rs = (await replicaSets(ns, 'catalog')).get(done.status?.stableRevision as string);
    expect(rs?.spec?.template?.spec?.containers?.[0]?.image).toBe('catalog:2');
    expect((await deployment()).spec?.replicas).toBe(0);
  });
});
