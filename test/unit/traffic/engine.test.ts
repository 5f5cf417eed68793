import { describe, expect, it } from 'vitest';
import { parseLoad, parseProfiles } from '../../../sandbox/traffic/config.ts';
import { Simulator } from '../../../sandbox/traffic/engine.ts';
import type { World } from '../../../sandbox/traffic/types.ts';

function canaryWorld(rps: number, canaryErrorRate: number): World {
  const pods = (track: string, image: string) =>
    [0, 1].map((i) => ({
      name: `${track}-${i}`,
      namespace: 'shop',
      labels: { app: 'checkout', track, version: track },
      ready: true,
      image,
      workload: 'checkout',
    }));
  return {
    virtualServices: [
      {
        name: 'checkout',
        namespace: 'shop',
        hosts: ['checkout'],
        http: [
          {
            route: [
              { destination: { host: 'checkout-stable' }, weight: 80 },
              { destination: { host: 'checkout-canary' }, weight: 20 },
            ],
          },
        ],
      },
    ],
    services: ['stable', 'canary'].map((track) => ({
      name: `checkout-${track}`,
      namespace: 'shop',
      selector: { app: 'checkout', track },
    })),
    pods: [...pods('stable', 'shop/checkout:1'), ...pods('canary', 'shop/checkout:2')],
    profiles: new Map([['shop/checkout:2', { errorRate: canaryErrorRate, latencyMs: { p50: 20, p99: 80 } }]]),
    load: [{ host: 'checkout.shop.svc.cluster.local', rps, path: '/', method: 'GET', headers: {} }],
  };
}

function run(seed: number, seconds: number, world: World): Simulator {
  const sim = new Simulator({ seed });
  sim.setWorld(world);
  for (let i = 0; i < seconds * 4; i++) sim.tick(0.25);
  return sim;
}

describe('Simulator', () => {
  it('is deterministic for a seed', () => {
    const w = canaryWorld(100, 0.1);
    expect(run(9, 10, w).metrics.render()).toBe(run(9, 10, w).metrics.render());
    expect(run(9, 10, w).metrics.render()).not.toBe(run(10, 10, w).metrics.render());
  });

  it('delivers the configured rate, split and error rate', () => {
    const sim = run(1, 100, canaryWorld(200, 0.1));
    const counts = new Map<string, number>();
    for (const s of sim.metrics.all()) {
      const service = /destination_service_name="([^"]+)"/.exec(s.labels)?.[1] ?? '';
      const code = /response_code="(\d+)"/.exec(s.labels)?.[1] ?? '';
      counts.set(`${service} ${code}`, s.count);
    }
    const get = (k: string) => counts.get(k) ?? 0;
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    expect(total / 100).toBeGreaterThan(195);
    expect(total / 100).toBeLessThan(205);
    const canary = get('checkout-canary 200') + get('checkout-canary 500');
    expect(canary / total).toBeCloseTo(0.2, 1);
    expect(get('checkout-canary 500') / canary).toBeCloseTo(0.1, 1);
    expect(get('checkout-stable 500')).toBe(0);
  });

  it("exports a revision's series as NaN, or not at all, when its profile says so", () => {
    const canaryLines = (metrics: 'nan' | 'absent') => {
      const w = canaryWorld(50, 0);
      w.profiles.set('shop/checkout:2', { errorRate: 0, latencyMs: { p50: 20, p99: 80 }, metrics });
      const lines = run(1, 5, w).metrics.render().split('\n');
      return {
        canary: lines.filter((l) => l.includes('destination_service_name="checkout-canary"')),
        stable: lines.filter((l) => l.includes('destination_service_name="checkout-stable"')),
      };
    };
    const nan = canaryLines('nan');
    expect(nan.canary.length).toBeGreaterThan(0);
    expect(nan.canary.every((l) => l.endsWith(' NaN'))).toBe(true);
    expect(nan.stable.some((l) => / \d+(\.\d+)?$/.test(l))).toBe(true);
    const absent = canaryLines('absent');
    expect(absent.canary).toEqual([]);
    expect(absent.stable.length).toBeGreaterThan(0);
  });

  it('renders Istio metric names, labels and cumulative default buckets', () => {
    const text = run(1, 5, canaryWorld(50, 0)).metrics.render();
    expect(text).toContain('# TYPE istio_requests_total counter');
    expect(text).toContain('# TYPE istio_request_duration_milliseconds histogram');
    const line = text.split('\n').find((l) => l.startsWith('istio_requests_total{')) ?? '';
    for (const label of [
      'reporter="destination"',
      'source_workload="traffic-simulator"',
      'destination_service="checkout-stable.shop.svc.cluster.local"',
      'destination_service_name="checkout-stable"',
      'destination_service_namespace="shop"',
      'destination_workload="checkout"',
      'destination_workload_namespace="shop"',
      'destination_version="stable"',
      'response_code="200"',
    ]) {
      expect(line).toContain(label);
    }
    const buckets = text
      .split('\n')
      .filter(
        (l) => l.startsWith('istio_request_duration_milliseconds_bucket{') && l.includes('checkout-stable'),
      );
    expect(buckets.map((l) => /le="([^"]+)"/.exec(l)?.[1])).toEqual([
      '0.5',
      '1',
      '5',
      '10',
      '25',
      '50',
      '100',
      '250',
      '500',
      '1000',
      '2500',
      '5000',
      '10000',
      '30000',
      '60000',
      '300000',
      '600000',
      '1800000',
      '3600000',
      '+Inf',
    ]);
    const values = buckets.map((l) => Number(l.split(' ').pop()));
    expect(values).toEqual([...values].sort((a, b) => a - b));
  });

  it('follows a changed world on the next tick, keeping counters monotonic', () => {
    const sim = new Simulator({ seed: 5 });
    sim.setWorld(canaryWorld(100, 0));
    for (let i = 0; i < 20; i++) sim.tick(0.25);
    const before = new Map([...sim.metrics.all()].map((s) => [s.labels, s.count]));
    const shifted = canaryWorld(100, 0);
    const route = shifted.virtualServices[0]?.http[0]?.route;
    if (route?.[0] && route[1]) {
      route[0].weight = 0;
      route[1].weight = 100;
    }
    sim.setWorld(shifted);
    for (let i = 0; i < 20; i++) sim.tick(0.25);
    for (const s of sim.metrics.all()) {
      const prev = before.get(s.labels) ?? 0;
      expect(s.count).toBeGreaterThanOrEqual(prev);
      if (s.labels.includes('checkout-stable')) expect(s.count).toBe(prev);
    }
  });
});

describe('ConfigMap parsing', () => {
  it('reads plain rates and request classes, and reports bad entries instead of failing', () => {
    const { value, problems } = parseLoad({
      'a.shop': '50',
      'b.shop': '{rps: 5, path: /api, headers: {X-User: beta}}',
      'c.shop': 'fast',
    });
    expect(value).toEqual([
      { host: 'a.shop', rps: 50, path: '/', method: 'GET', headers: {} },
      { host: 'b.shop', rps: 5, path: '/api', method: 'GET', headers: { 'x-user': 'beta' } },
    ]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^traffic-load\[c\.shop\]/);
  });

  it('fills profile defaults and rejects error rates outside 0..1', () => {
    const { value, problems } = parseProfiles({
      shop_checkout_2: 'image: shop/checkout:2\nerrorRate: 0.1',
      nginx: 'latencyMs: {p50: 5, p99: 50}',
      broken: 'errorRate: 2',
      silent: 'metrics: absent',
      wrong: 'metrics: sometimes',
    });
    expect(value.get('silent')?.metrics).toBe('absent');
    expect(value.get('shop/checkout:2')).toEqual({ errorRate: 0.1, latencyMs: { p50: 20, p99: 80 } });
    expect(value.get('nginx')).toEqual({ errorRate: 0, latencyMs: { p50: 5, p99: 50 } });
    expect(problems).toHaveLength(2);
  });

  it('a mirror copies its share to the canary, failures and all, and never moves the answers', () => {
    const world = canaryWorld(200, 1);
    const route = world.virtualServices[0]?.http[0];
    if (!route?.route) throw new Error('fixture');
    (route.route[0] as { weight: number }).weight = 100;
    (route.route[1] as { weight: number }).weight = 0;
    route.mirror = { host: 'checkout-canary' };
    route.mirrorPercentage = { value: 25 };
    const sim = run(3, 100, world);
    const by = (service: string, code: string) =>
      [...sim.metrics.all()]
        .filter(
          (s) =>
            s.labels.includes(`destination_service_name="${service}"`) &&
            s.labels.includes(`response_code="${code}"`),
        )
        .reduce((a, s) => a + s.count, 0);
    const answered = by('checkout-stable', '200');
    // Clients are answered by the stable alone, without an error; the canary sees a quarter.
    expect(by('checkout-stable', '500')).toBe(0);
    expect(answered / 20_000).toBeGreaterThan(0.97);
    expect(answered / 20_000).toBeLessThan(1.03);
    expect(by('checkout-canary', '200')).toBe(0);
    expect(by('checkout-canary', '500') / answered).toBeGreaterThan(0.23);
    expect(by('checkout-canary', '500') / answered).toBeLessThan(0.27);
  });
});
