// Argo Rollouts' Rollout fields with the meaning its specification gives them, on the real API
// server and kube-controller-manager (whose ReplicaSet controller computes availability).
import { describe, expect, it } from 'vitest';
import { requestJson } from '../../controller/kube/client.ts';
import { REVISION_LABEL } from '../../controller/revision.ts';
import { startController } from '../harness/controller.ts';
import { kube } from '../harness/kube.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { waitFor } from '../harness/wait.ts';
import { analysisRuns, startAnalysisController } from '../support/analysis.ts';
import {
  apply,
  canaryApp,
  canaryWeight,
  kubectlSluice,
  recordWeights,
  replicaSets,
  setImage,
  waitForRollout,
} from '../support/apps.ts';

describe('Argo Rollouts fields on the real API server', () => {
  it('revisionHistoryLimit deletes the oldest scaled-down ReplicaSets, never the stable one', async () => {
    const ns = await freshNamespace('history');
    await apply(
      canaryApp(ns, {
        steps: [{ setWeight: 50 }],
        canary: { scaleDownDelaySeconds: 0 },
        spec: { revisionHistoryLimit: 1 },
      }),
    );
    await startController(ns);
    const stables: string[] = [];
    let previous: string | undefined;
    for (const image of ['web:1', 'web:2', 'web:3', 'web:4']) {
      if (image !== 'web:1') await setImage(ns, image);
      const healthy = await waitForRollout(
        ns,
        (r) => r.status?.phase === 'Healthy' && r.status.stableRevision !== previous,
        `${image} to be promoted`,
      );
      previous = healthy.status?.stableRevision;
      stables.push(previous as string);
    }
    // Kept: the stable (web:4) and one old revision (web:3); web:1 and web:2 deleted.
    const kept = await waitFor(
      async () => {
        const revisions = [...(await replicaSets(ns)).keys()].sort();
        return revisions.length === 2 && revisions;
      },
      { description: 'the ReplicaSets beyond revisionHistoryLimit to be deleted', timeout: 60_000 },
    );
    expect(kept).toEqual([stables[2], stables[3]].sort());
  });

  it('minReadySeconds: pods ready for less than it get no weight', async () => {
    const ns = await freshNamespace('minready');
    await apply(canaryApp(ns, { steps: [{ setWeight: 20 }, { pause: {} }], spec: { minReadySeconds: 15 } }));
    await startController(ns);
    const first = await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');
    await setImage(ns, 'web:2');
    const canary = await waitForRollout(
      ns,
      (r) =>
        r.status?.currentRevision !== undefined && r.status.currentRevision !== first.status?.stableRevision,
      'the release of web:2 to begin',
    );
    const revision = canary.status?.currentRevision as string;
    // Ready but not yet available (15 s have not passed): the canary is still at weight 0.
    const rs = await waitFor(
      async () => {
        const found = (await replicaSets(ns)).get(revision);
        return found?.status?.readyReplicas === 2 && found;
      },
      { description: 'the canary pods to be ready', timeout: 60_000 },
    );
    expect(rs.spec?.minReadySeconds).toBe(15);
    expect(rs.status?.availableReplicas ?? 0).toBeLessThan(2);
    expect(await canaryWeight(ns)).toBe(0);
    // Once they have been ready long enough, the first step's weight follows.
    await waitForRollout(ns, (r) => r.status?.canary?.weight === 20, 'weight 20 once pods are available', {
      timeout: 60_000,
    });
    const available = (await replicaSets(ns)).get(revision);
    expect(available?.status?.availableReplicas).toBe(2);
  });

  it('setCanaryScale runs the canary at the asked size; the stable stays at full size until promotion', async () => {
    const ns = await freshNamespace('canaryscale');
    await apply(
      canaryApp(ns, {
        replicas: 4,
        steps: [{ setCanaryScale: { replicas: 1 } }, { setWeight: 25 }, { pause: {} }],
      }),
    );
    await startController(ns);
    const first = await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');
    const stable = first.status?.stableRevision as string;
    const weights = await recordWeights(ns);
    await setImage(ns, 'web:2');
    const paused = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Paused' && r.status.canary?.weight === 25,
      'the canary at 25% on its one pod',
    );
    const canary = paused.status?.currentRevision as string;
    const sets = await replicaSets(ns);
    expect(sets.get(canary)?.spec?.replicas).toBe(1);
    expect(sets.get(canary)?.status?.availableReplicas).toBe(1);
    expect(sets.get(stable)?.spec?.replicas).toBe(4);

    expect((await kubectlSluice(ns, 'promote', 'web')).code).toBe(0);
    await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy' && r.status.stableRevision === canary,
      'the promotion, once the canary runs at full size',
    );
    expect((await replicaSets(ns)).get(canary)?.status?.availableReplicas).toBe(4);
    expect(weights()).toEqual([0, 25, 0]);
  });

  it('analysis.startingStep: background analysis starts only when the release reaches that step', async () => {
    const ns = await freshNamespace('startingstep');
    await apply(
      canaryApp(ns, {
        steps: [{ setWeight: 20 }, { pause: {} }, { setWeight: 40 }, { pause: {} }],
        canary: { analysis: { successRate: { min: 0 }, startingStep: 2 } },
      }),
    );
    startAnalysisController(ns);
    const first = await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');
    await setImage(ns, 'web:2');
    await waitForRollout(
      ns,
      (r) =>
        r.status?.phase === 'Paused' &&
        r.status.currentStepIndex === 1 &&
        r.status.currentRevision !== first.status?.stableRevision,
      'the first pause, at 20%',
    );
    expect((await analysisRuns(ns)).filter((run) => run.spec.gate === 'background')).toEqual([]);
    expect((await kubectlSluice(ns, 'promote', 'web')).code).toBe(0);
    const at40 = await waitForRollout(
      ns,
      (r) => r.status?.currentStepIndex === 3 && r.status.backgroundAnalysis !== undefined,
      'the second pause, at 40%, with background analysis running',
    );
    expect(at40.status?.canary?.weight).toBe(40);
    const runs = await analysisRuns(ns);
    expect(runs.map((run) => run.metadata.name)).toContain(at40.status?.backgroundAnalysis?.name);
  });

  it('canaryMetadata and stableMetadata label the pods of each role, and follow the promotion', async () => {
    const ns = await freshNamespace('rolemeta');
    await apply(
      canaryApp(ns, {
        steps: [{ setWeight: 20 }, { pause: {} }],
        canary: {
          canaryMetadata: { labels: { role: 'canary' }, annotations: { 'dashboards/track': 'canary' } },
          stableMetadata: { labels: { role: 'stable' } },
        },
      }),
    );
    await startController(ns);
    const first = await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');
    const stable = first.status?.stableRevision as string;
    const roles = async () => {
      const pods = await kube().core.listNamespacedPod({ namespace: ns });
      const byRevision = new Map<string, string[]>();
      for (const pod of pods.items) {
        const revision = pod.metadata?.labels?.[REVISION_LABEL] ?? '';
        byRevision.set(revision, [...(byRevision.get(revision) ?? []), pod.metadata?.labels?.role ?? '-']);
      }
      return byRevision;
    };
    await waitFor(async () => (await roles()).get(stable)?.join() === 'stable,stable', {
      description: 'the stable pods labelled role=stable',
    });
    await setImage(ns, 'web:2');
    const paused = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Paused' && r.status.currentRevision !== stable,
      'the canary at its pause',
    );
    const canary = paused.status?.currentRevision as string;
    await waitFor(async () => (await roles()).get(canary)?.join() === 'canary,canary', {
      description: 'the canary pods labelled role=canary',
    });
    const pods = await kube().core.listNamespacedPod({
      namespace: ns,
      labelSelector: `${REVISION_LABEL}=${canary}`,
    });
    expect(pods.items.map((p) => p.metadata?.annotations?.['dashboards/track'])).toEqual([
      'canary',
      'canary',
    ]);
    expect((await replicaSets(ns)).get(canary)?.spec?.template?.metadata?.labels?.role).toBe('canary');

    expect((await kubectlSluice(ns, 'promote', 'web')).code).toBe(0);
    await waitFor(async () => (await roles()).get(canary)?.join() === 'stable,stable', {
      description: 'the promoted pods relabelled role=stable',
    });
    const promoted = await kube().core.listNamespacedPod({
      namespace: ns,
      labelSelector: `${REVISION_LABEL}=${canary}`,
    });
    expect(promoted.items.map((p) => p.metadata?.annotations?.['dashboards/track'])).toEqual([
      undefined,
      undefined,
    ]);
  });

  it('virtualServices: every VirtualService named gets the same weight, and all go back on promotion', async () => {
    const ns = await freshNamespace('multivs');
    const gateway = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'web-gateway', namespace: ns },
      spec: {
        hosts: ['web.example.com'],
        gateways: ['ingress'],
        http: [
          {
            route: [
              { destination: { host: 'web-stable' }, weight: 100 },
              { destination: { host: 'web-canary' }, weight: 0 },
            ],
          },
        ],
      },
    };
    await apply([
      gateway,
      ...canaryApp(ns, {
        steps: [{ setWeight: 30 }, { pause: {} }],
        canary: {
          trafficRouting: {
            istio: { virtualServices: [{ name: 'web', routes: ['primary'] }, { name: 'web-gateway' }] },
          },
        },
      }),
    ]);
    await startController(ns);
    const first = await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');
    await setImage(ns, 'web:2');
    await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Paused' && r.status.currentRevision !== first.status?.stableRevision,
      'the canary at its pause',
    );
    expect(await canaryWeight(ns)).toBe(30);
    expect(await canaryWeight(ns, 'web-gateway')).toBe(30);
    expect((await kubectlSluice(ns, 'promote', 'web')).code).toBe(0);
    await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy' && r.status.stableRevision !== first.status?.stableRevision,
      'the promotion',
    );
    await waitFor(
      async () => (await canaryWeight(ns, 'web-gateway')) === 0 && (await canaryWeight(ns)) === 0,
      {
        description: 'both VirtualServices back to 0 on the canary Service',
      },
    );
  });

  it('a canary without trafficRouting weighs by pods, within maxSurge and maxUnavailable', async () => {
    const ns = await freshNamespace('basic');
    await apply(
      canaryApp(ns, {
        replicas: 4,
        virtualService: false,
        steps: [{ setWeight: 25 }, { pause: {} }, { setWeight: 50 }, { pause: {} }],
        canary: { trafficRouting: undefined, maxSurge: 1, maxUnavailable: 0 },
      }),
    );
    await startController(ns);
    const first = await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');
    const stable = first.status?.stableRevision as string;
    // Every ReplicaSet the API server holds, as often as we can read them: never more than 5 pods asked.
    let most = 0;
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const sets = await replicaSets(ns);
        most = Math.max(
          most,
          [...sets.values()].reduce((n, rs) => n + (rs.spec?.replicas ?? 0), 0),
        );
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await setImage(ns, 'web:2');
    const at25 = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Paused' && r.status.canary?.weight === 25,
      'the first pause: one canary pod of four',
    );
    const canary = at25.status?.currentRevision as string;
    let sets = await replicaSets(ns);
    expect([sets.get(canary)?.spec?.replicas, sets.get(stable)?.spec?.replicas]).toEqual([1, 3]);
    expect((await kubectlSluice(ns, 'promote', 'web')).code).toBe(0);
    await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Paused' && r.status.canary?.weight === 50,
      'two of four',
    );
    sets = await replicaSets(ns);
    expect([sets.get(canary)?.spec?.replicas, sets.get(stable)?.spec?.replicas]).toEqual([2, 2]);
    expect((await kubectlSluice(ns, 'promote', 'web')).code).toBe(0);
    await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy' && r.status.stableRevision === canary,
      'the promotion with all four pods on the new revision',
    );
    watching = false;
    await watch;
    expect((await replicaSets(ns)).get(canary)?.status?.availableReplicas).toBe(4);
    expect(most).toBeLessThanOrEqual(5);
  });

  it('dynamicStableScale shrinks the stable with its share, and an abort waits for its pods', async () => {
    const ns = await freshNamespace('dynamic');
    await apply(
      canaryApp(ns, {
        replicas: 4,
        steps: [{ setWeight: 60 }, { pause: {} }],
        canary: { dynamicStableScale: true },
      }),
    );
    await startController(ns);
    const first = await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');
    const stable = first.status?.stableRevision as string;
    const weights = await recordWeights(ns);
    await setImage(ns, 'web:2');
    await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Paused' && r.status.canary?.weight === 60,
      'weight 60',
    );
    await waitFor(
      async () => {
        const rs = (await replicaSets(ns)).get(stable);
        return rs?.spec?.replicas === 2 && rs.status?.replicas === 2;
      },
      { description: 'the stable down to the 2 pods of its 40%' },
    );
    expect((await kubectlSluice(ns, 'abort', 'web')).code).toBe(0);
    await waitForRollout(ns, (r) => r.status?.phase === 'Degraded', 'the abort');
    await waitFor(async () => (await canaryWeight(ns)) === 0, {
      description: 'all traffic back on the stable',
    });
    expect((await replicaSets(ns)).get(stable)?.status?.availableReplicas).toBe(4);
    // From 60 down to 0 without ever rising on the way.
    const back = weights().slice(weights().indexOf(60));
    expect(back.at(-1)).toBe(0);
    expect(back).toEqual([...back].sort((a, b) => b - a));
  });

  it('workloadRef adopts a Deployment: its template is released, and it is scaled down progressively', async () => {
    const ns = await freshNamespace('workloadref');
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: ns },
      spec: {
        replicas: 4,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'app', image: 'web:1' }] },
        },
      },
    };
    const objects = canaryApp(ns, { replicas: 4, steps: [{ setWeight: 20 }, { pause: {} }] });
    const rollout = objects.find((o) => o.kind === 'Rollout') as { spec: Record<string, unknown> };
    delete rollout.spec.template;
    rollout.spec.workloadRef = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'web',
      scaleDown: 'progressively',
    };
    await apply([deployment, ...objects]);
    const deploymentReplicas = async () =>
      (await kube().apps.readNamespacedDeployment({ namespace: ns, name: 'web' })).spec?.replicas;
    await waitFor(
      async () =>
        (await kube().apps.readNamespacedDeployment({ namespace: ns, name: 'web' })).status
          ?.availableReplicas === 4,
      {
        description: "the Deployment's own 4 pods",
      },
    );
    await startController(ns);
    const first = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy',
      "the Deployment's template, stable",
    );
    const stable = first.status?.stableRevision as string;
    await waitFor(async () => (await deploymentReplicas()) === 0, {
      description: 'the Deployment scaled to 0 as the Rollout took over',
    });
    expect((await replicaSets(ns)).get(stable)?.status?.availableReplicas).toBe(4);

    // A new image in the Deployment is a release of the Rollout; the Deployment stays at 0.
    await requestJsonPatch(ns, [
      { op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'web:2' },
    ]);
    const paused = await waitForRollout(
      ns,
      (r) =>
        r.status?.phase === 'Paused' && r.status.canary?.weight === 20 && r.status.currentRevision !== stable,
      "the Deployment's new template at 20%",
    );
    const canaryPods = (await replicaSets(ns)).get(paused.status?.currentRevision as string);
    expect(canaryPods?.spec?.template?.spec?.containers?.[0]?.image).toBe('web:2');
    expect(await deploymentReplicas()).toBe(0);
  });

  it("workloadRef refuses a Deployment that does not run the Rollout's pods, touching nothing", async () => {
    const ns = await freshNamespace('workloadref-foreign');
    const other = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'payments', namespace: ns },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'payments' } },
        template: {
          metadata: { labels: { app: 'payments' } },
          spec: { containers: [{ name: 'p', image: 'p:1' }] },
        },
      },
    };
    const objects = canaryApp(ns, { steps: [{ setWeight: 20 }] });
    const rollout = objects.find((o) => o.kind === 'Rollout') as { spec: Record<string, unknown> };
    delete rollout.spec.template;
    rollout.spec.workloadRef = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'payments',
      scaleDown: 'onsuccess',
    };
    await apply([other, ...objects]);
    await startController(ns);
    const stalled = await waitForRollout(
      ns,
      (r) => (r.status?.conditions ?? []).some((c) => c.type === 'Stalled' && c.status === 'True'),
      'the Rollout stalled on a Deployment that is not its own',
    );
    expect(stalled.status?.message).toMatch(
      /Deployment .*\/payments .*does not run this Rollout's pods.*app=web/,
    );
    expect(
      (await kube().apps.readNamespacedDeployment({ namespace: ns, name: 'payments' })).spec?.replicas,
    ).toBe(2);
    expect((await replicaSets(ns)).size).toBe(0);
  });
});

async function requestJsonPatch(ns: string, body: unknown[]): Promise<void> {
  await requestJson(kube().kc, {
    method: 'PATCH',
    path: `/apis/apps/v1/namespaces/${ns}/deployments/web`,
    contentType: 'application/json-patch+json',
    body,
  });
}
