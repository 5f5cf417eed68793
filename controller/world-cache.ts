import type { KubernetesObject, V1ReplicaSet, V1Service } from '@kubernetes/client-node';
import type { AnalysisRun, Rollout } from '../crds/index.ts';
import { type ResilientInformer, trimmed } from './kube/informer.ts';
import { ROLLOUT_LABEL } from './revision.ts';
import type { VirtualService } from './traffic/virtual-service.ts';
import type { World } from './world.ts';

export interface Informers {
  rollouts: ResilientInformer<Rollout & KubernetesObject>;
  replicaSets: ResilientInformer<V1ReplicaSet>;
  services: ResilientInformer<V1Service>;
  virtualServices: ResilientInformer<VirtualService & KubernetesObject>;
  analysisRuns: ResilientInformer<AnalysisRun & KubernetesObject>;
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
    const key = `${namespace}/${name}`;
    const newest = newer(cached, this.written.get(key));
    // Once the watch has caught up, the cache is the truth again: a copy per Rollout kept for
    // good would double the memory of a thousand idle Rollouts.
    if (newest === cached) this.written.delete(key);
    return newest;
  }

  replicaSets(namespace: string, rollout: string): V1ReplicaSet[] {
    return this.informers.replicaSets
      .list(namespace)
      .filter((rs) => rs.metadata?.labels?.[ROLLOUT_LABEL] === rollout);
  }

  service(namespace: string, name: string): V1Service | undefined {
    return this.informers.services.get(namespace, name);
  }

  virtualService(namespace: string, name: string): VirtualService | undefined {
    return this.informers.virtualServices.get(namespace, name);
  }

  analysisRuns(namespace: string, rollout: string): AnalysisRun[] {
    return this.informers.analysisRuns
      .list(namespace)
      .filter((r) => r.spec?.rollout === rollout)
      .map((r) => this.newestRun(r) as AnalysisRun);
  }

  analysisRun(namespace: string, name: string): AnalysisRun | undefined {
    const cached = this.informers.analysisRuns.get(namespace, name) as AnalysisRun | undefined;
    if (!cached) {
      this.writtenRuns.delete(`${namespace}/${name}`);
      return undefined;
    }
    return this.newestRun(cached);
  }

  rememberRun(run: AnalysisRun): void {
    this.writtenRuns.set(`${run.metadata.namespace}/${run.metadata.name}`, trimmed(run));
  }

  private newestRun(cached: AnalysisRun): AnalysisRun | undefined {
    const key = `${cached.metadata.namespace}/${cached.metadata.name}`;
    const mine = this.writtenRuns.get(key);
    if (!mine) return cached;
    if (mine.metadata.uid !== cached.metadata.uid) {
      this.writtenRuns.delete(key);
      return cached;
    }
    const newest = newer(cached, mine);
    // Once the watch has caught up, the cache is the truth again.
    if (newest === cached) this.writtenRuns.delete(key);
    return newest;
  }
}
