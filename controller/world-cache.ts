import type { KubernetesObject, V1Deployment, V1ReplicaSet, V1Service } from '@kubernetes/client-node';
import type { AnalysisRun, Rollout } from '../crds/index.ts';
import { controlledBy } from '../machines/ownership.ts';
import { type ResilientInformer, trimmed } from './kube/informer.ts';
import { ROLLOUT_LABEL } from './revision.ts';
import type { DestinationRule } from './traffic/destination-rule.ts';
import type { GatewayRoute, GatewayRouteKind } from './traffic/gateway-route.ts';
import type { VirtualService } from './traffic/virtual-service.ts';
import type { World } from './world.ts';

export interface Informers {
  rollouts: ResilientInformer<Rollout & KubernetesObject>;
  replicaSets: ResilientInformer<V1ReplicaSet>;
  services: ResilientInformer<V1Service>;
  virtualServices: ResilientInformer<VirtualService & KubernetesObject>;
  destinationRules: ResilientInformer<DestinationRule & KubernetesObject>;
  /** Absent when the cluster does not serve the Gateway API (looked up once, at start). */
  httpRoutes?: ResilientInformer<GatewayRoute & KubernetesObject>;
  grpcRoutes?: ResilientInformer<GatewayRoute & KubernetesObject>;
  analysisRuns: ResilientInformer<AnalysisRun & KubernetesObject>;
  deployments: ResilientInformer<V1Deployment>;
}

/** resourceVersions are etcd revisions in practice; compare numerically when both are numbers. */
function newer<T extends { metadata?: { resourceVersion?: string } }>(
  a: T | undefined,
  b: T | undefined,
): T | undefined {
  if (!a || !b) return a ?? b;
  const ra = a.metadata?.resourceVersion ?? '';
  const rb = b.metadata?.resourceVersion ?? '';
  if (!/^\d+$/.test(ra) || !/^\d+$/.test(rb)) return a;
  return BigInt(rb) > BigInt(ra) ? b : a;
}

interface Written {
  metadata: { namespace?: string; name?: string; uid?: string; resourceVersion?: string };
}

/**
 * The cached object, or our own write of it when that is newer. Once the watch has caught up
 * (or the object was recreated under the same name), the cache is the truth again and the
 * remembered copy goes: a copy per object kept for good would double the memory of a
 * thousand idle Rollouts.
 */
function newestOf<T extends Written>(cached: T, written: Map<string, T>): T {
  const key = `${cached.metadata.namespace}/${cached.metadata.name}`;
  const mine = written.get(key);
  if (!mine) return cached;
  const newest = mine.metadata.uid === cached.metadata.uid ? newer(cached, mine) : cached;
  if (newest === cached) written.delete(key);
  return newest as T;
}

/**
 * The World over informer caches. It also remembers each Rollout as our own last status write
 * returned it: the informer hears of that write a moment later, and a reconcile in between
 * would otherwise decide from the status before it and conflict.
 */
export class CachedWorld implements World {
  private readonly written = new Map<string, Rollout>();
  /** AnalysisRun status as the runner last wrote it, for the same reason as `written`. */
  private readonly writtenRuns = new Map<string, AnalysisRun>();

  constructor(private readonly informers: Informers) {}

  remember(rollout: Rollout): void {
    this.written.set(`${rollout.metadata.namespace}/${rollout.metadata.name}`, trimmed(rollout));
  }

  forget(namespace: string, name: string): void {
    this.written.delete(`${namespace}/${name}`);
  }

  rollout(namespace: string, name: string): Rollout | undefined {
    const cached = this.informers.rollouts.get(namespace, name) as Rollout | undefined;
    if (!cached) return undefined;
    return newestOf(cached, this.written);
  }

  replicaSets(namespace: string, rollout: string): V1ReplicaSet[] {
    // The label finds candidates cheaply; the ownerReference decides. Anyone who may create a
    // ReplicaSet can copy the label, and what is listed here gets scaled, receives traffic and
    // has its pod template written back to git.
    const uid = this.informers.rollouts.get(namespace, rollout)?.metadata?.uid;
    return this.informers.replicaSets
      .list(namespace)
      .filter((rs) => rs.metadata?.labels?.[ROLLOUT_LABEL] === rollout && controlledBy(rs, uid));
  }

  service(namespace: string, name: string): V1Service | undefined {
    return this.informers.services.get(namespace, name);
  }

  virtualService(namespace: string, name: string): VirtualService | undefined {
    return this.informers.virtualServices.get(namespace, name);
  }

  gatewayRoute(kind: GatewayRouteKind, namespace: string, name: string): GatewayRoute | undefined {
    const informer = kind === 'HTTPRoute' ? this.informers.httpRoutes : this.informers.grpcRoutes;
    return informer?.get(namespace, name);
  }

  destinationRule(namespace: string, name: string): DestinationRule | undefined {
    return this.informers.destinationRules.get(namespace, name);
  }

  deployment(namespace: string, name: string): V1Deployment | undefined {
    return this.informers.deployments.get(namespace, name);
  }

  analysisRuns(namespace: string, rollout: string): AnalysisRun[] {
    return this.informers.analysisRuns
      .list(namespace)
      .filter((r) => r.spec?.rollout === rollout)
      .map((r) => newestOf(r, this.writtenRuns));
  }

  analysisRun(namespace: string, name: string): AnalysisRun | undefined {
    const cached = this.informers.analysisRuns.get(namespace, name) as AnalysisRun | undefined;
    if (!cached) {
      this.writtenRuns.delete(`${namespace}/${name}`);
      return undefined;
    }
    return newestOf(cached, this.writtenRuns);
  }

  rememberRun(run: AnalysisRun): void {
    this.writtenRuns.set(`${run.metadata.namespace}/${run.metadata.name}`, trimmed(run));
  }
}
