// Under subset routing canary and stable sit behind one Service: every builtin must find its side
// by Istio's destination_canonical_revision, never by the shared destination_service_name.
import { describe, expect, it } from 'vitest';
import { judgeAbsoluteSamples } from '../../../analysis/absolute-look.ts';
import { judgeSamples } from '../../../analysis/compare/measure.ts';
import {
  bucketsOf,
  errorCounts,
  latencyBucketsQuery,
  requestCountsQuery,
} from '../../../analysis/compare/queries.ts';
import type { MetricProvider, Sample } from '../../../analysis/provider.ts';
import { selector } from '../../../analysis/queries.ts';
import { resolveMetrics } from '../../../analysis/resolve.ts';
import {
  TrafficHistoryCache,
  trafficFromSamples,
  trafficHistoryQuery,
} from '../../../analysis/traffic-history.ts';
import type { RunMetric } from '../../../crds/index.ts';

const canary = { service: 'canary', namespace: 'shop', revision: 'new1' };
const stable = { service: 'stable', namespace: 'shop', revision: 'old1' };

/** Request counts of one revision, reported (as Istio does) under the one Service both share. */
const requests = (revision: string, ok: number, errors: number): Sample[] => [
  {
    labels: {
      destination_service_name: 'web',
      destination_canonical_revision: revision,
      response_code: '200',
    },
    value: ok,
  },
  {
    labels: {
      destination_service_name: 'web',
      destination_canonical_revision: revision,
      response_code: '503',
    },
    value: errors,
  },
];

/** Cumulative buckets of one revision behind the shared Service: `slow` of 10 000 above 100 ms. */
const buckets = (revision: string, slow: number): Sample[] =>
  (
    [
      ['50', 10_000 - slow],
      ['100', 10_000 - slow],
      ['1000', 10_000],
      ['+Inf', 10_000],
    ] as const
  ).map(([le, value]) => ({
    labels: { destination_service_name: 'web', destination_canonical_revision: revision, le },
    value,
  }));

/** A failing canary (half its requests 5xx) next to a healthy, busier stable. */
const failingCanary = [...requests('new1', 500, 500), ...requests('old1', 10_000, 0)];

const subsetMetrics = (gates: Parameters<typeof resolveMetrics>[0]['gates']): RunMetric[] =>
  resolveMetrics({
    gates,
    gate: 'background',
    namespace: 'shop',
    service: 'canary',
    stableService: 'stable',
    revisions: { canary: 'new1', stable: 'old1' },
    templates: new Map(),
  });

describe('queries by canonical revision', () => {
  it('the selector names namespace and revision, not the shared Service, and escapes the revision', () => {
    expect(selector(canary)).toBe(
      'reporter="destination",destination_service_namespace="shop",destination_canonical_revision="new1"',
    );
    expect(selector({ ...canary, revision: 'x"} or vector(1) #' })).toBe(
      'reporter="destination",destination_service_namespace="shop",destination_canonical_revision="x\\"} or vector(1) #"',
    );
    expect(selector({ service: 'web-canary', namespace: 'shop' })).toBe(
      'reporter="destination",destination_service_namespace="shop",destination_service_name="web-canary"',
    );
  });

  it('the compare queries group by revision too when a side has one', () => {
    const sel = (rev: string) =>
      `reporter="destination",destination_service_namespace="shop",destination_canonical_revision="${rev}"`;
    expect(requestCountsQuery(canary, stable)).toBe(
      'sum by (destination_service_name, destination_canonical_revision, response_code) (' +
        `increase(istio_requests_total{${sel('new1')}}[{{window}}]) or increase(istio_requests_total{${sel('old1')}}[{{window}}]))`,
    );
    expect(latencyBucketsQuery(canary, stable)).toBe(
      'sum by (destination_service_name, destination_canonical_revision, le) (' +
        `increase(istio_request_duration_milliseconds_bucket{${sel('new1')}}[{{window}}]) or increase(istio_request_duration_milliseconds_bucket{${sel('old1')}}[{{window}}]))`,
    );
  });

  it('without revisions the queries are exactly as before', () => {
    const sel = (svc: string) =>
      `reporter="destination",destination_service_namespace="shop",destination_service_name="${svc}"`;
    expect(
      requestCountsQuery(
        { service: 'web-canary', namespace: 'shop' },
        { service: 'web-stable', namespace: 'shop' },
      ),
    ).toBe(
      'sum by (destination_service_name, response_code) (' +
        `increase(istio_requests_total{${sel('web-canary')}}[{{window}}]) or increase(istio_requests_total{${sel('web-stable')}}[{{window}}]))`,
    );
  });
});

describe('picking a side out of an answer', () => {
  it('by revision, when both sides report the same Service', () => {
    expect(errorCounts(failingCanary, canary)).toEqual({ requests: 1000, errors: 500 });
    expect(errorCounts(failingCanary, stable)).toEqual({ requests: 10_000, errors: 0 });
    const answer = [...buckets('new1', 4000), ...buckets('old1', 10)];
    expect(bucketsOf(answer, canary).map((b) => b.count)).toEqual([6000, 6000, 10_000, 10_000]);
    expect(bucketsOf(answer, stable).map((b) => b.count)).toEqual([9990, 9990, 10_000, 10_000]);
  });

  it('a Service name (string or Side without revision) still picks by Service, as stored runs need', () => {
    expect(errorCounts(failingCanary, 'web')).toEqual({ requests: 11_000, errors: 500 });
    expect(errorCounts(failingCanary, { service: 'web' })).toEqual({ requests: 11_000, errors: 500 });
    expect(errorCounts(failingCanary, 'canary')).toEqual({ requests: 0, errors: 0 });
    expect(bucketsOf(buckets('new1', 0), 'web')).toHaveLength(4);
  });
});

describe('judging a subset-routed canary', () => {
  it("successRate reads the canary's numbers, not the mix (which would pass)", () => {
    const [m] = subsetMetrics({ successRate: { min: 95 } });
    expect(m?.absolute).toMatchObject({ canaryRevision: 'new1', stableRevision: 'old1' });
    const look = judgeAbsoluteSamples(m as RunMetric, failingCanary);
    expect(look.phase).toBe('Failed');
    expect(look.value).toBe('50');
    expect(look.absolute.canary.requests).toBe(1000);
    expect(look.absolute.stable).toMatchObject({ requests: 10_000, value: 100 });
  });

  it("latencyP99 reads the canary revision's buckets", () => {
    const [m] = subsetMetrics({ latencyP99: { maxMs: 200 } });
    const look = judgeAbsoluteSamples(m as RunMetric, [...buckets('new1', 4000), ...buckets('old1', 10)]);
    expect(look.phase).toBe('Failed');
    expect(look.absolute.canary.requests).toBe(10_000);
    expect(look.number).toBeGreaterThan(200);
  });

  it('no canary traffic says which side, by subset and revision', () => {
    const [m] = subsetMetrics({ successRate: { min: 95 } });
    expect(judgeAbsoluteSamples(m as RunMetric, requests('old1', 100, 0)).message).toBe(
      'no data: no requests to canary (revision new1) in the window',
    );
  });

  it('compareToStable compares the two revisions behind one Service', () => {
    const [errors, p99] = subsetMetrics({
      compareToStable: { errors: { maxIncreasePercent: 25 }, latencyP99: { maxIncreasePercent: 10 } },
    });
    expect(errors?.compare).toMatchObject({ canaryRevision: 'new1', stableRevision: 'old1' });
    const look = judgeSamples(errors as RunMetric, failingCanary);
    expect(look.phase).toBe('Failed');
    expect(look.comparison.canary.requests).toBe(1000);
    expect(look.comparison.stable.requests).toBe(10_000);
    const slow = judgeSamples(p99 as RunMetric, [...buckets('new1', 4000), ...buckets('old1', 10)]);
    expect(slow.phase).toBe('Failed');
    expect(slow.comparison.canary.requests).toBe(10_000);
  });

  it('a run stored before revisions (Service names only) is judged by Service as before', () => {
    const [m] = resolveMetrics({
      gates: { successRate: { min: 95 } },
      gate: 'background',
      namespace: 'shop',
      service: 'web',
      templates: new Map(),
    });
    expect(m?.absolute).not.toHaveProperty('canaryRevision');
    expect(judgeAbsoluteSamples(m as RunMetric, failingCanary).absolute.canary.requests).toBe(11_000);
  });
});

describe('the last hour of traffic by revision', () => {
  const samples: Sample[] = [...requests('old1', 9.5, 0.5), ...requests('new1', 2, 0)];

  it('one query over both revisions, grouped by revision', () => {
    const q = trafficHistoryQuery(canary, stable);
    expect(q).toContain('sum by (destination_service_name, destination_canonical_revision, response_code)');
    expect(q).toContain(
      'istio_requests_total{reporter="destination",destination_service_namespace="shop",destination_canonical_revision="new1"} or istio_requests_total{reporter="destination",destination_service_namespace="shop",destination_canonical_revision="old1"}',
    );
    expect(q).not.toContain('destination_service_name="');
  });

  it("the stable's error ratio is the stable revision's alone; a missing side is named by subset and revision", () => {
    expect(trafficFromSamples(samples, canary, stable)).toEqual({
      requestsPerSecond: 12,
      stableErrorRatio: 0.05,
    });
    expect(trafficFromSamples(requests('new1', 2, 0), canary, stable)).toEqual({
      missing: 'Prometheus has no requests to stable (revision old1) in the last hour',
    });
    expect(trafficFromSamples([], canary, stable)).toEqual({
      missing:
        'Prometheus has no requests to stable (revision old1) or canary (revision new1) in the last hour',
    });
  });

  it('a new release (same subsets, new revisions) is asked again, not told the last one', async () => {
    const queries: string[] = [];
    const provider: MetricProvider = {
      address: 'http://prom',
      query: async () => ({ kind: 'none', reason: '' }),
      series: async (q) => {
        queries.push(q);
        return samples;
      },
    };
    const cache = new TrafficHistoryCache({ now: () => 0 });
    await cache.get(provider, canary, stable);
    await cache.get(provider, canary, stable);
    expect(queries).toHaveLength(1);
    await cache.get(provider, { ...canary, revision: 'new2' }, { ...stable, revision: 'new1' });
    expect(queries).toHaveLength(2);
    expect(queries[1]).toContain('destination_canonical_revision="new2"');
  });
});
