import { describe, expect, it } from 'vitest';
import { Simulator } from '../../../sandbox/traffic/engine.ts';
import type { HttpBackendRef, World } from '../../../sandbox/traffic/types.ts';

const FILTER = [
  { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x', value: 'y' }] } },
];

/** An HTTPRoute splitting 80/20, its canary failing 40% of requests and slower. */
function routedWorld(canaryFilters?: unknown[]): World {
  const pod = (track: string, image: string) => ({
    name: `${track}-0`,
    namespace: 'shop',
    labels: { app: 'web', track },
    ready: true,
    image,
    workload: 'web',
  });
  const canaryRef: HttpBackendRef = { name: 'web-canary', port: 80, weight: 20 };
  return {
    virtualServices: [],
    httpRoutes: [
      {
        name: 'web',
        namespace: 'shop',
        parentRefs: [{ group: '', kind: 'Service', name: 'web' }],
        hostnames: [],
        rules: [
          { name: 'pinned', matches: [{ path: { type: 'PathPrefix', value: '/pinned' } }] },
          {
            name: 'primary',
            backendRefs: [
              { name: 'web-stable', port: 80, weight: 80 },
              canaryFilters ? { ...canaryRef, filters: canaryFilters } : canaryRef,
            ],
          },
        ],
      },
    ],
    services: [
      { name: 'web', namespace: 'shop', selector: { app: 'web' } },
      ...['stable', 'canary'].map((track) => ({
        name: `web-${track}`,
        namespace: 'shop',
        selector: { app: 'web', track },
      })),
    ],
    pods: [pod('stable', 'web:1'), pod('canary', 'web:2')],
    profiles: new Map([['web:2', { errorRate: 0.4, latencyMs: { p50: 50, p99: 400 } }]]),
    load: [{ host: 'web.shop.svc.cluster.local', rps: 200, path: '/', method: 'GET', headers: {} }],
  } as World;
}

function run(world: World): string[] {
  const sim = new Simulator({ seed: 3 });
  sim.setWorld(world);
  for (let i = 0; i < 40; i++) sim.tick(0.25);
  return sim.metrics.render().split('\n');
}

const value = (lines: string[], prefix: string) =>
  Number(lines.find((l) => l.startsWith(prefix))?.slice(prefix.length + 1) ?? Number.NaN);

describe("the simulator's Envoy Gateway statistics", () => {
  it("count each backendRef's cluster by response class when a backendRef has filters, beside Istio's series", () => {
    const lines = run(routedWorld(FILTER));
    const canary = 'httproute/shop/web/rule/1/backend/1';
    const ok = value(
      lines,
      `envoy_cluster_upstream_rq_xx{envoy_response_code_class="2",envoy_cluster_name="${canary}"}`,
    );
    const failed = value(
      lines,
      `envoy_cluster_upstream_rq_xx{envoy_response_code_class="5",envoy_cluster_name="${canary}"}`,
    );
    expect(failed / (ok + failed)).toBeCloseTo(0.4, 1);
    const stable = 'httproute/shop/web/rule/1/backend/0';
    expect(
      lines.some((l) =>
        l.startsWith(
          `envoy_cluster_upstream_rq_xx{envoy_response_code_class="5",envoy_cluster_name="${stable}"}`,
        ),
      ),
    ).toBe(false);
    // One request, one duration: Envoy's histogram counts what Istio's does for that Service.
    const envoyCount = value(lines, `envoy_cluster_upstream_rq_time_count{envoy_cluster_name="${canary}"}`);
    expect(envoyCount).toBe(ok + failed);
    expect(
      value(lines, `envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="${canary}",le="+Inf"}`),
    ).toBe(envoyCount);
    const istio = lines
      .filter(
        (l) =>
          l.startsWith('istio_request_duration_milliseconds_count{') &&
          l.includes('destination_service_name="web-canary"'),
      )
      .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
    expect(istio).toBe(envoyCount);
  });

  it("without filters a rule's backendRefs share one cluster, as Envoy Gateway makes it", () => {
    const lines = run(routedWorld());
    expect(lines.some((l) => l.includes('envoy_cluster_name="httproute/shop/web/rule/1"'))).toBe(true);
    expect(lines.some((l) => l.includes('/backend/'))).toBe(false);
  });

  it('keeps the Istio series as they were', () => {
    const istio = (lines: string[]) => lines.filter((l) => l.includes('istio_'));
    expect(istio(run(routedWorld(FILTER)))).toEqual(istio(run(routedWorld())));
  });
});
