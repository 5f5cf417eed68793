import { describe, expect, it } from 'vitest';
import type { MetricProvider, PrometheusOptions, Sample } from '../../../analysis/provider.ts';
import { ProviderPool } from '../../../analysis/provider.ts';
import { TrafficHistoryCache } from '../../../analysis/traffic-history.ts';
import { assessRun, warnIfBlind } from '../../../controller/analysis/detectability.ts';
import { analysisRunFor } from '../../../controller/analysis/runs.ts';
import type { EventInfo, ObjectRef } from '../../../controller/kube/events.ts';
import { envoyClusters } from '../../../controller/traffic/envoy-clusters.ts';
import type { GatewayRoute } from '../../../controller/traffic/gateway-route.ts';
import type { Rollout } from '../../../crds/index.ts';

const rollout = {
  apiVersion: 'sluice.dev/v1alpha1',
  kind: 'Rollout',
  metadata: { name: 'web', namespace: 'shop', uid: 'u1' },
  spec: {
    selector: { matchLabels: { app: 'web' } },
    template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'a', image: 'x' }] } },
    strategy: {
      canary: {
        stableService: 'web-stable',
        canaryService: 'web-canary',
        trafficRouting: { istio: { virtualService: { name: 'web', routes: ['primary'] } } },
        analysis: { compareToStable: { errors: { maxIncreasePercent: 25 } } },
        steps: [{ setWeight: 20 }, { pause: { duration: '1m' } }],
      },
    },
  },
} as unknown as Rollout;

/**
 * Prometheus answering 1 request/s with 10% errors on the stable. A stand-in: what is tested is
 * which address is asked and what is said; the real query meets the real Prometheus in
 * test/sandbox/analysis-detectability.test.ts.
 */
function pool() {
  const asked: PrometheusOptions[] = [];
  const providers = new ProviderPool((o): MetricProvider => {
    asked.push(o);
    return {
      address: o.address,
      query: async () => ({ kind: 'none', reason: '' }),
      series: async () => [
        { labels: { destination_service_name: 'web-stable', response_code: '200' }, value: 0.9 },
        { labels: { destination_service_name: 'web-stable', response_code: '500' }, value: 0.1 },
      ],
    };
  });
  return { providers, asked };
}

/** Prometheus answering every query with `series`, the queries kept (a stand-in, as `pool`). */
function answering(queries: string[], series: Sample[]): ProviderPool {
  return new ProviderPool(
    (o): MetricProvider => ({
      address: o.address,
      query: async () => ({ kind: 'none', reason: '' }),
      series: async (q) => {
        queries.push(q);
        return series;
      },
    }),
  );
}

describe('what a run start says about its gate', () => {
  const start = { gate: 'background' as const, name: 'web-abc-bg-a0', revision: 'abc' };

  it("asks the admin's Prometheus with a short deadline, and warns with the numbers when the gate is blind", async () => {
    const { providers, asked } = pool();
    const run = analysisRunFor(rollout, start);
    const d = await assessRun(
      { traffic: new TrafficHistoryCache(), providers, address: 'http://prom:9090' },
      run,
      rollout,
    );
    expect(asked).toEqual([{ address: 'http://prom:9090', timeoutMs: 3000 }]);
    expect(d).toMatchObject({
      outcome: 'CannotSee',
      canaryWeight: 20,
      allowedSeconds: 60,
      requestsPerSecond: 1,
    });
    const said: [ObjectRef, EventInfo][] = [];
    const events = { record: async (r: ObjectRef, i: EventInfo) => void said.push([r, i]) };
    if (d) await warnIfBlind(events, run, rollout, d);
    expect(said).toHaveLength(1);
    expect(said[0]?.[0]).toMatchObject({ kind: 'Rollout', name: 'web', namespace: 'shop', uid: 'u1' });
    expect(said[0]?.[1]).toMatchObject({ type: 'Warning', reason: 'GateCannotSee' });
    expect(said[0]?.[1].note).toMatch(
      /^analysis web-abc-bg-a0: cannot see the configured effect: .*\(last hour: 1 requests\/s, 10% errors on stable; /,
    );
    await warnIfBlind(events, run, rollout, { ...d!, outcome: 'CanSee' });
    expect(said).toHaveLength(1);
  });

  it('says nothing without a default Prometheus, for a watch, or for a gate comparing only the latency distribution', async () => {
    const { providers, asked } = pool();
    const deps = { traffic: new TrafficHistoryCache(), providers };
    expect(await assessRun(deps, analysisRunFor(rollout, start), rollout)).toBeUndefined();
    const watch = analysisRunFor(rollout, { ...start, watch: true } as never);
    expect(await assessRun({ ...deps, address: 'http://prom:9090' }, watch, rollout)).toBeUndefined();
    const distribution = structuredClone(rollout);
    distribution.spec.strategy.canary!.analysis = {
      compareToStable: { latencyDistribution: { maxShiftPoints: 5 } },
    };
    const run = analysisRunFor(distribution, start);
    expect(await assessRun({ ...deps, address: 'http://prom:9090' }, run, distribution)).toBeUndefined();
    expect(asked).toEqual([]);
  });

  it('a gate with only a p99 comparison is worked out from its Services and warned about in its own terms', async () => {
    const { providers, asked } = pool();
    const latencyOnly = structuredClone(rollout);
    latencyOnly.spec.strategy.canary!.analysis = {
      compareToStable: { latencyP99: { maxIncreasePercent: 20 } },
    };
    const run = analysisRunFor(latencyOnly, start);
    const queries: string[] = [];
    const d = await assessRun(
      { traffic: new TrafficHistoryCache(), providers: answering(queries, []), address: 'http://prom:9090' },
      run,
      latencyOnly,
    );
    expect(queries).toHaveLength(1);
    expect(queries[0]).toContain('destination_service_name="web-canary"');
    expect(d?.outcome).toBe('NoTrafficHistory');
    const seen = await assessRun(
      { traffic: new TrafficHistoryCache(), providers, address: 'http://prom:9090' },
      run,
      latencyOnly,
    );
    expect(asked).toHaveLength(1);
    // 1 request/s at 20% for a minute: 12 canary requests, under minRequests.
    expect(seen).toMatchObject({
      outcome: 'CannotSee',
      latencyP99: { outcome: 'CannotSee', configuredPercent: 2 },
    });
    const said: [ObjectRef, EventInfo][] = [];
    await warnIfBlind({ record: async (r, i) => void said.push([r, i]) }, run, latencyOnly, seen!);
    expect(said[0]?.[1].note).toMatch(
      /^analysis web-abc-bg-a0: cannot see the configured effect: no share of requests slower than 1\.2 × the stable's p99 is caught with 90% power in 60s; .*\(last hour: 1 requests\/s; /,
    );
  });

  it("under subset routing asks for the two revisions' traffic and reads the stable revision's errors", async () => {
    const subsets = structuredClone(rollout);
    subsets.spec.strategy.canary!.trafficRouting = {
      istio: {
        virtualService: { name: 'web' },
        destinationRule: { name: 'web', canarySubsetName: 'web-new', stableSubsetName: 'web-old' },
      },
    } as never;
    subsets.status = { stableRevision: 'old1' } as never;
    const queries: string[] = [];
    // Both revisions answer under one Service: only the revision tells the healthy stable apart.
    const side = (revision: string, code: string, value: number) => ({
      labels: {
        destination_service_name: 'web',
        destination_canonical_revision: revision,
        response_code: code,
      },
      value,
    });
    const providers = answering(queries, [
      side('old1', '200', 0.9),
      side('old1', '500', 0.1),
      side('abc', '500', 5),
    ]);
    const d = await assessRun(
      { traffic: new TrafficHistoryCache(), providers, address: 'http://prom:9090' },
      analysisRunFor(subsets, start),
      subsets,
    );
    expect(queries).toHaveLength(1);
    expect(queries[0]).toContain('destination_canonical_revision="abc"');
    expect(queries[0]).toContain('destination_canonical_revision="old1"');
    expect(d).toMatchObject({ requestsPerSecond: 6 });
    expect(d?.basis).toMatch(/10% errors on stable/);
  });

  it("reading Envoy Gateway asks for the route's backendRef clusters, found in the caches, and reads the stable's class 5", async () => {
    const envoy = structuredClone(rollout);
    const canary = envoy.spec.strategy.canary!;
    canary.trafficRouting = { gatewayAPI: { httpRoutes: [{ name: 'web' }] } } as never;
    canary.analysis = { ...canary.analysis, builtinMetrics: 'envoyGateway' } as never;
    const filters = [{ type: 'RequestHeaderModifier' }];
    const route: GatewayRoute = {
      metadata: { name: 'web', namespace: 'shop' },
      spec: {
        rules: [
          {
            backendRefs: [
              { name: 'web-stable', weight: 80 },
              { name: 'web-canary', weight: 20, filters },
            ],
          },
        ],
      },
    };
    const routes = (kind: string, ns: string, name: string) =>
      kind === 'HTTPRoute' && ns === 'shop' && name === 'web' ? route : undefined;
    const start = { gate: 'background' as const, name: 'web-abc-bg-a0', revision: 'abc' };
    const run = analysisRunFor(
      envoy,
      start,
      new Map(),
      [],
      undefined,
      undefined,
      envoyClusters(envoy.spec, 'shop', (k, n) => routes(k, 'shop', n)),
    );
    const queries: string[] = [];
    const marked = (service: string, klass: string, value: number) => ({
      labels: { sluice_service: service, envoy_response_code_class: klass },
      value,
    });
    const providers = answering(queries, [marked('web-stable', '2', 0.8), marked('web-stable', '5', 0.2)]);
    const deps = { traffic: new TrafficHistoryCache(), providers, address: 'http://prom:9090' };
    const d = await assessRun(deps, run, envoy, routes);
    expect(queries).toHaveLength(1);
    expect(queries[0]).toContain(
      'envoy_cluster_upstream_rq_xx{envoy_cluster_name=~"httproute/shop/web/rule/0/backend/1"}',
    );
    expect(queries[0]).not.toContain('istio_');
    expect(d?.basis).toMatch(/20% errors on stable/);
    // Without the route the gate cannot be assessed, and says why rather than asking Istio's series.
    const blind = await assessRun(
      { ...deps, traffic: new TrafficHistoryCache() },
      run,
      envoy,
      () => undefined,
    );
    expect(queries).toHaveLength(1);
    expect(JSON.stringify(blind)).toContain('HTTPRoute shop/web not found');
  });
});
