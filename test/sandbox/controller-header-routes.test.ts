// setHeaderRoute and setMirrorRoute on the real API server and the traffic simulator: only
// requests carrying the header reach the canary, whatever its weight; mirrored copies reach it
// without any client seeing its answers; the routes leave with the release.
import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { requestJson } from '../../controller/kube/client.ts';
import { startController } from '../harness/controller.ts';
import { sandbox } from '../harness/env.ts';
import { kube } from '../harness/kube.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { promScalar } from '../harness/prometheus.ts';
import { setLoadClasses, setProfile } from '../harness/traffic.ts';
import { waitFor } from '../harness/wait.ts';
import { hostOf, startAnalysisController } from '../support/analysis.ts';
import { apply, canaryApp, gatewayApp, kubectlSluice, setImage, waitForRollout } from '../support/apps.ts';
import { pendingWrites } from '../support/routes.ts';

const STEPS = [
  { setHeaderRoute: { name: 'beta', match: [{ headerName: 'x-beta', headerValue: { exact: 'yes' } }] } },
  { pause: {} },
] as never;

interface Plan {
  load: { host: string; headers: Record<string, string> };
  via: string;
  outcomes: { share: number; destination_service_name: string }[];
}

/** Where the simulator sends each kind of request to the host: Service → share, per kind. */
async function routing(
  host: string,
): Promise<{ beta: Record<string, number>; others: Record<string, number> }> {
  const res = await fetch(`${sandbox().SIMULATOR_URL}/debug/plans`);
  const plans = ((await res.json()) as { plans: Plan[] }).plans.filter((p) => p.load.host === host);
  const shares = (p: Plan | undefined) =>
    Object.fromEntries(
      (p?.outcomes ?? []).map((o) => [o.destination_service_name, Math.round(o.share * 100) / 100]),
    );
  return {
    beta: shares(plans.find((p) => p.load.headers['x-beta'] === 'yes')),
    others: shares(plans.find((p) => p.load.headers['x-beta'] === undefined)),
  };
}

/** A release resting at its pause with the header route set, the canary's weight still 0. */
async function headerRelease(prefix: string, objects: (ns: string) => KubernetesObject[]) {
  const ns = await freshNamespace(prefix);
  await apply(objects(ns));
  await setLoadClasses(hostOf('web', ns), [{ rps: 10, headers: { 'x-beta': 'yes' } }, { rps: 30 }]);
  await startController(ns);
  await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');
  await setImage(ns, 'web:2');
  await waitForRollout(ns, (r) => r.status?.phase === 'Paused', 'the release to rest at its pause');
  const host = hostOf('web', ns);
  const seen = await waitFor(
    async () => {
      const r = await routing(host);
      if (r.beta['web-canary'] !== 1) throw new Error(JSON.stringify(r));
      return r;
    },
    { description: 'requests with x-beta: yes routed to the canary' },
  );
  return { ns, host, seen };
}

describe('setHeaderRoute', () => {
  it('Istio: only requests with the header reach the canary; promotion removes the route', async () => {
    const { ns, host, seen } = await headerRelease('hdr-istio', (ns) => canaryApp(ns, { steps: STEPS }));
    expect(seen).toEqual({ beta: { 'web-canary': 1 }, others: { 'web-stable': 1 } });
    const vsPath = `/apis/networking.istio.io/v1/namespaces/${ns}/virtualservices/web`;
    const vs = await requestJson<{ spec: { http: { name: string }[] } }>(kube().kc, {
      method: 'GET',
      path: vsPath,
    });
    expect(vs.spec.http.map((r) => r.name)).toEqual(['beta', 'primary']);
    expect(await pendingWrites(ns)).toEqual([]);

    expect((await kubectlSluice(ns, 'promote', 'web')).code).toBe(0);
    await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy' && r.status.currentStepIndex === 2,
      'the promotion',
    );
    const after = await requestJson<{ spec: { http: { name: string }[] } }>(kube().kc, {
      method: 'GET',
      path: vsPath,
    });
    expect(after.spec.http.map((r) => r.name)).toEqual(['primary']);
    // The promoted revision is the stable now: everyone reaches it through the stable Service.
    await waitFor(async () => (await routing(host)).beta['web-stable'] === 1, {
      description: 'header requests back on the stable Service',
    });
  });

  it('Gateway API: the header rule goes ahead of the weighted one; an abort removes it', async () => {
    const { ns, host, seen } = await headerRelease('hdr-gw', (ns) => gatewayApp(ns, { steps: STEPS }));
    expect(seen).toEqual({ beta: { 'web-canary': 1 }, others: { 'web-stable': 1 } });
    const routePath = `/apis/gateway.networking.k8s.io/v1/namespaces/${ns}/httproutes/web`;
    const rules = async () =>
      (
        await requestJson<{ spec: { rules: { name: string }[] } }>(kube().kc, {
          method: 'GET',
          path: routePath,
        })
      ).spec.rules.map((r) => r.name);
    expect(await rules()).toEqual(['beta', 'pinned', 'primary']);
    expect(await pendingWrites(ns)).toEqual([]);

    expect((await kubectlSluice(ns, 'abort', 'web')).code).toBe(0);
    await waitForRollout(ns, (r) => r.status?.phase === 'Degraded', 'the abort');
    await waitFor(async () => JSON.stringify(await rules()) === '["pinned","primary"]', {
      description: 'the header rule removed',
    });
    await waitFor(async () => (await routing(host)).beta['web-stable'] === 1, {
      description: 'header requests back on the stable',
    });
  });
});

describe('setMirrorRoute', () => {
  const MIRROR = [
    { setMirrorRoute: { name: 'shadow', percentage: 50, match: [{ path: { prefix: '/' } }] } },
    { pause: {} },
  ] as never;

  /** Where the simulator sends the host's requests, and what it copies where. */
  async function mirrorPlan(host: string) {
    const res = await fetch(`${sandbox().SIMULATOR_URL}/debug/plans`);
    const plans = (await res.json()) as {
      plans: (Plan & { mirrors?: { share: number; destination_service_name: string }[] })[];
    };
    const p = plans.plans.find((x) => x.load.host === host);
    const by = (list: { share: number; destination_service_name: string }[] = []) =>
      Object.fromEntries(list.map((o) => [o.destination_service_name, Math.round(o.share * 100) / 100]));
    return { answers: by(p?.outcomes), copies: by(p?.mirrors) };
  }

  it('Istio: a canary failing every request, at weight 0, is rolled back on mirrored requests alone; no client saw it', async () => {
    const ns = await freshNamespace('mirror-istio');
    await apply(
      canaryApp(ns, {
        image: `shop/${ns}:1`,
        steps: MIRROR,
        canary: { analysis: { interval: '2s', initialDelay: '6s', successRate: { min: 95 } } as never },
      }),
    );
    await setProfile(`shop/${ns}:2`, { errorRate: 1 });
    await startAnalysisController(ns);
    const first = await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');
    // Load only once the stable has ready pods: before that the stable Service answers 503
    // (no endpoints), which is not what this test is about.
    await setLoadClasses(hostOf('web', ns), [{ rps: 60 }]);
    await setImage(ns, `shop/${ns}:2`);
    const host = hostOf('web', ns);
    const seen = await waitFor(
      async () => {
        const p = await mirrorPlan(host);
        if (p.copies['web-canary'] !== 0.5) throw new Error(JSON.stringify(p));
        return p;
      },
      { description: 'half the requests copied to the canary' },
    );
    expect(seen.answers).toEqual({ 'web-stable': 1 });
    const aborted = await waitForRollout(ns, (r) => r.status?.phase === 'Degraded', 'the rollback', {
      timeout: 120_000,
    });
    expect(aborted.status?.stableRevision).toBe(first.status?.stableRevision);
    // Every answer a client got came from the stable and succeeded.
    const clientErrors = await promScalar(
      `sum(increase(istio_requests_total{destination_service_namespace="${ns}",destination_service_name="web-stable",response_code=~"5.."}[5m])) or vector(0)`,
    );
    expect(clientErrors).toBe(0);
    const vsPath = `/apis/networking.istio.io/v1/namespaces/${ns}/virtualservices/web`;
    await waitFor(
      async () => {
        const vs = await requestJson<{ spec: { http: { name: string }[] } }>(kube().kc, {
          method: 'GET',
          path: vsPath,
        });
        return JSON.stringify(vs.spec.http.map((r) => r.name)) === '["primary"]';
      },
      { description: 'the mirror route removed' },
    );
  });

  it('Gateway API: a RequestMirror rule ahead of the weighted one, removed at promotion', async () => {
    const ns = await freshNamespace('mirror-gw');
    await apply(gatewayApp(ns, { steps: MIRROR }));
    await setLoadClasses(hostOf('web', ns), [{ rps: 20 }]);
    await startController(ns);
    await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');
    await setImage(ns, 'web:2');
    await waitForRollout(ns, (r) => r.status?.phase === 'Paused', 'the release to rest at its pause');
    const host = hostOf('web', ns);
    const seen = await waitFor(
      async () => {
        const p = await mirrorPlan(host);
        if (p.copies['web-canary'] !== 0.5) throw new Error(JSON.stringify(p));
        return p;
      },
      { description: 'half the requests copied to the canary' },
    );
    expect(seen.answers).toEqual({ 'web-stable': 1 });
    expect(await pendingWrites(ns)).toEqual([]);
    expect((await kubectlSluice(ns, 'promote', 'web')).code).toBe(0);
    await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy' && r.status.currentStepIndex === 2,
      'the promotion',
    );
    const route = await requestJson<{ spec: { rules: { name: string }[] } }>(kube().kc, {
      method: 'GET',
      path: `/apis/gateway.networking.k8s.io/v1/namespaces/${ns}/httproutes/web`,
    });
    expect(route.spec.rules.map((r) => r.name)).toEqual(['pinned', 'primary']);
  });
});
