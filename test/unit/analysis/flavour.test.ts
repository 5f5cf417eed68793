import { describe, expect, it } from 'vitest';
import { judgeAbsoluteSamples } from '../../../analysis/absolute-look.ts';
import { judgeSamples } from '../../../analysis/compare/measure.ts';
import {
  bucketsOf,
  errorCounts,
  latencyBucketsQuery,
  requestCountsQuery,
  withWindow,
} from '../../../analysis/compare/queries.ts';
import { ENVOY_GATEWAY, ISTIO } from '../../../analysis/flavour.ts';
import type { Sample } from '../../../analysis/provider.ts';
import { latencyP99Query, successRateQuery } from '../../../analysis/queries.ts';
import { InvalidAnalysis, resolveMetrics } from '../../../analysis/resolve.ts';
import { trafficFromSamples, trafficHistoryQuery } from '../../../analysis/traffic-history.ts';
import { type Gates, RunMetric } from '../../../crds/index.ts';

const CANARY_CLUSTER = 'httproute/shop/web.v2/rule/1/backend/1';
const STABLE_CLUSTER = 'httproute/shop/web.v2/rule/1/backend/0';
const canary = { service: 'web-canary', namespace: 'shop', clusters: [CANARY_CLUSTER] };
const stable = { service: 'web-stable', namespace: 'shop', clusters: [STABLE_CLUSTER] };

/** A sample as Prometheus answers an Envoy Gateway query: the side marked by label_replace. */
const envoy = (service: string, labels: Record<string, string>, value: number): Sample => ({
  labels: { sluice_service: service, ...labels },
  value,
});

/** Envoy's default buckets up to 1 s, cumulative: `slow` of `n` requests took 250–500 ms. */
const buckets = (service: string, n: number, slow: number): Sample[] =>
  [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, '+Inf'].map((le) =>
    envoy(service, { le: String(le) }, typeof le === 'number' && le <= 250 ? n - slow : n),
  );

describe("Envoy Gateway's flavour: the queries", () => {
  it("counts each side's upstream requests by response class, the side marked with its Service", () => {
    expect(withWindow(requestCountsQuery(canary, stable, ENVOY_GATEWAY), 30_000)).toBe(
      'sum by (sluice_service, envoy_response_code_class) (' +
        'label_replace(increase(envoy_cluster_upstream_rq_xx{envoy_cluster_name=~"httproute/shop/web\\\\.v2/rule/1/backend/1"}[30s]), "sluice_service", "web-canary", "", "")' +
        ' or label_replace(increase(envoy_cluster_upstream_rq_xx{envoy_cluster_name=~"httproute/shop/web\\\\.v2/rule/1/backend/0"}[30s]), "sluice_service", "web-stable", "", ""))',
    );
  });

  it('reads latency from the upstream request-time histogram; a side of several rules matches any of its clusters', () => {
    const two = { ...canary, clusters: [CANARY_CLUSTER, 'grpcroute/shop/web-grpc/rule/0/backend/1'] };
    const q = latencyBucketsQuery(two, stable, ENVOY_GATEWAY);
    expect(q).toMatch(
      /^sum by \(sluice_service, le\) \(label_replace\(increase\(envoy_cluster_upstream_rq_time_bucket\{/,
    );
    expect(q).toContain(
      'envoy_cluster_name=~"httproute/shop/web\\\\.v2/rule/1/backend/1|grpcroute/shop/web-grpc/rule/0/backend/1"',
    );
    expect(latencyP99Query(canary, 60_000, ENVOY_GATEWAY)).toBe(
      'histogram_quantile(0.99, sum by (le) (rate(envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=~"httproute/shop/web\\\\.v2/rule/1/backend/1"}[60s])))',
    );
    expect(successRateQuery(canary, 60_000, ENVOY_GATEWAY)).toContain(
      'envoy_cluster_upstream_rq_xx{envoy_cluster_name=~"httproute/shop/web\\\\.v2/rule/1/backend/1",envoy_response_code_class!="5"}',
    );
  });

  it('keeps Istio the default, as written before flavours', () => {
    expect(requestCountsQuery(canary, stable)).toBe(requestCountsQuery(canary, stable, ISTIO));
    expect(requestCountsQuery(canary, stable)).toContain('istio_requests_total{reporter="destination"');
    expect(requestCountsQuery(canary, stable)).not.toContain('label_replace');
  });

  it('a hostile Service name stays one string, its `$` no expansion', () => {
    const hostile = { ...canary, service: 'x$1", "", "", "") or vector(1) #' };
    const q = ENVOY_GATEWAY.tag('v', hostile);
    expect(q).toBe(
      'label_replace(v, "sluice_service", "x$$1\\", \\"\\", \\"\\", \\"\\") or vector(1) #", "", "")',
    );
  });

  it('a side without clusters selects nothing rather than everything', () => {
    expect(ENVOY_GATEWAY.select({ service: 'web', namespace: 'shop' })).toBe('envoy_cluster_name=~""');
  });

  it("the last hour's traffic is read from the same counter", () => {
    const q = trafficHistoryQuery(canary, stable, ENVOY_GATEWAY);
    expect(q).toContain(`count_over_time((sum(envoy_cluster_upstream_rq_xx{envoy_cluster_name=~`);
    const samples = [
      envoy('web-stable', { envoy_response_code_class: '2' }, 95),
      envoy('web-stable', { envoy_response_code_class: '5' }, 5),
      envoy('web-canary', { envoy_response_code_class: '2' }, 10),
    ];
    expect(trafficFromSamples(samples, 'web-canary', 'web-stable', ENVOY_GATEWAY)).toEqual({
      requestsPerSecond: 110,
      stableErrorRatio: 0.05,
    });
  });
});

describe("Envoy Gateway's flavour: reading answers", () => {
  it('counts class 5 as errors and finds each side by its mark, not by Istio labels', () => {
    const samples = [
      envoy('web-canary', { envoy_response_code_class: '2' }, 80),
      envoy('web-canary', { envoy_response_code_class: '4' }, 5),
      envoy('web-canary', { envoy_response_code_class: '5' }, 15),
      envoy('web-stable', { envoy_response_code_class: '5' }, 1),
    ];
    expect(errorCounts(samples, 'web-canary', ENVOY_GATEWAY)).toEqual({ requests: 100, errors: 15 });
    expect(errorCounts(samples, 'web-stable', ENVOY_GATEWAY)).toEqual({ requests: 1, errors: 1 });
    // Read as Istio's, the same answer has no side at all.
    expect(errorCounts(samples, 'web-canary', ISTIO)).toEqual({ requests: 0, errors: 0 });
    expect(bucketsOf(buckets('web-canary', 10, 1), 'web-canary', ENVOY_GATEWAY)).toHaveLength(11);
  });

  const absolute = (builtin: 'successRate' | 'latencyP99'): RunMetric => ({
    name: builtin,
    builtin,
    builtinMetrics: 'envoyGateway',
    provider: { prometheus: { query: 'q' } },
    absolute: {
      canaryService: 'web-canary',
      stableService: 'web-stable',
      ...(builtin === 'successRate' ? { min: 95 } : { maxMs: 300 }),
      confidence: 0.99,
      minRequests: 10,
    },
  });

  it('successRate fails a canary whose upstream answers 5xx, passes a healthy one', () => {
    const failing = [
      envoy('web-canary', { envoy_response_code_class: '2' }, 600),
      envoy('web-canary', { envoy_response_code_class: '5' }, 400),
      envoy('web-stable', { envoy_response_code_class: '2' }, 4000),
    ];
    expect(judgeAbsoluteSamples(absolute('successRate'), failing).phase).toBe('Failed');
    const healthy = [failing[0] as Sample, failing[2] as Sample];
    expect(judgeAbsoluteSamples(absolute('successRate'), healthy).phase).toBe('Successful');
  });

  it('latencyP99 reads the upstream request-time histogram: 10% of requests over maxMs fail it', () => {
    const slow = [...buckets('web-canary', 2000, 200), ...buckets('web-stable', 8000, 0)];
    expect(judgeAbsoluteSamples(absolute('latencyP99'), slow).phase).toBe('Failed');
    const fast = [...buckets('web-canary', 2000, 0), ...buckets('web-stable', 8000, 0)];
    expect(judgeAbsoluteSamples(absolute('latencyP99'), fast).phase).toBe('Successful');
  });

  it('compareToStable judges the canary against the stable on the same histogram', () => {
    const metric: RunMetric = {
      name: 'compare-latency-p99',
      builtin: 'compareLatencyP99',
      builtinMetrics: 'envoyGateway',
      provider: { prometheus: { query: 'q' } },
      compare: {
        canaryService: 'web-canary',
        stableService: 'web-stable',
        confidence: 0.95,
        minRequests: 100,
        maxIncreasePercent: 10,
      },
    };
    const worse = [...buckets('web-canary', 3000, 600), ...buckets('web-stable', 9000, 0)];
    expect(judgeSamples(metric, worse).phase).toBe('Failed');
    const same = [...buckets('web-canary', 3000, 0), ...buckets('web-stable', 9000, 0)];
    expect(judgeSamples(metric, same).phase).toBe('Successful');
  });
});

describe('resolving a gate that reads Envoy Gateway', () => {
  const input = (gates: Gates, envoyClusters?: ReadonlyMap<string, readonly string[]> | string) => ({
    gates,
    gate: 'background' as const,
    namespace: 'shop',
    service: 'web-canary',
    stableService: 'web-stable',
    templates: new Map(),
    ...(envoyClusters === undefined ? {} : { envoyClusters }),
  });
  const clusters = new Map([
    ['web-canary', [CANARY_CLUSTER]],
    ['web-stable', [STABLE_CLUSTER]],
  ]);

  it("records the flavour with every builtin and queries the sides' clusters", () => {
    const metrics = resolveMetrics(
      input(
        {
          interval: '5s',
          builtinMetrics: 'envoyGateway',
          successRate: { min: 99 },
          latencyP99: { maxMs: 300 },
          compareToStable: { errors: { maxIncreasePoints: 1 } },
        },
        clusters,
      ),
    );
    expect(metrics.map((m) => [m.name, m.builtinMetrics])).toEqual([
      ['success-rate', 'envoyGateway'],
      ['latency-p99', 'envoyGateway'],
      ['compare-errors', 'envoyGateway'],
    ]);
    expect(metrics[0]?.provider.prometheus?.query).toBe(
      withWindow(requestCountsQuery(canary, stable, ENVOY_GATEWAY), 5000),
    );
    expect(metrics[1]?.provider.prometheus?.query).toContain('envoy_cluster_upstream_rq_time_bucket');
    expect(metrics[2]?.provider.prometheus?.query).toContain('envoy_cluster_upstream_rq_xx');
  });

  it('Istio, the default, records nothing: runs read as before', () => {
    const [m] = resolveMetrics(input({ successRate: { min: 99 } }, clusters));
    expect(m).not.toHaveProperty('builtinMetrics');
    expect(m?.provider.prometheus?.query).toContain('istio_requests_total');
  });

  it('refuses a gate whose clusters would make a query longer than a run holds', () => {
    const many = (side: string) =>
      Array.from({ length: 40 }, (_, i) => `httproute/shop/${'r'.repeat(120)}-${i}/rule/0/backend/${side}`);
    const wide = new Map([
      ['web-canary', many('1')],
      ['web-stable', many('0')],
    ]);
    expect(() =>
      resolveMetrics(input({ builtinMetrics: 'envoyGateway', successRate: { min: 99 } }, wide)),
    ).toThrow(
      /^metric success-rate: its query has \d+ characters \(it names every Envoy cluster of the rules it reads\), more than the 8192 a run holds$/,
    );
    // Within the bound the resolved metric is one the schema of a run accepts.
    const [m] = resolveMetrics(input({ builtinMetrics: 'envoyGateway', successRate: { min: 99 } }, clusters));
    expect(RunMetric.safeParse(m).success).toBe(true);
  });

  it('refuses without clusters to read, saying why', () => {
    const envoyGate: Gates = { builtinMetrics: 'envoyGateway', successRate: { min: 99 } };
    expect(() => resolveMetrics(input(envoyGate))).toThrow(/needs trafficRouting\.gatewayAPI/);
    expect(() => resolveMetrics(input(envoyGate, 'HTTPRoute shop/web not found'))).toThrow(
      new InvalidAnalysis('builtinMetrics envoyGateway: HTTPRoute shop/web not found'),
    );
    expect(() => resolveMetrics(input(envoyGate, new Map([['web-stable', [STABLE_CLUSTER]]])))).toThrow(
      /no route rule Sluice weighs sends Service web-canary traffic/,
    );
    expect(() =>
      resolveMetrics({ ...input(envoyGate, clusters), revisions: { canary: 'b', stable: 'a' } }),
    ).toThrow(/subset routing is Istio's/);
  });
});
