// The one shape the reconcile knows a traffic router by: an object in the Rollout's namespace
// that holds a canary weight, read from the caches and changed by a JSON Patch. One
// implementation per kind of route; which ones a Rollout has follows its trafficRouting.
import type { RolloutSpec } from '../../crds/index.ts';
import type { RequestRoutes } from '../../machines/desired.ts';
import type { World } from '../world.ts';
import { type GatewayRouteKind, routeRoutingPatch, routeWeight } from './gateway-route.ts';
import { splitsFor } from './split.ts';
import { type BaselineWeight, currentWeight, type JsonPatchOp, routingPatch } from './virtual-service.ts';

export type RoutedKind = 'VirtualService' | GatewayRouteKind;

/** The caches a router reads. */
export type RouteCaches = Pick<World, 'virtualService' | 'gatewayRoute'>;

/** A routed object as the cache holds it now. */
export interface RoutedView {
  /** The canary's weight; undefined when its routes disagree. Throws RoutingError when they are missing. */
  weight(): number | undefined;
  /**
   * The JSON Patch that gives the canary this weight (the baseline its own, the stable the rest)
   * and, when given, puts the header routes in place; empty when it has all that already.
   */
  patch(weight: number, requestRoutes?: RequestRoutes, baseline?: BaselineWeight): JsonPatchOp[];
}

export interface Router {
  kind: RoutedKind;
  name: string;
  /** The Rollout field that names it, for messages. */
  field: string;
  /** Undefined when the cache has no such object. */
  read(world: RouteCaches, namespace: string): RoutedView | undefined;
}

/** The routers a Rollout's trafficRouting names: its VirtualServices, or its HTTPRoutes and GRPCRoutes. */
export function routersFor(spec: RolloutSpec): Router[] {
  const { canary, blueGreen } = spec.strategy;
  const routing = canary?.trafficRouting ?? blueGreen?.trafficRouting;
  const gateway = routing?.gatewayAPI;
  if (gateway) {
    const services = canary
      ? { stable: canary.stableService ?? '', canary: canary.canaryService ?? '' }
      : { stable: blueGreen?.activeService ?? '', canary: blueGreen?.previewService ?? '' };
    const strategy = canary ? 'canary' : 'blueGreen';
    const of = (kind: GatewayRouteKind, list: 'httpRoutes' | 'grpcRoutes') =>
      (gateway[list] ?? []).map(
        (ref): Router => ({
          kind,
          name: ref.name,
          field: `spec.strategy.${strategy}.trafficRouting.gatewayAPI.${list}`,
          read(world, namespace) {
            const route = world.gatewayRoute(kind, namespace, ref.name);
            const split = { ...services, ...(ref.rules ? { rules: ref.rules } : {}) };
            return (
              route && {
                weight: () => routeWeight(kind, route, split),
                patch: (weight, headers) => routeRoutingPatch(kind, route, split, weight, headers),
              }
            );
          },
        }),
      );
    return [...of('HTTPRoute', 'httpRoutes'), ...of('GRPCRoute', 'grpcRoutes')];
  }
  const splits = splitsFor(spec);
  const field = `spec.strategy.*.trafficRouting.istio.virtualService${splits.length > 1 ? 's' : ''}`;
  return splits.map(
    (split): Router => ({
      kind: 'VirtualService',
      name: split.virtualService,
      field,
      read(world, namespace) {
        const vs = world.virtualService(namespace, split.virtualService);
        return (
          vs && {
            weight: () => currentWeight(vs, split),
            patch: (weight, headers, baseline) => routingPatch(vs, split, weight, headers, baseline),
          }
        );
      },
    }),
  );
}

/** How the routers are named in a message: `VirtualService web` or `HTTPRoute web, HTTPRoute web-internal`. */
export const describeRouters = (routers: Router[]): string =>
  routers.map((r) => `${r.kind} ${r.name}`).join(', ');
