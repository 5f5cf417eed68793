import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it, onTestFinished } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { kubeSource, ResilientInformer } from '../../controller/kube/informer.ts';
import type { Rollout } from '../../crds/index.ts';
import { condition, createFluxApp, type FluxApp, type Kustomization } from '../../sandbox/gitops.ts';
import { sandbox } from '../harness/env.ts';
import { kube } from '../harness/kube.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { setLoad, setProfile } from '../harness/traffic.ts';
import { waitFor } from '../harness/wait.ts';
import { hostOf, startAnalysisController } from '../support/analysis.ts';
import { canaryApp, canaryWeight, getRollout, recordWeights, waitForRollout } from '../support/apps.ts';
import { ROOT } from '../support/fixtures.ts';

// Flux (source-controller + kustomize-controller, built from upstream) applies the app from
// the sandbox's git server; nothing in these tests touches the app with kubectl.

/** Flux creates the VirtualService from git but never re-applies it: the weights are Sluice's. */
const IF_NOT_PRESENT = { 'kustomize.toolkit.fluxcd.io/ssa': 'IfNotPresent' };

function appYaml(
  ns: string,
  image: string,
  o: { steps?: unknown[]; vsAnnotations?: Record<string, string> },
) {
  const objects = canaryApp(ns, {
    image,
    // A pause long enough for two or three background measurements: with a single 3 s look at
    // a canary the simulator had only just begun to route to, a broken version could pass by
    // chance (seen once in CI: one look, few requests, promoted).
    steps: (o.steps ?? [{ setWeight: 30 }, { pause: { duration: '12s' } }, { setWeight: 60 }]) as never,
    canary: {
      analysis: { interval: '3s', initialDelay: '5s', successRate: { min: 95 } },
    },
  }).map((obj) =>
    obj.kind === 'VirtualService' && o.vsAnnotations
      ? { ...obj, metadata: { ...obj.metadata, annotations: o.vsAnnotations } }
      : obj,
  );
  return { 'apps/web.yaml': objects.map((obj) => stringify(obj)).join('---\n') };
}

/**
 * `wait: false` for tests that re-sync mid-canary: with `wait`, kustomize-controller holds a
 * revision in its health check until the release ends, and a requested sync waits behind it.
 */
async function fluxApp(prefix: string, wait = true): Promise<{ ns: string; app: FluxApp }> {
  const ns = await freshNamespace(prefix);
  const env = sandbox();
  if (!env.GIT_URL || !env.GIT_ROOT)
    throw new Error('the sandbox runs without Flux (sandbox:up --with-flux)');
  const app = await createFluxApp(
    kube().kc,
    { url: env.GIT_URL, root: env.GIT_ROOT },
    {
      name: ns,
      path: './apps',
      wait,
    },
  );
  onTestFinished(() => app.remove());
  return { ns, app };
}

const ready = (k: Kustomization) => condition(k, 'Ready');

function waitForKustomization(app: FluxApp, check: (k: Kustomization) => boolean, description: string) {
  return waitFor(
    async () => {
      const k = await app.kustomization();
      if (check(k)) return k;
      throw new Error(JSON.stringify({ ready: ready(k), attempted: k.status?.lastAttemptedRevision }));
    },
    { description, timeout: 120_000 },
  );
}

type Moment =
  | { kind: 'flux'; revision?: string; ready?: string; reason?: string }
  | { kind: 'rollout'; phase?: string; stable?: string };

/** One ordered timeline of the Kustomization's Ready condition and the Rollout's phase, from watches. */
async function recordTimeline(app: FluxApp, ns: string): Promise<() => Moment[]> {
  const seen: Moment[] = [];
  const push = (m: Moment) => {
    if (JSON.stringify(seen.findLast((x) => x.kind === m.kind)) !== JSON.stringify(m)) seen.push(m);
  };
  const rollouts = new ResilientInformer<Rollout & KubernetesObject>(
    kubeSource(kube().kc, `/apis/sluice.dev/v1alpha1/namespaces/${ns}/rollouts`),
    { name: 'test-rollouts' },
  );
  rollouts.onChange((r) =>
    push({ kind: 'rollout', phase: r.status?.phase, stable: r.status?.stableRevision }),
  );
  const kustomizations = new ResilientInformer<Kustomization & KubernetesObject>(
    kubeSource(kube().kc, '/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations'),
    { name: 'test-kustomizations' },
  );
  kustomizations.onChange((k) => {
    if (k.metadata?.name !== app.name) return;
    const c = ready(k);
    push({ kind: 'flux', revision: k.status?.lastAttemptedRevision, ready: c?.status, reason: c?.reason });
  });
  for (const informer of [rollouts, kustomizations]) {
    informer.start();
    await informer.waitForSync();
    onTestFinished(() => informer.stop());
  }
  return () => [...seen];
}

/** v1 stable, v2 committed and paused indefinitely at 30%; weights recorded from before v2. */
async function canaryPausedAt30(prefix: string, vsAnnotations?: Record<string, string>) {
  const { ns, app } = await fluxApp(prefix, false);
  await setLoad(hostOf('web', ns), 40);
  const image = (v: number) => `shop/${ns}:${v}`;
  const steps = [{ setWeight: 30 }, { pause: {} }, { setWeight: 60 }];
  await startAnalysisController(ns);
  await app.commit(appYaml(ns, image(1), { steps, vsAnnotations }), 'web v1');
  await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'v1 to be stable', { timeout: 120_000 });
  const weights = await recordWeights(ns);
  await app.commit(appYaml(ns, image(2), { steps, vsAnnotations }), 'web v2');
  await waitForRollout(ns, (r) => r.status?.phase === 'Paused', 'the canary to pause at 30%', {
    timeout: 120_000,
  });
  expect(await canaryWeight(ns)).toBe(30);
  return { ns, app, weights };
}

describe('GitOps with real Flux', () => {
  it("Flux's health check follows the release: in progress, Ready when promoted, failed when rolled back", async () => {
    const { ns, app } = await fluxApp('flux-health');
    await setLoad(hostOf('web', ns), 60);
    const image = (v: number) => `shop/${ns}:${v}`;
    await setProfile(image(3), { errorRate: 0.3 });
    await startAnalysisController(ns);

    const v1 = await app.commit(appYaml(ns, image(1), { vsAnnotations: IF_NOT_PRESENT }), 'web v1');
    await waitForKustomization(
      app,
      (k) => ready(k)?.status === 'True' && k.status?.lastAppliedRevision === app.revision(v1),
      'Flux to apply v1 and call it healthy',
    );
    const first = await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'v1 to be stable');
    const timeline = await recordTimeline(app, ns);

    const v2 = await app.commit(appYaml(ns, image(2), { vsAnnotations: IF_NOT_PRESENT }), 'web v2');
    await waitForKustomization(
      app,
      (k) => ready(k)?.status === 'True' && k.status?.lastAppliedRevision === app.revision(v2),
      'Flux to call v2 healthy',
    );
    const promoted = await getRollout(ns);
    expect(promoted.status?.phase).toBe('Healthy');
    expect(promoted.status?.stableRevision).not.toBe(first.status?.stableRevision);
    // Flux said "in progress" while Sluice released v2, and Ready only once v2 was stable.
    const t = timeline();
    const attempted = t.findIndex((m) => m.kind === 'flux' && m.revision === app.revision(v2));
    const readyAt = t.findIndex(
      (m) => m.kind === 'flux' && m.revision === app.revision(v2) && m.ready === 'True',
    );
    expect(attempted, JSON.stringify(t)).toBeGreaterThanOrEqual(0);
    expect(readyAt).toBeGreaterThan(attempted);
    const between = t.slice(attempted, readyAt);
    expect(
      between.filter((m) => m.kind === 'flux').every((m) => m.kind === 'flux' && m.ready === 'Unknown'),
    ).toBe(true);
    expect(between.some((m) => m.kind === 'rollout' && m.phase === 'Progressing')).toBe(true);
    expect(t.slice(0, readyAt).findLast((m) => m.kind === 'rollout')).toEqual({
      kind: 'rollout',
      phase: 'Healthy',
      stable: promoted.status?.stableRevision,
    });

    const v3 = await app.commit(appYaml(ns, image(3), { vsAnnotations: IF_NOT_PRESENT }), 'web v3 (broken)');
    const failed = await waitForKustomization(
      app,
      (k) => ready(k)?.status === 'False' && k.status?.lastAttemptedRevision === app.revision(v3),
      'Flux to report v3 failed',
    );
    const rolledBack = await getRollout(ns);
    expect(rolledBack.status?.phase).toBe('Degraded');
    expect(rolledBack.status?.stableRevision).toBe(promoted.status?.stableRevision);
    expect(ready(failed)?.reason).toBe('HealthCheckFailed');
    expect(ready(failed)?.message).toMatch(/Rollout\/.*web/);
    expect(await canaryWeight(ns)).toBe(0);
  }, 300_000);

  it('a forced Flux re-sync mid-canary leaves the weights where Sluice put them (VirtualService IfNotPresent)', async () => {
    const { app, ns, weights } = await canaryPausedAt30('flux-ssa', IF_NOT_PRESENT);
    const token = await app.sync();
    await waitForKustomization(
      app,
      (k) => k.status?.lastHandledReconcileAt === token && ready(k)?.status !== 'False',
      'Flux to finish the forced re-sync',
    );
    expect(await canaryWeight(ns)).toBe(30);
    // Not only the end state: traffic never saw anything but Sluice's weights.
    expect(weights()).toEqual([0, 30]);
  }, 300_000);

  it('without IfNotPresent, Flux resets the weights on a forced re-sync and Sluice restores them at once', async () => {
    const { app, ns, weights } = await canaryPausedAt30('flux-fight');
    const token = await app.sync();
    await waitForKustomization(app, (k) => k.status?.lastHandledReconcileAt === token, 'the forced re-sync');
    // Flux's drift correction put git's 0% back; the next reconcile (triggered by the
    // VirtualService watch) restores 30%.
    await waitFor(async () => (await canaryWeight(ns)) === 30 && weights().includes(0), {
      description: 'the weight to flap to git’s value and back to 30%',
      timeout: 30_000,
    });
    expect(weights()).toEqual([0, 30, 0, 30]);
  }, 300_000);

  it('examples/flux is valid for the Flux CRDs and renders the canary with a Sluice-owned VirtualService', async () => {
    const env = sandbox();
    const kubectl = (args: string[]) =>
      execFileSync(env.KUBECTL, args, {
        env: { ...process.env, KUBECONFIG: env.KUBECONFIG },
        encoding: 'utf8',
      });
    // The API server checks the objects against Flux's own CRD schemas without creating them.
    const applied = kubectl([
      'apply',
      '--server-side',
      '--dry-run=server',
      '-f',
      join(ROOT, 'examples/flux/sync.yaml'),
    ]);
    expect(applied).toMatch(/gitrepository.source.toolkit.fluxcd.io\/shop serverside-applied/);
    expect(applied).toMatch(/kustomization.kustomize.toolkit.fluxcd.io\/shop serverside-applied/);
    const docs = parseAllDocuments(kubectl(['kustomize', join(ROOT, 'examples/flux/apps')])).map(
      (d) => d.toJS() as KubernetesObject,
    );
    expect(docs.map((d) => d.kind).sort()).toEqual([
      'AnalysisTemplate',
      'Rollout',
      'Service',
      'Service',
      'VirtualService',
    ]);
    const vs = docs.find((d) => d.kind === 'VirtualService');
    expect(vs?.metadata?.annotations).toEqual(IF_NOT_PRESENT);
  });
});
