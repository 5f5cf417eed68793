import { describe, expect, it } from 'vitest';
import {
  defaultFlavour,
  ENVOY_GATEWAY_CONTROLLER,
  MAX_GATEWAYS,
} from '../../../controller/analysis/default-flavour.ts';
import type { GatewayRoute, GatewayRouteKind } from '../../../controller/traffic/gateway-route.ts';
import type { RolloutSpec } from '../../../crds/index.ts';

const spec = (trafficRouting: unknown): RolloutSpec =>
  ({ strategy: { canary: { stableService: 's', canaryService: 'c', trafficRouting } } }) as RolloutSpec;
const gw = spec({ gatewayAPI: { httpRoutes: [{ name: 'web' }] } });
const route = (parentRefs: unknown[]): GatewayRoute => ({ metadata: { name: 'web' }, spec: { parentRefs } });
const routes = (r: GatewayRoute | undefined) => (_: GatewayRouteKind, __: string) => r;

describe('the metrics a gate reads when it does not say', () => {
  const classes: Record<string, string> = {
    'shop/eg': ENVOY_GATEWAY_CONTROLLER,
    'infra/eg': ENVOY_GATEWAY_CONTROLLER,
    'shop/istio': 'istio.io/gateway-controller',
  };
  const asked: string[] = [];
  const controllerOf = async (ns: string, name: string) => {
    asked.push(`${ns}/${name}`);
    return classes[`${ns}/${name}`];
  };

  it("Envoy's when every Gateway the routes attach to is Envoy Gateway's, in any namespace", async () => {
    const r = route([{ name: 'eg' }, { name: 'eg', namespace: 'infra', sectionName: 'http' }]);
    expect(await defaultFlavour(gw, 'shop', routes(r), controllerOf)).toBe('envoyGateway');
  });

  it("Istio's for Istio routing, mesh routes, another implementation, a mix, or anything unknown", async () => {
    expect(
      await defaultFlavour(
        spec({ istio: { virtualService: { name: 'web' } } }),
        'shop',
        routes(undefined),
        controllerOf,
      ),
    ).toBe('istio');
    expect(
      await defaultFlavour(
        gw,
        'shop',
        routes(route([{ group: '', kind: 'Service', name: 'web' }])),
        controllerOf,
      ),
    ).toBe('istio');
    expect(await defaultFlavour(gw, 'shop', routes(route([{ name: 'istio' }])), controllerOf)).toBe('istio');
    expect(
      await defaultFlavour(gw, 'shop', routes(route([{ name: 'eg' }, { name: 'istio' }])), controllerOf),
    ).toBe('istio');
    expect(await defaultFlavour(gw, 'shop', routes(route([{ name: 'missing' }])), controllerOf)).toBe(
      'istio',
    );
    expect(await defaultFlavour(gw, 'shop', routes(undefined), controllerOf)).toBe('istio');
    expect(await defaultFlavour(gw, 'shop', routes(route([])), controllerOf)).toBe('istio');
  });

  it('asks about a bounded number of Gateways, each once', async () => {
    asked.length = 0;
    const many = route(Array.from({ length: MAX_GATEWAYS + 1 }, (_, i) => ({ name: `g${i}` })));
    expect(await defaultFlavour(gw, 'shop', routes(many), controllerOf)).toBe('istio');
    expect(asked).toEqual([]);
    await defaultFlavour(
      gw,
      'shop',
      routes(route([{ name: 'eg' }, { name: 'eg', sectionName: 'https' }])),
      controllerOf,
    );
    expect(asked).toEqual(['shop/eg']);
  });
});
