import type { RolloutSpec } from '../../crds/index.ts';
import type { Split as RouteSplit } from './virtual-service.ts';

export interface Split extends RouteSplit {
  virtualService: string;
}

/**
 * Which two backends a Rollout splits traffic between, in each VirtualService it names (one,
 * or several given the same weight). Canary: stable vs canary Service, or stable vs canary
 * subset of the DestinationRule, plus the baseline Service when it has one. Blue-green: active
 * vs preview Service, at 0 or 100.
 */
export function splitsFor(spec: RolloutSpec): Split[] {
  const { canary, blueGreen } = spec.strategy;
  const istio = canary?.trafficRouting?.istio ?? blueGreen?.trafficRouting?.istio;
  if (!istio) return [];
  const subsets = istio.destinationRule;
  // Subset routing: the two destinations are subsets of one host, whichever host the route names.
  const hosts = subsets
    ? { stable: { subset: subsets.stableSubsetName }, canary: { subset: subsets.canarySubsetName } }
    : canary
      ? { stable: { host: canary.stableService }, canary: { host: canary.canaryService } }
      : { stable: { host: blueGreen?.activeService }, canary: { host: blueGreen?.previewService } };
  const refs = istio.virtualServices ?? (istio.virtualService ? [istio.virtualService] : []);
  const baseline = canary?.baselineService;
  return refs.map((ref) => ({
    virtualService: ref.name,
    routes: ref.routes,
    ...hosts,
    ...(baseline !== undefined && { baseline: { host: baseline } }),
  }));
}
