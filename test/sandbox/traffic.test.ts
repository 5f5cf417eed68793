import { describe, expect, it } from 'vitest';
import { applyYaml } from '../harness/apply.ts';
import { sandbox } from '../harness/env.ts';
import { kube } from '../harness/kube.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { promQuery } from '../harness/prometheus.ts';
import { setLoad, setProfile } from '../harness/traffic.ts';
import { waitFor } from '../harness/wait.ts';

function deployment(name: string, track: string, image: string, version: string, replicas = 2): string {
  return `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: checkout, track: ${track}}}
  template:
    metadata: {labels: {app: checkout, track: ${track}, version: ${version}}}
    spec: {containers: [{name: app, image: "${image}"}]}
---
apiVersion: v1
kind: Service
metadata: {name: ${name}}
spec:
  selector: {app: checkout, track: ${track}}
  ports: [{name: http, port: 80}]
`;
}

async function readyReplicas(ns: string, name: string, want: number): Promise<void> {
  await waitFor(
    async () =>
      (await kube().apps.readNamespacedDeployment({ name, namespace: ns })).status?.readyReplicas === want,
    { description: `${ns}/${name} to have ${want} ready replicas`, timeout: 60_000 },
  );
}

/** The simulator's routing plan for a host, once it has seen the objects the test created. */
async function planFor(
  host: string,
): Promise<{ via: string; outcomes: Record<string, unknown>[] } | undefined> {
  const res = await fetch(`${sandbox().SIMULATOR_URL}/debug/plans`);
  const body = (await res.json()) as {
    plans: { load: { host: string }; via: string; outcomes: Record<string, unknown>[] }[];
  };
  return body.plans.find((p) => p.load.host === host);
}

describe('traffic simulator through Prometheus', () => {
  it('splits traffic 80/20 by the VirtualService and reports each service its own success rate', async () => {
    const ns = await freshNamespace();
    const okImage = `example.com/checkout:1.0.0-${ns}`;
    const badImage = `example.com/checkout:1.1.0-${ns}`;
    await setProfile(okImage, { errorRate: 0 });
    await setProfile(badImage, { errorRate: 0.1 });
    await applyYaml(deployment('checkout-stable', 'stable', okImage, 'v1'), ns);
    await applyYaml(deployment('checkout-canary', 'canary', badImage, 'v2'), ns);
    await applyYaml(
      `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: checkout}
spec:
  hosts: [checkout]
  http:
    - name: primary
      route:
        - {destination: {host: checkout-stable}, weight: 80}
        - {destination: {host: checkout-canary}, weight: 20}
`,
      ns,
    );
    await readyReplicas(ns, 'checkout-stable', 2);
    await readyReplicas(ns, 'checkout-canary', 2);

    const host = `checkout.${ns}.svc.cluster.local`;
    const rps = 200;
    await setLoad(host, rps);
    // Start counting only once the simulator routes to ready pods on both sides, so the
    // window holds no 503s from before the canary's pods were Ready.
    await waitFor(
      async () => {
        const plan = await planFor(host);
        if (plan?.outcomes.length === 2 && plan.outcomes.every((o) => o.destination_workload !== 'unknown'))
          return plan;
        throw new Error(`plan is ${JSON.stringify(plan)}`);
      },
      { description: `simulator to route ${host} to both services' pods`, timeout: 30_000 },
    );

    const window = '20s';
    const sel = `reporter="destination",destination_service_namespace="${ns}"`;
    await waitFor(
      async () => {
        const [total] = await promQuery(`sum(increase(istio_requests_total{${sel}}[${window}]))`);
        // Most of a full window of traffic: enough requests that a 10% error rate is measured within ±3%.
        return (total?.value ?? 0) >= 0.8 * rps * 20 ? total : false;
      },
      { description: `Prometheus to hold ${window} of traffic for ${host}`, timeout: 90_000, interval: 1000 },
    );

    const byService = async (q: string) =>
      new Map((await promQuery(q)).map((s) => [s.metric.destination_service_name, s.value] as const));
    const success = await byService(
      `sum by (destination_service_name) (rate(istio_requests_total{${sel},response_code!~"5.."}[${window}]))` +
        ` / sum by (destination_service_name) (rate(istio_requests_total{${sel}}[${window}]))`,
    );
    const share = await byService(
      `sum by (destination_service_name) (rate(istio_requests_total{${sel}}[${window}]))` +
        ` / scalar(sum(rate(istio_requests_total{${sel}}[${window}])))`,
    );
    // Each request fails at random with the canary's 10% error rate, so the measured rate's
    // spread comes from how many requests the canary served: accept 4.5 standard errors of it
    // (~1 in 150,000 runs outside by chance; a fixed ±3% was outside about 1 in 200).
    const [canaryCount] = await promQuery(
      `sum(increase(istio_requests_total{${sel},destination_service_name="checkout-canary"}[${window}]))`,
    );
    const served = canaryCount?.value ?? 0;
    expect(served).toBeGreaterThan(0.16 * 0.8 * rps * 20);
    const tolerance = 4.5 * Math.sqrt((0.1 * 0.9) / served);
    expect(success.get('checkout-stable')).toBe(1);
    expect(success.get('checkout-canary')).toBeGreaterThan(0.9 - tolerance);
    expect(success.get('checkout-canary')).toBeLessThan(0.9 + tolerance);
    expect(share.get('checkout-canary')).toBeGreaterThan(0.16);
    expect(share.get('checkout-canary')).toBeLessThan(0.24);

    // Istio's labels: workload is the ReplicaSet's name without its pod-template hash.
    const [canary] = await promQuery(
      `istio_requests_total{${sel},destination_service_name="checkout-canary",response_code="500"}`,
    );
    expect(canary?.metric).toMatchObject({
      destination_service: `checkout-canary.${ns}.svc.cluster.local`,
      destination_service_namespace: ns,
      destination_workload: 'checkout-canary',
      destination_workload_namespace: ns,
      destination_version: 'v2',
    });
  });

  it('answers 503 for a Service without ready pods', async () => {
    const ns = await freshNamespace();
    await applyYaml(deployment('checkout-empty', 'none', 'example.com/checkout:0', 'v1', 0), ns);
    const host = `checkout-empty.${ns}.svc.cluster.local`;
    await setLoad(host, 50);
    const sel = `reporter="destination",destination_service_namespace="${ns}",destination_service_name="checkout-empty"`;
    const [sample] = await waitFor(
      async () => {
        const r = await promQuery(
          `sum by (response_code, destination_workload) (rate(istio_requests_total{${sel}}[10s]))`,
        );
        // A 10s window fills within ~10s of the first request; 50 rps is then ~50/s.
        if (r.length === 1 && (r[0]?.value ?? 0) > 40) return r;
        throw new Error(`series: ${JSON.stringify(r)}`);
      },
      { description: `503s for ${host} in Prometheus`, timeout: 60_000, interval: 1000 },
    );
    expect(sample?.metric).toEqual({ response_code: '503', destination_workload: 'unknown' });
    expect(sample?.value).toBeLessThan(60);
  });

  it('splits traffic by an HTTPRoute on a Service (GAMMA) and follows its weights when they change', async () => {
    const ns = await freshNamespace();
    await applyYaml(deployment('checkout-stable', 'stable', `example.com/checkout:1.0.0-${ns}`, 'v1'), ns);
    await applyYaml(deployment('checkout-canary', 'canary', `example.com/checkout:1.1.0-${ns}`, 'v2'), ns);
    const route = (stable: number, canary: number) => `
apiVersion: v1
kind: Service
metadata: {name: checkout}
spec:
  selector: {app: checkout}
  ports: [{name: http, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: checkout}
spec:
  parentRefs: [{group: "", kind: Service, name: checkout, port: 80}]
  rules:
    - name: split
      backendRefs:
        - {name: checkout-stable, port: 80, weight: ${stable}}
        - {name: checkout-canary, port: 80, weight: ${canary}}
`;
    await applyYaml(route(70, 30), ns);
    await readyReplicas(ns, 'checkout-stable', 2);
    await readyReplicas(ns, 'checkout-canary', 2);

    const host = `checkout.${ns}.svc.cluster.local`;
    const rps = 200;
    await setLoad(host, rps);
    // Count only once both sides route to ready pods, so the window holds no early 503s.
    await waitFor(
      async () => {
        const plan = await planFor(host);
        if (
          plan?.via === `HTTPRoute ${ns}/checkout rule split` &&
          plan.outcomes.length === 2 &&
          plan.outcomes.every((o) => o.destination_workload !== 'unknown')
        )
          return plan;
        throw new Error(`plan is ${JSON.stringify(plan)}`);
      },
      { description: `simulator to route ${host} by the HTTPRoute to both services' pods`, timeout: 30_000 },
    );

    const window = '20s';
    const sel = `reporter="destination",destination_service_namespace="${ns}"`;
    await waitFor(
      async () => {
        const [total] = await promQuery(`sum(increase(istio_requests_total{${sel}}[${window}]))`);
        return (total?.value ?? 0) >= 0.8 * rps * 20 ? total : false;
      },
      { description: `Prometheus to hold ${window} of traffic for ${host}`, timeout: 90_000, interval: 1000 },
    );
    const share = new Map(
      (
        await promQuery(
          `sum by (destination_service_name) (rate(istio_requests_total{${sel}}[${window}]))` +
            ` / scalar(sum(rate(istio_requests_total{${sel}}[${window}])))`,
        )
      ).map((s) => [s.metric.destination_service_name, s.value] as const),
    );
    // ~3,200+ requests: the canary's share has a standard error under 0.01; ±0.05 is 5 of them.
    expect([...share.keys()].sort()).toEqual(['checkout-canary', 'checkout-stable']);
    expect(share.get('checkout-canary')).toBeGreaterThan(0.25);
    expect(share.get('checkout-canary')).toBeLessThan(0.35);
    expect(share.get('checkout-stable')).toBeGreaterThan(0.65);
    expect(share.get('checkout-stable')).toBeLessThan(0.75);

    await applyYaml(route(0, 100), ns);
    await waitFor(
      async () => {
        const plan = await planFor(host);
        const names = plan?.outcomes.map((o) => o.destination_service_name);
        if (names?.length && names.every((n) => n === 'checkout-canary')) return plan;
        throw new Error(`plan is ${JSON.stringify(plan)}`);
      },
      { description: `simulator to send all of ${host} to the canary`, timeout: 30_000 },
    );
    const count = async (service: string) =>
      (await promQuery(`sum(istio_requests_total{${sel},destination_service_name="${service}"})`))[0]
        ?.value ?? 0;
    // Canary requests counted after the switch prove a scrape that saw it; stable's count from
    // then on must not move while the canary's keeps growing.
    const canaryAtSwitch = await count('checkout-canary');
    const stableAfter = await waitFor(
      async () =>
        (await count('checkout-canary')) > canaryAtSwitch + 2 * rps ? count('checkout-stable') : false,
      { description: 'a scrape after the switch', timeout: 30_000, interval: 500 },
    );
    const canaryAfter = await count('checkout-canary');
    await waitFor(async () => (await count('checkout-canary')) > canaryAfter + 5 * rps, {
      description: `${5 * rps} more canary requests in Prometheus`,
      timeout: 60_000,
      interval: 500,
    });
    expect(await count('checkout-stable')).toBe(stableAfter);
  });
});
