import type { RolloutSpec } from '../../crds/index.ts';
import type { Split as RouteSplit } from './virtual-service.ts';

export interface Split extends RouteSplit {
  virtualService: string;
}

/**
 * Which two backends a Rollout splits traffic between. Canary: stable vs canary Service.
 * Blue-green: active vs preview Service, at 0 or 100.
 */
export function splitFor(spec: RolloutSpec): Split | undefined {
  const { canary, blueGreen } = spec.strategy;
  const istio = canary?.trafficRouting?.istio ?? blueGreen?.trafficRouting?.istio;
  if (!istio) return undefined;
  const base = { virtualService: istio.virtualService.name, routes: istio.virtualService.routes };
  // Subset routing (istio.destinationRule) is refused by the schema until the subsets are labelled.
  if (canary)
    return { ...base, stable: { host: canary.stableService }, canary: { host: canary.canaryService } };
  return { ...base, stable: { host: blueGreen?.activeService }, canary: { host: blueGreen?.previewService } };
}
