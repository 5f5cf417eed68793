// Which metrics a gate's builtins read when it does not say (`builtinMetrics`): those of the data
// plane the Rollout's routes run on. Istio's routing, and Gateway API routes attached to a Service
// (the mesh, GAMMA), are Istio's. Routes attached only to Gateways whose GatewayClass is Envoy
// Gateway's are read from Envoy's own statistics. Anything else, or anything that cannot be
// found, stays Istio: the flavour a person can always set explicitly.
import type { BuiltinMetrics, RolloutSpec } from '../../crds/index.ts';
import type { RouteLookup } from '../traffic/envoy-clusters.ts';
import type { GatewayRouteKind } from '../traffic/gateway-route.ts';

/** Envoy Gateway's controllerName for the GatewayClasses it serves. */
export const ENVOY_GATEWAY_CONTROLLER = 'gateway.envoyproxy.io/gatewayclass-controller';

const GATEWAY_GROUP = 'gateway.networking.k8s.io';
/** At most this many Gateways are looked up for one run start; more than that is read as Istio's. */
export const MAX_GATEWAYS = 8;

/** The controllerName of a Gateway's GatewayClass; undefined when either cannot be read. */
export type GatewayController = (namespace: string, gateway: string) => Promise<string | undefined>;

interface ParentRef {
  group?: string;
  kind?: string;
  name?: string;
  namespace?: string;
}

export async function defaultFlavour(
  spec: RolloutSpec,
  namespace: string,
  routes: RouteLookup,
  controllerOf: GatewayController,
): Promise<BuiltinMetrics> {
  const { canary, blueGreen } = spec.strategy;
  const gateway = (canary?.trafficRouting ?? blueGreen?.trafficRouting)?.gatewayAPI;
  if (!gateway) return 'istio';
  const named: [GatewayRouteKind, string][] = [
    ...(gateway.httpRoutes ?? []).map((r): [GatewayRouteKind, string] => ['HTTPRoute', r.name]),
    ...(gateway.grpcRoutes ?? []).map((r): [GatewayRouteKind, string] => ['GRPCRoute', r.name]),
  ];
  const gateways = new Map<string, { namespace: string; name: string }>();
  for (const [kind, name] of named) {
    const parents = (routes(kind, name)?.spec.parentRefs ?? []) as ParentRef[];
    if (parents.length === 0) return 'istio';
    for (const p of parents) {
      // A route attached to a Service is the mesh's (GAMMA): Istio's metrics.
      const isGateway = (p.group ?? GATEWAY_GROUP) === GATEWAY_GROUP && (p.kind ?? 'Gateway') === 'Gateway';
      if (!isGateway || !p.name) return 'istio';
      const ns = p.namespace ?? namespace;
      gateways.set(`${ns}/${p.name}`, { namespace: ns, name: p.name });
    }
  }
  if (gateways.size === 0 || gateways.size > MAX_GATEWAYS) return 'istio';
  const controllers = await Promise.all([...gateways.values()].map((g) => controllerOf(g.namespace, g.name)));
  return controllers.every((c) => c === ENVOY_GATEWAY_CONTROLLER) ? 'envoyGateway' : 'istio';
}
