import type { V1Deployment, V1ReplicaSet, V1Service } from '@kubernetes/client-node';
import type { AnalysisRun, Rollout } from '../crds/index.ts';
import type { DestinationRule } from './traffic/destination-rule.ts';
import type { GatewayRoute, GatewayRouteKind } from './traffic/gateway-route.ts';
import type { VirtualService } from './traffic/virtual-service.ts';

/**
 * What a reconcile reads: the informer caches, behind an interface so the reconciler does not
 * care how they are kept. Reads are cheap and may lag our own writes by a moment; every write
 * is built to cope (creates tolerate AlreadyExists, patches carry resourceVersion tests).
 */
export interface World {
  rollout(namespace: string, name: string): Rollout | undefined;
  /** The Rollout's ReplicaSets: labelled for it and controlled by its uid (a label alone proves nothing). */
  replicaSets(namespace: string, rollout: string): V1ReplicaSet[];
  service(namespace: string, name: string): V1Service | undefined;
  virtualService(namespace: string, name: string): VirtualService | undefined;
  /** An HTTPRoute or GRPCRoute a Rollout names; undefined also when the cluster does not serve the Gateway API. */
  gatewayRoute(kind: GatewayRouteKind, namespace: string, name: string): GatewayRoute | undefined;
  /** The DestinationRule a Rollout routing by subsets names: Sluice points its two subsets. */
  destinationRule(namespace: string, name: string): DestinationRule | undefined;
  /** A Deployment a Rollout names in workloadRef (its pod template, and what Sluice scales down). */
  deployment(namespace: string, name: string): V1Deployment | undefined;
  /** Runs whose spec names the Rollout, whoever created them: check ownership before trusting one. */
  analysisRuns(namespace: string, rollout: string): AnalysisRun[];
  /** The run of that name, whoever owns it: a gate's name may have been taken by someone else. */
  analysisRun(namespace: string, name: string): AnalysisRun | undefined;
}
