import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { requestJson, statusCode } from '../../controller/kube/client.ts';
import type { Rollout } from '../../crds/index.ts';
import { startController } from '../harness/controller.ts';
import { sandbox } from '../harness/env.ts';
import { kube } from '../harness/kube.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { waitFor } from '../harness/wait.ts';
import {
  apply,
  canaryApp,
  canaryWeight,
  condition,
  getRollout,
  getService,
  getVirtualService,
  kubectlSluice,
  recordWeights,
  replicaSets,
  replicasOfRevision,
  selectedRevision,
  setImage,
  waitForEvent,
  waitForRollout,
} from '../support/apps.ts';

const PAUSED = [{ setWeight: 20 }, { pause: {} }];
const vsPath = (ns: string) => `/apis/networking.istio.io/v1/namespaces/${ns}/virtualservices/web`;

function kubectl(...args: string[]): string {
  const env = sandbox();
  return execFileSync(env.KUBECTL, args, {
    env: { ...process.env, KUBECONFIG: env.KUBECONFIG },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

async function pausedRelease(prefix: string) {
  const ns = await freshNamespace(prefix);
  await apply(canaryApp(ns, { steps: PAUSED }));
  const controller = await startController(ns);
  const first = await waitForRollout(
    ns,
    (r) => r.status?.phase === 'Healthy',
    'the first revision to be stable',
  );
  const stable = first.status?.stableRevision as string;
  await setImage(ns, 'web:2');
  const paused = await waitForRollout(
    ns,
    (r) => r.status?.phase === 'Paused' && r.status.canary?.weight === 20,
    'the release to rest at weight 20',
  );
  return { ns, controller, stable, canary: paused.status?.currentRevision as string };
}

/** Nothing of Sluice's may be on the user's objects when a reference is broken. */
async function expectUntouched(ns: string, vs: boolean) {
  expect((await replicaSets(ns)).size).toBe(0);
  for (const name of ['web-stable', 'web-canary']) {
    const svc = await getService(ns, name);
    expect(svc.spec?.selector).toEqual({ app: 'web' });
    expect((svc.metadata?.managedFields ?? []).map((f) => f.manager)).not.toContain('sluice');
  }
  if (vs) {
    const found = await getVirtualService(ns);
    const managers = ((found.metadata.managedFields ?? []) as { manager?: string }[]).map((f) => f.manager);
    expect(managers).not.toContain('sluice');
    expect(found.spec.http?.[0]?.route?.map((r) => r.weight)).toEqual([100, 0]);
  }
}

describe('traffic routing and the objects around a Rollout', () => {
  it('restores weights someone else changed within one reconcile, with a WeightDriftRestored Event', async () => {
    const { ns } = await pausedRelease('drift');
    const weights = await recordWeights(ns);
    // A person (or a GitOps sync) resets the split by hand, under another field manager.
    await requestJson(kube().kc, {
      method: 'PATCH',
      path: vsPath(ns),
      query: { fieldManager: 'argocd' },
      contentType: 'application/json-patch+json',
      body: [
        { op: 'replace', path: '/spec/http/0/route/0/weight', value: 100 },
        { op: 'replace', path: '/spec/http/0/route/1/weight', value: 0 },
      ],
    });
    await waitFor(async () => (await canaryWeight(ns)) === 20 && weights().length >= 3, {
      description: 'the canary weight to be restored to 20',
    });
    expect(weights()).toEqual([20, 0, 20]);
    const event = await waitForEvent(ns, 'WeightDriftRestored');
    expect(event.type).toBe('Warning');
    expect(event.note).toMatch(/canary weight 0; restored to 20/);
    const r = await getRollout(ns);
    expect(r.status?.phase).toBe('Paused');
    expect(r.status?.canary?.weight).toBe(20);
  });

  it('weighs the TCP route of a VirtualService beside its http route when no route is named', async () => {
    const ns = await freshNamespace('tcp');
    const objects = canaryApp(ns, {
      steps: PAUSED,
      canary: { trafficRouting: { istio: { virtualService: { name: 'web' } } } },
    }).map((o) => {
      if (o.kind !== 'VirtualService') return o;
      const vs = o as unknown as { spec: Record<string, unknown> };
      const tcp = {
        match: [{ port: 5432 }],
        route: [
          { destination: { host: 'web-stable', port: { number: 5432 } }, weight: 100 },
          { destination: { host: 'web-canary', port: { number: 5432 } }, weight: 0 },
        ],
      };
      return { ...o, spec: { ...vs.spec, tcp: [tcp] } } as typeof o;
    });
    await apply(objects);
    await startController(ns);
    await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');
    await setImage(ns, 'web:2');
    await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Paused' && r.status.canary?.weight === 20,
      'weight 20',
    );
    const weights = async () => {
      const found = (await getVirtualService(ns)) as unknown as {
        spec: { http: { route: { weight: number }[] }[]; tcp: { route: { weight: number }[] }[] };
      };
      return [found.spec.http[0]?.route.map((r) => r.weight), found.spec.tcp[0]?.route.map((r) => r.weight)];
    };
    expect(await weights()).toEqual([
      [80, 20],
      [80, 20],
    ]);
    expect((await kubectlSluice(ns, 'promote', 'web')).code).toBe(0);
    await waitForRollout(
      ns,
      (r) =>
        r.status?.phase === 'Healthy' &&
        r.status.stableRevision !== undefined &&
        r.status.currentStepIndex === 2,
      'the promotion',
    );
    expect(await weights()).toEqual([
      [100, 0],
      [100, 0],
    ]);
  });

  it('stalls, naming the missing VirtualService, and touches nothing until it exists', async () => {
    const ns = await freshNamespace('novs');
    const objects = canaryApp(ns, { steps: PAUSED });
    await apply(objects.filter((o) => o.kind !== 'VirtualService'));
    await startController(ns);
    const stalled = await waitForRollout(
      ns,
      (r) => condition(r, 'Stalled')?.status === 'True',
      'the Rollout to be Stalled',
    );
    expect(condition(stalled, 'Stalled')?.reason).toBe('VirtualServiceNotFound');
    expect(condition(stalled, 'Stalled')?.message).toContain(`VirtualService ${ns}/web`);
    expect(condition(stalled, 'Ready')?.status).toBe('False');
    expect(stalled.status?.message).toContain(`VirtualService ${ns}/web`);
    await waitForEvent(ns, 'VirtualServiceNotFound');
    await expectUntouched(ns, false);

    // Once the VirtualService appears the Rollout proceeds on its own.
    await apply(objects.filter((o) => o.kind === 'VirtualService'));
    // Phase Healthy comes with the release done; Ready only once its pods are available too
    // (kstatus), which on a loaded machine can be a pass later.
    const healthy = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy' && condition(r, 'Ready')?.status === 'True',
      'the Rollout to become Healthy and Ready',
    );
    expect(condition(healthy, 'Stalled')?.status).toBe('False');
  });

  it('stalls, naming the missing route, and touches nothing', async () => {
    const ns = await freshNamespace('noroute');
    await apply(
      canaryApp(ns, {
        steps: PAUSED,
        canary: { trafficRouting: { istio: { virtualService: { name: 'web', routes: ['canary-split'] } } } },
      }),
    );
    await startController(ns);
    const stalled = await waitForRollout(
      ns,
      (r) => condition(r, 'Stalled')?.status === 'True',
      'the Rollout to be Stalled',
    );
    expect(condition(stalled, 'Stalled')?.reason).toBe('RouteNotFound');
    expect(condition(stalled, 'Stalled')?.message).toContain(`VirtualService ${ns}/web`);
    expect(condition(stalled, 'Stalled')?.message).toContain(`'canary-split' not found`);
    await waitForEvent(ns, 'RouteNotFound');
    await expectUntouched(ns, true);
  });

  it('routes everything back to stable before a deleted Rollout goes', async () => {
    const { ns, stable } = await pausedRelease('delete');
    const weights = await recordWeights(ns);
    const before = await getRollout(ns);
    expect(before.metadata.finalizers).toContain('sluice.dev/traffic');
    await requestJson(kube().kc, {
      method: 'DELETE',
      path: `/apis/sluice.dev/v1alpha1/namespaces/${ns}/rollouts/web`,
    });
    await waitFor(
      async () => {
        try {
          await getRollout(ns);
          return false;
        } catch (err) {
          return statusCode(err) === 404;
        }
      },
      { description: 'the Rollout to be gone' },
    );
    // The object only went after the finalizer restored routing.
    expect(await canaryWeight(ns)).toBe(0);
    expect(weights()).toEqual([20, 0]);
    const vs = await getVirtualService(ns);
    expect(vs.spec.http?.[0]?.route?.map((r) => r.weight)).toEqual([100, 0]);
    expect(vs.spec.http?.[0]?.retries).toEqual({ attempts: 2 });
    expect(await selectedRevision(ns, 'web-canary')).toBe(stable);
    expect(await selectedRevision(ns, 'web-stable')).toBe(stable);
  });

  it('serves `kubectl scale` through the scale subresource; the ReplicaSets follow', async () => {
    const ns = await freshNamespace('scale');
    await apply(canaryApp(ns, { steps: PAUSED }));
    await startController(ns);
    const first = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy',
      'the first revision to be stable',
    );
    const stable = first.status?.stableRevision as string;
    kubectl('scale', 'rollouts.sluice.dev/web', '-n', ns, '--replicas=4');
    const scaled = await waitForRollout(
      ns,
      (r) => r.spec.replicas === 4 && r.status?.observedGeneration === r.metadata.generation,
      'the controller to observe the new generation',
    );
    expect(scaled.status?.phase).toBe('Healthy');
    await waitFor(async () => (await replicasOfRevision(ns, stable)) === 4, {
      description: 'the stable ReplicaSet to scale to 4',
    });
    const scale = await waitFor(
      () => {
        const s = JSON.parse(
          kubectl('get', 'rollouts.sluice.dev/web', '-n', ns, '--subresource=scale', '-o', 'json'),
        );
        return s.status?.replicas === 4 ? s : undefined;
      },
      { description: 'the scale subresource to report 4 replicas' },
    );
    expect(scale.spec.replicas).toBe(4);
    expect(scale.status.selector).toBe('app=web');

    // Mid-release, both revisions follow spec.replicas.
    await setImage(ns, 'web:2');
    const paused = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Paused' && r.status.canary?.weight === 20,
      'the release to rest at weight 20',
    );
    const canary = paused.status?.currentRevision as string;
    kubectl('scale', 'rollouts.sluice.dev/web', '-n', ns, '--replicas=3');
    await waitFor(
      async () =>
        (await replicasOfRevision(ns, stable)) === 3 && (await replicasOfRevision(ns, canary)) === 3,
      { description: 'both ReplicaSets to scale to 3' },
    );
    expect((await getRollout(ns)).status?.phase).toBe('Paused');
  });

  it('makes no status writes for an idle, healthy Rollout, however often it is reconciled', async () => {
    const ns = await freshNamespace('idle');
    await apply(canaryApp(ns, { steps: PAUSED }));
    const controller = await startController(ns);
    // Healthy and every pod available: status counts the ReplicaSets' replicas, so it still
    // changes (rightly) while kwok brings pods up.
    await waitForRollout(
      ns,
      (r) =>
        r.status?.phase === 'Healthy' &&
        r.status.replicas === 2 &&
        r.status.readyReplicas === 2 &&
        r.status.availableReplicas === 2,
      'the first revision to be stable with every pod available',
    );
    const reconciles = async () => {
      const port = await controller.metricsPort();
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      // One series per `changed` label: every pass counts.
      return [...text.matchAll(/^sluice_reconcile_duration_seconds_count(?:\{[^}]*\})? (\d+)/gm)].reduce(
        (sum, m) => sum + Number(m[1]),
        0,
      );
    };
    // Settled: the status no longer changes between two reconciles.
    const settled = await waitFor(
      async () => {
        const a = (await getRollout(ns)).metadata.resourceVersion;
        const n = await reconciles();
        await nudge(ns, `settle-${n}`);
        await waitFor(async () => (await reconciles()) > n, { description: 'a reconcile' });
        const b = await getRollout(ns);
        return a === b.metadata.resourceVersion ? b : undefined;
      },
      { description: 'the Rollout to settle', timeout: 30_000 },
    );
    const writesBefore = controller
      .lines()
      .filter((l) => l.msg !== undefined && l.phase !== undefined).length;
    const start = Date.now();
    const countBefore = await reconciles();
    // Ten seconds of reconciles prompted by changes to objects the Rollout names.
    let i = 0;
    while (Date.now() - start < 10_000) {
      const n = await reconciles();
      await nudge(ns, `idle-${i++}`);
      await waitFor(async () => (await reconciles()) > n, { description: 'a reconcile after a nudge' });
    }
    expect(await reconciles()).toBeGreaterThanOrEqual(countBefore + 5);
    const after: Rollout = await getRollout(ns);
    expect(after.metadata.resourceVersion).toBe(settled.metadata.resourceVersion);
    const writesAfter = controller.lines().filter((l) => l.msg !== undefined && l.phase !== undefined).length;
    expect(writesAfter).toBe(writesBefore);
  });
});

/** Changes an annotation on the stable Service, which the controller maps back to the Rollout. */
async function nudge(ns: string, value: string) {
  await requestJson(kube().kc, {
    method: 'PATCH',
    path: `/api/v1/namespaces/${ns}/services/web-stable`,
    contentType: 'application/merge-patch+json',
    body: { metadata: { annotations: { 'test.sluice.dev/nudge': value } } },
  });
}
