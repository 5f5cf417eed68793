import type { RolloutSpec } from '../../crds/index.ts';
import type { Split as RouteSplit } from './virtual-service.ts';

export interface Split extends RouteSplit {
  virtualService: string;
}

/**
 * Which two backends a Rollout splits traffic between, in each VirtualService it names (one,
 * or several given the same weight). Canary: stable vs canary Service. Blue-green: active vs
 * preview Service, at 0 or 100.
 */
export function splitsFor(spec: RolloutSpec): Split[] {
  const { canary, blueGreen } = spec.strategy;
  const istio = canary?.trafficRouting?.istio ?? blueGreen?.trafficRouting?.istio;
  if (!istio) return [];
  const hosts = canary
    ? { stable: { host: canary.stableService }, canary: { host: canary.canaryService } }
    : { stable: { host: blueGreen?.activeService }, canary: { host: blueGreen?.previewService } };
  // Subset routing (istio.destinationRule) is refused by the schema until the subsets are labelled.
  const refs = istio.virtualServices ?? (istio.virtualService ? [istio.virtualService] : []);
  return refs.map((ref) => ({ virtualService: ref.name, routes: ref.routes, ...hosts }));
}
