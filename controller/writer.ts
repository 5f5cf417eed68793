// Every write the reconciler makes, each idempotent and each under the replica's field manager.
import type { KubeConfig, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import { PatchStrategy } from '@kubernetes/client-node';
import {
  type AnalysisRun,
  GROUP,
  ROLE_METADATA_ANNOTATION,
  type RoleMetadata,
  type Rollout,
  type RolloutStatus,
  VERSION,
} from '../crds/index.ts';
import { isConflict, mergePatch, requestJson, resourcePath, statusCode } from './kube/client.ts';
import type { SubsetPatchOp } from './traffic/destination-rule.ts';
import type { RoutedKind } from './traffic/router.ts';
import type { JsonPatchOp } from './traffic/virtual-service.ts';
import { type MetadataPatch, serviceSelectorPatch } from './workload.ts';

/** Where each kind of routed object is served. */
const ROUTED: Record<RoutedKind, [group: string, plural: string]> = {
  VirtualService: ['networking.istio.io', 'virtualservices'],
  HTTPRoute: ['gateway.networking.k8s.io', 'httproutes'],
  GRPCRoute: ['gateway.networking.k8s.io', 'grpcroutes'],
};

export const FIELD_MANAGER = 'sluice';

/**
 * `sluice`, or `sluice/<identity>` for a replica given an explicit identity: managedFields then
 * tell which replica wrote, so "only the leader writes" can be checked on the objects.
 */
export function fieldManagerFor(identity?: string): string {
  return identity ? `${FIELD_MANAGER}/${identity}`.slice(0, MAX_FIELD_MANAGER) : FIELD_MANAGER;
}
const MAX_FIELD_MANAGER = 128;
const ALREADY_EXISTS = 409;
const NOT_FOUND = 404;
// A precondition that no longer holds (the name now belongs to another object) answers 409.
const PRECONDITION_FAILED = 409;
// A ReplicaSet's pods are bounded by spec.replicas; this bounds one list however it was scaled.
const MAX_PODS_PATCHED = 1000;

export const sluicePath = (plural: string, namespace: string, name?: string, subresource?: string) =>
  resourcePath({ group: GROUP, version: VERSION, plural, namespace, name, subresource });

/** Thrown instead of writing when this replica does not hold the lease. */
export class NotLeaderError extends Error {}

/** What every writer shares: the client, the leadership guard and the field manager. */
export class GuardedWriter {
  /**
   * `mayWrite` is asked before every request, so a replica that loses the lease stops writing
   * at once, even in the middle of a reconcile.
   */
  constructor(
    protected readonly kc: KubeConfig,
    private readonly mayWrite: () => boolean = () => true,
    protected readonly fieldManager: string = FIELD_MANAGER,
  ) {}

  protected guard(): void {
    if (!this.mayWrite()) throw new NotLeaderError('not the leader: write refused');
  }
}

export class Writer extends GuardedWriter {
  /**
   * Creates the ReplicaSet unless it exists (a cache that lags our own create is normal).
   * Returns the object already there, so the caller can check it is really ours.
   */
  async ensureReplicaSet(rs: V1ReplicaSet): Promise<V1ReplicaSet | undefined> {
    this.guard();
    const namespace = rs.metadata?.namespace ?? 'default';
    const collection = resourcePath({ group: 'apps', version: 'v1', plural: 'replicasets', namespace });
    try {
      await requestJson(this.kc, {
        method: 'POST',
        path: collection,
        query: { fieldManager: this.fieldManager },
        body: rs,
      });
      return undefined;
    } catch (err) {
      if (statusCode(err) !== ALREADY_EXISTS) throw err;
    }
    return requestJson<V1ReplicaSet>(this.kc, {
      method: 'GET',
      path: `${collection}/${encodeURIComponent(rs.metadata?.name ?? '')}`,
    });
  }

  async scaleReplicaSet(namespace: string, name: string, replicas: number): Promise<void> {
    this.guard();
    await mergePatch(
      this.kc,
      resourcePath({ group: 'apps', version: 'v1', plural: 'replicasets', namespace, name }),
      { spec: { replicas } },
      { fieldManager: this.fieldManager },
    );
  }

  /** A workloadRef Deployment's replicas, as the Rollout's scaleDown says. */
  async scaleDeployment(namespace: string, name: string, replicas: number): Promise<void> {
    this.guard();
    await mergePatch(
      this.kc,
      resourcePath({ group: 'apps', version: 'v1', plural: 'deployments', namespace, name }),
      { spec: { replicas } },
      { fieldManager: this.fieldManager },
    );
  }

  /**
   * Deletes an old revision's ReplicaSet (beyond revisionHistoryLimit), only the very object
   * that was read: a precondition on its uid, so one recreated under the name since is kept.
   */
  async deleteReplicaSet(namespace: string, name: string, uid: string): Promise<void> {
    this.guard();
    try {
      await requestJson(this.kc, {
        method: 'DELETE',
        path: resourcePath({ group: 'apps', version: 'v1', plural: 'replicasets', namespace, name }),
        body: {
          apiVersion: 'v1',
          kind: 'DeleteOptions',
          preconditions: { uid },
          propagationPolicy: 'Background',
        },
      });
    } catch (err) {
      const code = statusCode(err);
      if (code !== NOT_FOUND && code !== PRECONDITION_FAILED) throw err;
    }
  }

  /**
   * Puts a role's labels and annotations on a revision's pods: first on its ReplicaSet's pod
   * template (so pods created from now on carry them), then, once the ReplicaSet controller has
   * seen that template, on each pod it owns, and only then records them on the ReplicaSet, so a
   * pass cut short is carried on by the next.
   */
  async setPodMetadata(
    namespace: string,
    name: string,
    patch: MetadataPatch,
    record: RoleMetadata,
  ): Promise<void> {
    this.guard();
    const path = resourcePath({ group: 'apps', version: 'v1', plural: 'replicasets', namespace, name });
    let rs: V1ReplicaSet;
    try {
      rs = await mergePatch<V1ReplicaSet>(
        this.kc,
        path,
        { spec: { template: { metadata: patch } } },
        {
          fieldManager: this.fieldManager,
        },
      );
    } catch (err) {
      if (statusCode(err) === NOT_FOUND) return;
      throw err;
    }
    // Pods the ReplicaSet controller creates before it has seen the new template lack it: only
    // once it has (observedGeneration) are the pods listed and the record written; until then the
    // next pass, which its status change brings, tries again.
    const seen = await requestJson<V1ReplicaSet>(this.kc, { method: 'GET', path });
    if ((seen.status?.observedGeneration ?? 0) < (rs.metadata?.generation ?? 0)) return;
    const selector = Object.entries(rs.spec?.selector?.matchLabels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const pods = await requestJson<{ items: V1Pod[] }>(this.kc, {
      method: 'GET',
      path: resourcePath({ version: 'v1', plural: 'pods', namespace }),
      query: { labelSelector: selector, limit: MAX_PODS_PATCHED },
    });
    for (const pod of pods.items) {
      if (!pod.metadata?.ownerReferences?.some((o) => o.uid === rs.metadata?.uid)) continue;
      this.guard();
      try {
        await mergePatch(
          this.kc,
          resourcePath({ version: 'v1', plural: 'pods', namespace, name: pod.metadata.name }),
          { metadata: patch },
          { fieldManager: this.fieldManager },
        );
      } catch (err) {
        if (statusCode(err) !== NOT_FOUND) throw err; // a pod gone meanwhile needs nothing
      }
    }
    await mergePatch(
      this.kc,
      path,
      { metadata: { annotations: { [ROLE_METADATA_ANNOTATION]: JSON.stringify(record) } } },
      { fieldManager: this.fieldManager },
    );
  }

  async pointService(namespace: string, name: string, revision: string): Promise<void> {
    this.guard();
    await mergePatch(
      this.kc,
      resourcePath({ version: 'v1', plural: 'services', namespace, name }),
      serviceSelectorPatch(revision),
      { fieldManager: this.fieldManager },
    );
  }

  async patchVirtualService(namespace: string, name: string, ops: JsonPatchOp[]): Promise<void> {
    await this.jsonPatch('networking.istio.io', 'virtualservices', namespace, name, ops);
  }

  /** The weights of a routed object (VirtualService, HTTPRoute, GRPCRoute), by JSON Patch. */
  async patchRoute(kind: RoutedKind, namespace: string, name: string, ops: JsonPatchOp[]): Promise<void> {
    const [group, plural] = ROUTED[kind];
    await this.jsonPatch(group, plural, namespace, name, ops);
  }

  /** Points subsets at revisions: a JSON Patch of our label only, failing on a stale read. */
  async patchDestinationRule(namespace: string, name: string, ops: SubsetPatchOp[]): Promise<void> {
    await this.jsonPatch('networking.istio.io', 'destinationrules', namespace, name, ops);
  }

  /** Every patch of a tenant's object is a JSON Patch opening with a resourceVersion test. */
  private async jsonPatch(
    group: string,
    plural: string,
    namespace: string,
    name: string,
    ops: readonly unknown[],
  ): Promise<void> {
    this.guard();
    await staleAsConflict(
      requestJson(this.kc, {
        method: 'PATCH',
        path: resourcePath({ group, version: 'v1', plural, namespace, name }),
        query: { fieldManager: this.fieldManager },
        contentType: PatchStrategy.JsonPatch,
        body: ops,
      }),
    );
  }

  async createAnalysisRun(run: AnalysisRun): Promise<void> {
    this.guard();
    try {
      await requestJson(this.kc, {
        method: 'POST',
        path: sluicePath('analysisruns', run.metadata.namespace ?? 'default'),
        query: { fieldManager: this.fieldManager },
        body: run,
      });
    } catch (err) {
      if (statusCode(err) !== ALREADY_EXISTS) throw err;
    }
  }

  async terminateAnalysisRun(namespace: string, name: string): Promise<void> {
    this.guard();
    try {
      await mergePatch(
        this.kc,
        sluicePath('analysisruns', namespace, name),
        { spec: { terminate: true } },
        {
          fieldManager: this.fieldManager,
        },
      );
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
  }

  /**
   * Replaces status with optimistic concurrency: a `kubectl sluice` signal written after our
   * read makes this conflict instead of being erased, and the next reconcile sees it.
   * Returns false on conflict.
   */
  async writeStatus(rollout: Rollout, status: RolloutStatus): Promise<Rollout | false> {
    this.guard();
    const namespace = rollout.metadata.namespace ?? 'default';
    const name = rollout.metadata.name ?? '';
    try {
      return await requestJson<Rollout>(this.kc, {
        method: 'PUT',
        path: sluicePath('rollouts', namespace, name, 'status'),
        query: { fieldManager: this.fieldManager },
        body: { ...rollout, status },
      });
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  /** Records a write-back's outcome; merged into status, so the reconciler's next full write (which carries it) conflicts instead of erasing it. */
  async writeWriteBack(
    namespace: string,
    name: string,
    writeBack: RolloutStatus['writeBack'],
  ): Promise<Rollout> {
    this.guard();
    return mergePatch<Rollout>(
      this.kc,
      sluicePath('rollouts', namespace, name, 'status'),
      { status: { writeBack } },
      {
        fieldManager: FIELD_MANAGER,
      },
    );
  }

  /** Sets the finalizer list, guarded by resourceVersion so another writer's change is not lost. */
  async setFinalizers(rollout: Rollout, finalizers: string[]): Promise<void> {
    this.guard();
    await staleAsConflict(
      mergePatch(
        this.kc,
        sluicePath('rollouts', rollout.metadata.namespace ?? 'default', rollout.metadata.name),
        { metadata: { finalizers, resourceVersion: rollout.metadata.resourceVersion } },
        { fieldManager: this.fieldManager },
      ),
    );
  }
}

/** A write that lost a race with another writer; the reconcile is retried at once on fresh state. */
export class StaleWrite extends Error {}

const UNPROCESSABLE = 422;

/**
 * Our patches carry the resourceVersion they were computed from (a JSON Patch `test`, or
 * resourceVersion in a merge patch). When it is stale the API server answers 409, or 422 for
 * a failed test: both mean "read again", not "your request is wrong".
 */
async function staleAsConflict<T>(request: Promise<T>): Promise<T> {
  try {
    return await request;
  } catch (err) {
    const code = statusCode(err);
    if (
      code === 409 ||
      (code === UNPROCESSABLE &&
        /test|resourceVersion|rejected our request/i.test(String((err as Error).message)))
    ) {
      throw new StaleWrite('stale read: retrying with fresh state', { cause: err });
    }
    throw err;
  }
}
