// Gateway API routing on the real API server (the Gateway API's own CRDs), Prometheus and the
// traffic simulator: Sluice weighs the backendRefs of the HTTPRoute rule a Rollout names and
// leaves the rest of the route as its author wrote it.
import { describe, expect, it } from 'vitest';
import { requestJson } from '../../controller/kube/client.ts';
import type { GatewayRoute } from '../../controller/traffic/gateway-route.ts';
import { startController } from '../harness/controller.ts';
import { kube } from '../harness/kube.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { setLoad, setProfile } from '../harness/traffic.ts';
import { waitFor } from '../harness/wait.ts';
import { analysisRun, hostOf, startAnalysisController } from '../support/analysis.ts';
import {
  apply,
  condition,
  gatewayApp,
  getRollout,
  kubectlSluice,
  replicaSets,
  selectedRevision,
  setImage,
  waitForEvent,
  waitForRollout,
} from '../support/apps.ts';

const routePath = (ns: string) => `/apis/gateway.networking.k8s.io/v1/namespaces/${ns}/httproutes/web`;
const getRoute = (ns: string) => requestJson<GatewayRoute>(kube().kc, { method: 'GET', path: routePath(ns) });

/** The primary rule's [stable, canary] weights. */
async function weights(ns: string): Promise<(number | undefined)[]> {
  const route = await getRoute(ns);
  return (route.spec.rules?.[1]?.backendRefs ?? []).map((r) => r.weight);
}

/** The route without the weights Sluice owns: what its author wrote, to compare whole. */
async function authorsPart(ns: string): Promise<unknown> {
  const { spec } = await getRoute(ns);
  return {
    ...spec,
    rules: spec.rules?.map((rule) => ({
      ...rule,
      backendRefs: rule.backendRefs?.map(({ weight: _, ...ref }) => ref),
    })),
  };
}

async function pausedGatewayRelease(prefix: string) {
  const ns = await freshNamespace(prefix);
  await apply(gatewayApp(ns, { image: `shop/${ns}:1`, steps: [{ setWeight: 30 }, { pause: {} }] }));
  const before = await authorsPart(ns);
  await startController(ns);
  const first = await waitForRollout(
    ns,
    (r) => r.status?.phase === 'Healthy',
    'the first revision to be stable',
  );
  const stable = first.status?.stableRevision as string;
  await setImage(ns, `shop/${ns}:2`);
  const paused = await waitForRollout(
    ns,
    (r) => r.status?.phase === 'Paused' && r.status.canary?.weight === 30,
    'the release to rest at weight 30',
  );
  return { ns, stable, canary: paused.status?.currentRevision as string, before };
}

describe('Gateway API routing (trafficRouting.gatewayAPI)', () => {
  it('weighs the named HTTPRoute rule through a release; drift is put back; the rest of the route untouched', async () => {
    const { ns, stable, canary, before } = await pausedGatewayRelease('gwapi');
    // `before` was read back from the API server before the controller started.
    expect(await weights(ns)).toEqual([70, 30]);
    expect(await selectedRevision(ns, 'web-canary')).toBe(canary);
    expect(await selectedRevision(ns, 'web-stable')).toBe(stable);
    const stripped = (x: unknown) => JSON.parse(JSON.stringify(x));
    expect(stripped(await authorsPart(ns))).toEqual(stripped(before));

    // A GitOps sync puts git's 100/0 back: the next reconcile restores 70/30 and says so.
    const route = await getRoute(ns);
    await requestJson(kube().kc, {
      method: 'PATCH',
      path: routePath(ns),
      query: { fieldManager: 'argocd' },
      contentType: 'application/json-patch+json',
      body: [
        { op: 'replace', path: '/spec/rules/1/backendRefs/0/weight', value: 100 },
        { op: 'replace', path: '/spec/rules/1/backendRefs/1/weight', value: 0 },
      ],
    });
    await waitFor(
      async () =>
        (await getRoute(ns)).metadata.resourceVersion !== route.metadata.resourceVersion &&
        JSON.stringify(await weights(ns)) === '[70,30]',
      { description: 'the weights restored to 70/30' },
    );
    const drift = await waitForEvent(ns, 'WeightDriftRestored');
    expect(drift.note).toMatch(/^HTTPRoute web had canary weight 0; restored to 30/);

    expect((await kubectlSluice(ns, 'promote', 'web')).code).toBe(0);
    const done = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy' && r.status.stableRevision === canary,
      'the canary to be promoted',
    );
    expect(done.status?.history?.at(-1)?.outcome).toBe('Promoted');
    expect(await weights(ns)).toEqual([100, 0]);
    expect(await selectedRevision(ns, 'web-stable')).toBe(canary);
    expect(stripped(await authorsPart(ns))).toEqual(stripped(before));
  });

  it('a GRPCRoute named beside the HTTPRoute is given the same weight', async () => {
    const ns = await freshNamespace('gwapi-grpc');
    const grpc = {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'GRPCRoute',
      metadata: { name: 'web-grpc', namespace: ns },
      spec: {
        parentRefs: [{ group: '', kind: 'Service', name: 'web', port: 80 }],
        rules: [
          {
            backendRefs: [
              { name: 'web-stable', port: 80 },
              { name: 'web-canary', port: 80 },
            ],
          },
        ],
      },
    };
    const objects = gatewayApp(ns, {
      steps: [{ setWeight: 30 }, { pause: {} }],
      canary: {
        trafficRouting: {
          gatewayAPI: {
            httpRoutes: [{ name: 'web', rules: ['primary'] }],
            grpcRoutes: [{ name: 'web-grpc' }],
          },
        },
      },
    });
    await apply([...objects, grpc as never]);
    await startController(ns);
    await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');
    const grpcWeights = async () => {
      const route = await requestJson<GatewayRoute>(kube().kc, {
        method: 'GET',
        path: `/apis/gateway.networking.k8s.io/v1/namespaces/${ns}/grpcroutes/web-grpc`,
      });
      return route.spec.rules?.[0]?.backendRefs?.map((r) => r.weight);
    };
    // Unweighted backendRefs split 50/50: the stable gets everything before any release.
    expect(await grpcWeights()).toEqual([100, 0]);
    await setImage(ns, 'web:2');
    await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Paused' && r.status.canary?.weight === 30,
      'weight 30',
    );
    expect(await grpcWeights()).toEqual([70, 30]);
    expect(await weights(ns)).toEqual([70, 30]);
  });

  it('a Rollout deleted mid-release gives the stable Service all the weight', async () => {
    const { ns } = await pausedGatewayRelease('gwapi-del');
    await requestJson(kube().kc, {
      method: 'DELETE',
      path: `/apis/sluice.dev/v1alpha1/namespaces/${ns}/rollouts/web`,
    });
    await waitFor(
      async () => {
        try {
          await getRollout(ns);
          return false;
        } catch {
          return true;
        }
      },
      { description: 'the Rollout to be gone' },
    );
    expect(await weights(ns)).toEqual([100, 0]);
  });

  it('stalls naming a missing HTTPRoute and touches nothing until it is there', async () => {
    const ns = await freshNamespace('gwapi-missing');
    const objects = gatewayApp(ns);
    await apply(objects.filter((o) => o.kind !== 'HTTPRoute'));
    await startController(ns);
    const stalled = await waitForRollout(
      ns,
      (r) => condition(r, 'Stalled')?.status === 'True',
      'the Rollout to be Stalled',
    );
    expect(condition(stalled, 'Stalled')?.reason).toBe('HTTPRouteNotFound');
    expect(condition(stalled, 'Stalled')?.message).toBe(
      `HTTPRoute ${ns}/web (spec.strategy.canary.trafficRouting.gatewayAPI.httpRoutes) not found`,
    );
    await waitForEvent(ns, 'HTTPRouteNotFound');
    expect((await replicaSets(ns)).size).toBe(0);
    await apply(objects.filter((o) => o.kind === 'HTTPRoute'));
    await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy',
      'the Rollout to proceed once the route exists',
    );
  });

  it('a canary failing its requests behind an HTTPRoute is rolled back by successRate', async () => {
    const ns = await freshNamespace('gwapi-gate');
    await apply(
      gatewayApp(ns, {
        image: `shop/${ns}:1`,
        steps: [{ setWeight: 20 }, { pause: { duration: '5m' } }],
        canary: { analysis: { interval: '2s', initialDelay: '6s', successRate: { min: 95 } } as never },
      }),
    );
    await setLoad(hostOf('web', ns), 60);
    await setProfile(`shop/${ns}:2`, { errorRate: 0.4 });
    await startAnalysisController(ns);
    const first = await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');
    const stable = first.status?.stableRevision as string;
    await setImage(ns, `shop/${ns}:2`);
    const running = await waitForRollout(
      ns,
      (r) => r.status?.backgroundAnalysis !== undefined && r.status.currentRevision !== stable,
      'background analysis to start',
    );
    const run = await analysisRun(ns, running.status?.backgroundAnalysis?.name as string);
    expect(run.spec.metrics[0]?.absolute).toMatchObject({
      canaryService: 'web-canary',
      stableService: 'web-stable',
    });
    const aborted = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Degraded',
      'the failing canary to be rolled back',
      {
        timeout: 120_000,
      },
    );
    expect(aborted.status?.stableRevision).toBe(stable);
    expect(aborted.status?.message ?? '').toMatch(/success/i);
    expect(await weights(ns)).toEqual([100, 0]);
  });
});
