// The Envoy clusters that carry a Rollout's stable and canary traffic, named as Envoy Gateway
// names them, for gates that read Envoy's upstream cluster statistics (analysis/flavour.ts).
// Pure: routes come in through a lookup. Envoy Gateway's naming (internal/gatewayapi/helpers.go,
// irRouteDestinationName and irDestinationSettingName, docs/analysis.md) gives a route rule one
// cluster `<kind>/<ns>/<route>/rule/<i>`, holding all its backendRefs as weighted localities,
// unless it needs a cluster per backendRef (`…/rule/<i>/backend/<j>`), which it does when one of
// the rule's backendRefs carries filters. Only then does each Service have statistics of its own.
import type { RolloutSpec } from '../../crds/index.ts';
import { type BackendRef, type GatewayRoute, type GatewayRouteKind, locateRules } from './gateway-route.ts';

export type RouteLookup = (kind: GatewayRouteKind, name: string) => GatewayRoute | undefined;

const hasFilters = (ref: BackendRef) => Array.isArray(ref.filters) && ref.filters.length > 0;

/**
 * Clusters by Service name, for the routes and rules Sluice weighs; or why a gate cannot read
 * Envoy's per-backend statistics (no Gateway API routing, a route missing, a rule whose
 * backendRefs share one cluster).
 */
export function envoyClusters(
  spec: RolloutSpec,
  namespace: string,
  lookup: RouteLookup,
): ReadonlyMap<string, readonly string[]> | string {
  const { canary, blueGreen } = spec.strategy;
  const gateway = (canary?.trafficRouting ?? blueGreen?.trafficRouting)?.gatewayAPI;
  if (!gateway) {
    return "Envoy Gateway's clusters come from the Rollout's HTTPRoutes and GRPCRoutes: it needs trafficRouting.gatewayAPI";
  }
  // Header, mirror and sticky rules go ahead of the user's during a release. Envoy Gateway
  // numbers clusters by rule index, so the names found at a run's start would later name other
  // rules' backends: with several weighed rules, another rule's traffic. Refused until the names
  // are found at each look.
  const inserts =
    canary?.sessionAffinity !== undefined ||
    (canary?.steps ?? []).some((s) => s.setHeaderRoute !== undefined || s.setMirrorRoute !== undefined);
  if (inserts) {
    return "Envoy Gateway numbers its clusters by rule, and Sluice's header, mirror and sticky rules renumber them during the release: the envoyGateway flavour cannot be used with setHeaderRoute, setMirrorRoute or sessionAffinity yet";
  }
  const services = canary
    ? { stable: canary.stableService ?? '', canary: canary.canaryService ?? '' }
    : { stable: blueGreen?.activeService ?? '', canary: blueGreen?.previewService ?? '' };
  const out = new Map<string, string[]>([
    [services.stable, []],
    [services.canary, []],
  ]);
  const refs: [GatewayRouteKind, { name: string; rules?: string[] | undefined }][] = [
    ...(gateway.httpRoutes ?? []).map((r) => ['HTTPRoute', r] as [GatewayRouteKind, typeof r]),
    ...(gateway.grpcRoutes ?? []).map((r) => ['GRPCRoute', r] as [GatewayRouteKind, typeof r]),
  ];
  for (const [kind, ref] of refs) {
    const route = lookup(kind, ref.name);
    if (!route) return `${kind} ${namespace}/${ref.name} not found`;
    let located: ReturnType<typeof locateRules>;
    try {
      located = locateRules(kind, route, { ...services, ...(ref.rules ? { rules: ref.rules } : {}) });
    } catch (err) {
      return (err as Error).message;
    }
    for (const rule of located) {
      if (!rule.refs.some(hasFilters)) {
        return (
          `${kind} ${namespace}/${ref.name} rule '${rule.name}': Envoy Gateway puts its backendRefs in one cluster, ` +
          "so the stable's and the canary's statistics cannot be told apart; give a backendRef filters (docs/analysis.md)"
        );
      }
      const prefix = `${kind.toLowerCase()}/${namespace}/${ref.name}/rule/${rule.index}/backend/`;
      out.get(services.stable)?.push(`${prefix}${rule.stable}`);
      out.get(services.canary)?.push(`${prefix}${rule.canary}`);
    }
  }
  return out;
}
