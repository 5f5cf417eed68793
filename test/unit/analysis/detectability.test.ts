import { describe, expect, it } from 'vitest';
import {
  detectableErrorIncrease,
  detectableSlowShare,
  regressionFor,
  secondsToDetectSlowShare,
} from '../../../analysis/compare/detectable.ts';
import {
  assessGate,
  configuredIncreasePercent,
  DEFAULT_POWER,
  duration,
  gateHorizon,
} from '../../../analysis/detectability.ts';
import type { MetricProvider, Sample } from '../../../analysis/provider.ts';
import {
  TrafficHistoryCache,
  trafficFromSamples,
  trafficHistoryQuery,
} from '../../../analysis/traffic-history.ts';
import type { Gates, RolloutSpec } from '../../../crds/index.ts';

const compare: Gates = { compareToStable: { errors: { maxIncreasePercent: 25 } } };

function spec(
  steps: NonNullable<NonNullable<RolloutSpec['strategy']['canary']>['steps']>,
  background?: Gates,
) {
  return {
    selector: { matchLabels: { app: 'web' } },
    template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'x' }] } },
    strategy: {
      canary: {
        stableService: 'web-stable',
        canaryService: 'web-canary',
        trafficRouting: { istio: { virtualService: { name: 'web', routes: ['primary'] } } },
        ...(background ? { analysis: background } : {}),
        steps,
      },
    },
  } as RolloutSpec;
}

describe('the time the steps allow a gate', () => {
  it('a step gate: its looks at the weight set before it', () => {
    const s = spec([
      { setWeight: 10 },
      { pause: { duration: '1m' } },
      { analysis: { ...compare, interval: '30s', count: 4 } },
    ]);
    expect(gateHorizon(s, 'step', 2)).toEqual({
      seconds: 120,
      canaryWeight: 10,
      what: "step 3's analysis: 4 looks of 30s at 10% (2m)",
    });
  });

  it('a step comparison without a count: the look budget resolve gives it (maxDuration, else the progress deadline)', () => {
    const steps = (analysis: Gates) => [{ setWeight: 10 }, { analysis: { ...analysis, interval: '30s' } }];
    // 600 s by default: 20 looks of 30 s, the first after one interval.
    expect(gateHorizon(spec(steps(compare)), 'step', 1)).toMatchObject({
      seconds: 600,
      what: "step 2's analysis: 20 looks of 30s at 10% (10m)",
    });
    const deadline = { ...spec(steps(compare)), progressDeadlineSeconds: 120 };
    expect(gateHorizon(deadline, 'step', 1)).toMatchObject({ seconds: 120 });
    const stated = {
      compareToStable: { errors: { maxIncreasePercent: 25 }, maxDuration: '1h' },
    } satisfies Gates;
    expect(gateHorizon({ ...spec(steps(stated)), progressDeadlineSeconds: 120 }, 'step', 1)).toMatchObject({
      seconds: 3600,
      what: "step 2's analysis: 120 looks of 30s at 10% (60m)",
    });
  });

  it('a background gate counts a step comparison by its budget and another step gate by its count', () => {
    const s = spec(
      [
        { setWeight: 10 },
        {
          analysis: {
            ...compare,
            interval: '30s',
            compareToStable: { ...compare.compareToStable, maxDuration: '2m' },
          },
        },
        { analysis: { interval: '30s', successRate: { min: 99 } } },
      ],
      compare,
    );
    // 4 looks of 30 s and one look of 30 s.
    expect(gateHorizon(s, 'background')).toMatchObject({ seconds: 150, canaryWeight: 10 });
  });

  it('a background gate: the timed steps, weighted by their share; pauses for a person add nothing', () => {
    const s = spec(
      [
        { setWeight: 10 },
        { pause: { duration: '2m' } },
        { setWeight: 50 },
        { pause: { duration: '2m' } },
        { pause: {} },
      ],
      compare,
    );
    const h = gateHorizon(s, 'background');
    expect(h).toMatchObject({ seconds: 240, canaryWeight: 30 });
    expect((h as { what: string }).what).toContain('plus 1 pause waiting for a person');
  });

  it('says why there is none', () => {
    expect(gateHorizon(spec([{ analysis: compare }]), 'step', 0)).toMatch(/no traffic/);
    expect(gateHorizon(spec([{ setWeight: 20 }, { pause: {} }], compare), 'background')).toMatch(
      /wait for a person/,
    );
    const blueGreen = { ...spec([]), strategy: { blueGreen: { activeService: 'a', previewService: 'b' } } };
    expect(gateHorizon(blueGreen as RolloutSpec, 'prePromotion')).toMatch(/blue-green/);
  });
});

describe('the configured effect', () => {
  it('percent as written; points made relative by the stable; both: the larger', () => {
    expect(configuredIncreasePercent({ maxIncreasePercent: 25 }, 0.01)).toBe(25);
    expect(configuredIncreasePercent({ maxIncreasePoints: 0.5 }, 0.01)).toBeCloseTo(50);
    expect(configuredIncreasePercent({ maxIncreasePoints: 0.5, maxIncreasePercent: 25 }, 0.01)).toBeCloseTo(
      50,
    );
    expect(configuredIncreasePercent({ maxIncreasePoints: 0.5 }, 0)).toBeUndefined();
  });
});

describe('what a gate can see', () => {
  const lowTraffic = spec([{ setWeight: 20 }, { pause: { duration: '1m' } }], {
    compareToStable: { errors: { maxIncreasePercent: 25 } },
  });

  it('1 request/s for a minute cannot see a 25% allowance', () => {
    const d = assessGate(lowTraffic, 'background', undefined, {
      requestsPerSecond: 1,
      stableErrorRatio: 0.02,
    });
    expect(d?.outcome).toBe('CannotSee');
    expect(d?.configuredPercent).toBe(regressionFor(25));
    expect(d?.allowedSeconds).toBe(60);
    expect(d?.canaryWeight).toBe(20);
    expect(d?.power).toBe(DEFAULT_POWER);
    expect(d?.message).toMatch(/^cannot see the configured effect: /);
    expect(d?.basis).toBe(
      "last hour: 1 requests/s, 2% errors on stable; the release's timed steps: 60s at 20% on average",
    );
    // The numbers are detectable.ts' own, for the share and time the steps give.
    expect(d?.detectablePercent).toBe(
      detectableErrorIncrease({ canaryRps: 0.2, stableRps: 0.8, errorRatio: 0.02 }, 60, {
        confidence: 0.99,
        power: DEFAULT_POWER,
        minRequests: 100,
      }),
    );
  });

  it('heavy traffic over a long release sees it, and says how soon', () => {
    const long = spec([{ setWeight: 50 }, { pause: { duration: '2h' } }], compare);
    const d = assessGate(long, 'background', undefined, { requestsPerSecond: 2000, stableErrorRatio: 0.05 });
    expect(d?.outcome).toBe('CanSee');
    expect(d?.secondsToDetectConfigured).toBeLessThanOrEqual(7200);
    expect(d?.detectablePercent).toBeLessThanOrEqual(d?.configuredPercent ?? 0);
    expect(d?.message).toMatch(
      /^can see the configured effect: it catches a rise of the error ratio of [0-9.]+% or more with 90% power in 2h; the configured 50% \(25% allowed\) needs /,
    );
  });

  it('missing data says so and never guesses', () => {
    const none = assessGate(lowTraffic, 'background', undefined, {
      missing: 'Prometheus has no requests to web-stable in the last hour',
    });
    expect(none).toEqual({
      outcome: 'NoTrafficHistory',
      message: 'cannot say what the gate can see: Prometheus has no requests to web-stable in the last hour',
      basis: '',
    });
    const clean = assessGate(lowTraffic, 'background', undefined, {
      requestsPerSecond: 50,
      stableErrorRatio: 0,
    });
    expect(clean?.outcome).toBe('Unknown');
    expect(clean?.detectablePercent).toBeUndefined();
  });

  it('a latencyP99 check in its own terms: the share of requests slower than its bar', () => {
    const latency = spec([{ setWeight: 10 }, { pause: { duration: '10m' } }], {
      compareToStable: { latencyP99: { maxIncreasePercent: 20 } },
    });
    const busy = assessGate(latency, 'background', undefined, {
      requestsPerSecond: 500,
      stableErrorRatio: 0,
    });
    const expected = { canaryRps: 50, stableRps: 450 };
    const cfg = { confidence: 0.99, power: DEFAULT_POWER, minRequests: 100 };
    expect(busy?.outcome).toBe('CanSee');
    // A stable without errors does not stop a latency check: its null is a share of slow requests.
    expect(busy?.latencyP99).toEqual({
      outcome: 'CanSee',
      configuredPercent: 2,
      detectablePercent: detectableSlowShare(expected, 600, cfg),
      secondsToDetectConfigured: secondsToDetectSlowShare(expected, 2, cfg, 86_400),
    });
    expect(busy?.configuredPercent).toBeUndefined();
    expect(busy?.message).toMatch(
      /^can see the configured effect: it catches the share of requests slower than 1\.2 × the stable's p99 rising from 1% to [0-9.]+% or more with 90% power in 10m; the configured 2% \(1% allowed\) needs [0-9]+(s|m)$/,
    );
    expect(busy?.basis).toBe("last hour: 500 requests/s; the release's timed steps: 10m at 10% on average");
    const quiet = assessGate(latency, 'background', undefined, { requestsPerSecond: 2, stableErrorRatio: 0 });
    expect(quiet?.outcome).toBe('CannotSee');
    expect(quiet?.latencyP99?.outcome).toBe('CannotSee');
    expect(quiet?.message).toMatch(
      /^cannot see the configured effect: .* the configured 2% \(1% allowed\) needs /,
    );
  });

  it('errors and latency together: each says its own, and one blind check makes the gate blind', () => {
    const both = spec([{ setWeight: 10 }, { pause: { duration: '10m' } }], {
      compareToStable: { errors: { maxIncreasePercent: 25 }, latencyP99: { maxIncreasePercent: 20 } },
    });
    // 500 requests/s sees 2% slow requests in minutes but not a 50% rise of 0.1% errors.
    const d = assessGate(both, 'background', undefined, { requestsPerSecond: 500, stableErrorRatio: 0.001 });
    expect(d?.latencyP99?.outcome).toBe('CanSee');
    expect(d?.outcome).toBe('CannotSee');
    expect(d?.configuredPercent).toBe(50);
    expect(d?.message).toMatch(
      /^errors: cannot see the configured effect: .*\. p99 latency: can see the configured effect: /,
    );
    expect(d?.basis).toContain('0.1% errors on stable');
    // The stable answered no errors: the errors check has no estimate, so neither has the gate.
    const clean = assessGate(both, 'background', undefined, { requestsPerSecond: 500, stableErrorRatio: 0 });
    expect(clean?.outcome).toBe('Unknown');
    expect(clean?.latencyP99?.outcome).toBe('CanSee');
  });

  it('a latencyDistribution check alone is not worked out', () => {
    const distribution = spec([{ setWeight: 20 }, { pause: { duration: '1m' } }], {
      compareToStable: { latencyDistribution: { maxShiftPoints: 5 } },
    });
    expect(
      assessGate(distribution, 'background', undefined, { requestsPerSecond: 1, stableErrorRatio: 0.01 }),
    ).toBeUndefined();
  });

  it('durations read as a person would', () => {
    expect([duration(59.6), duration(300), duration(7200), duration(5400 + 7200), duration(90_000)]).toEqual([
      '60s',
      '5m',
      '2h',
      '3h30m',
      'more than a day',
    ]);
  });
});

describe('the last hour of traffic', () => {
  const samples: Sample[] = [
    { labels: { destination_service_name: 'web-stable', response_code: '200' }, value: 9.5 },
    { labels: { destination_service_name: 'web-stable', response_code: '503' }, value: 0.5 },
    { labels: { destination_service_name: 'web-canary', response_code: '200' }, value: 2 },
  ];

  it('one query over both Services, divided by the time that had traffic, values escaped', () => {
    const q = trafficHistoryQuery(
      { namespace: 'shop"}', service: 'web-canary' },
      { namespace: 'shop"}', service: 'web-stable' },
    );
    expect(q).toContain('[3600s]');
    expect(q).toContain('/ scalar(count_over_time((sum(');
    expect(q).toContain('destination_service_namespace="shop\\"}"');
    expect(q).not.toContain('namespace="shop"}');
  });

  it('total rate of both; error ratio of the stable only', () => {
    expect(trafficFromSamples(samples, 'web-canary', 'web-stable')).toEqual({
      requestsPerSecond: 12,
      stableErrorRatio: 0.05,
    });
    expect(trafficFromSamples([], 'web-canary', 'web-stable')).toEqual({
      missing: 'Prometheus has no requests to web-stable or web-canary in the last hour',
    });
    expect(trafficFromSamples(samples.slice(2), 'web-canary', 'web-stable')).toHaveProperty('missing');
    const nan = samples.map((s) => ({ ...s, value: Number.NaN }));
    expect(trafficFromSamples(nan, 'web-canary', 'web-stable')).toHaveProperty('missing');
  });

  it('asks once per Services within the TTL, is bounded, and turns a failure into a reason', async () => {
    let now = 0;
    let asked = 0;
    const provider = (fail = false): MetricProvider => ({
      address: 'http://prom',
      query: async () => ({ kind: 'none', reason: '' }),
      series: async () => {
        asked++;
        if (fail) throw new Error('Prometheus at http://prom did not answer in time; query: x');
        return samples;
      },
    });
    const cache = new TrafficHistoryCache({ ttlMs: 1000, maxEntries: 2, now: () => now });
    const dest = (service: string) => ({ namespace: 'shop', service });
    await cache.get(provider(), dest('web-canary'), dest('web-stable'));
    await cache.get(provider(), dest('web-canary'), dest('web-stable'));
    expect(asked).toBe(1);
    now = 1000;
    await cache.get(provider(), dest('web-canary'), dest('web-stable'));
    expect(asked).toBe(2);
    await cache.get(provider(), dest('a'), dest('b'));
    await cache.get(provider(), dest('c'), dest('d'));
    expect(cache.size).toBe(2);
    expect(await cache.get(provider(true), dest('e'), dest('f'))).toEqual({
      missing: 'Prometheus at http://prom did not answer in time',
      failed: true,
    });
  });
});
