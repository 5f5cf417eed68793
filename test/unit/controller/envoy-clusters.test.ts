import { describe, expect, it } from 'vitest';
import { envoyClusters } from '../../../controller/traffic/envoy-clusters.ts';
import type { GatewayRoute, GatewayRouteKind } from '../../../controller/traffic/gateway-route.ts';
import type { RolloutSpec } from '../../../crds/index.ts';

const filter = [
  { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-side', value: 'c' }] } },
];

const route = (name: string, canaryFilters = filter): GatewayRoute => ({
  metadata: { name, namespace: 'shop' },
  spec: {
    rules: [
      { name: 'pinned', backendRefs: [{ name: 'web-stable', port: 80 }] },
      {
        name: 'primary',
        backendRefs: [
          { name: 'web-stable', port: 80, weight: 90 },
          { name: 'web-canary', port: 80, weight: 10, filters: canaryFilters },
        ],
      },
    ],
  },
});

const spec = (gatewayAPI: unknown): RolloutSpec =>
  ({
    strategy: {
      canary: { stableService: 'web-stable', canaryService: 'web-canary', trafficRouting: { gatewayAPI } },
    },
  }) as RolloutSpec;

const lookup =
  (routes: Record<string, GatewayRoute>) =>
  (kind: GatewayRouteKind, name: string): GatewayRoute | undefined =>
    routes[`${kind}/${name}`];

describe("the Envoy clusters of a Rollout's sides", () => {
  it("names each weighed rule's backendRef cluster as Envoy Gateway does, per route kind", () => {
    const found = envoyClusters(
      spec({ httpRoutes: [{ name: 'web', rules: ['primary'] }], grpcRoutes: [{ name: 'web-grpc' }] }),
      'shop',
      lookup({ 'HTTPRoute/web': route('web'), 'GRPCRoute/web-grpc': route('web-grpc') }),
    );
    expect(found).toEqual(
      new Map([
        ['web-stable', ['httproute/shop/web/rule/1/backend/0', 'grpcroute/shop/web-grpc/rule/1/backend/0']],
        ['web-canary', ['httproute/shop/web/rule/1/backend/1', 'grpcroute/shop/web-grpc/rule/1/backend/1']],
      ]),
    );
  });

  it('says why when the sides share one cluster, a route is missing, or the routing is Istio', () => {
    expect(
      envoyClusters(
        spec({ httpRoutes: [{ name: 'web' }] }),
        'shop',
        lookup({ 'HTTPRoute/web': route('web', []) }),
      ),
    ).toMatch(/^HTTPRoute shop\/web rule 'primary': Envoy Gateway puts its backendRefs in one cluster/);
    expect(envoyClusters(spec({ httpRoutes: [{ name: 'web' }] }), 'shop', lookup({}))).toBe(
      'HTTPRoute shop/web not found',
    );
    const istio = { strategy: { canary: { trafficRouting: { istio: {} } } } } as RolloutSpec;
    expect(envoyClusters(istio, 'shop', lookup({}))).toMatch(/needs trafficRouting\.gatewayAPI/);
  });

  it('is refused where Sluice inserts rules during the release (they renumber the clusters)', () => {
    const routes = lookup({ 'HTTPRoute/web': route('web') });
    const withCanary = (extra: object) => {
      const s = spec({ httpRoutes: [{ name: 'web' }] });
      Object.assign(s.strategy.canary ?? {}, extra);
      return s;
    };
    const sticky = withCanary({ sessionAffinity: { cookieName: 'v' } });
    expect(envoyClusters(sticky, 'shop', routes)).toMatch(/renumber them during the release/);
    const header = withCanary({
      steps: [
        { setHeaderRoute: { name: 'beta', match: [{ headerName: 'x', headerValue: { exact: 'y' } }] } },
      ],
    });
    expect(envoyClusters(header, 'shop', routes)).toMatch(
      /setHeaderRoute, setMirrorRoute or sessionAffinity/,
    );
    expect(envoyClusters(withCanary({ steps: [{ setWeight: 10 }] }), 'shop', routes)).toBeInstanceOf(Map);
  });
});
