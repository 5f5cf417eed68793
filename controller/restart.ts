// The controller's half of a restart (machines/restart.ts decides): fold a `restart` signal into
// status.restartRequestedAt, and while a restart is owed, read the pods of the live ReplicaSets,
// evict the one the decision names through the Eviction API (a PodDisruptionBudget is honoured:
// a refused eviction is tried again later), and record status.restartedAt when every pod is newer.
// Pods are read only then, by label, never watched: a Rollout that is not restarting costs nothing.
import type { KubeConfig, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import type { Rollout, RolloutStatus } from '../crds/index.ts';
import { type RestartPod, restartOwed, restartStep } from '../machines/restart.ts';
import { requestJson, resourcePath, statusCode } from './kube/client.ts';
import type { EventRecorder } from './kube/events.ts';
import { REVISION_LABEL } from './revision.ts';
import { GuardedWriter } from './writer.ts';

/** While a restart is under way, look again this often: pods are not watched. */
export const RESTART_POLL_MS = 2_000;

/** Reading and evicting pods: all a restart does to them. */
export interface PodAccess {
  list(namespace: string, labelSelector: string): Promise<V1Pod[]>;
  /** False when a PodDisruptionBudget does not allow it now (429). */
  evict(namespace: string, name: string): Promise<boolean>;
}

const TOO_MANY_REQUESTS = 429;
const NOT_FOUND = 404;

export class PodRestarts extends GuardedWriter implements PodAccess {
  constructor(kc: KubeConfig, mayWrite?: () => boolean, fieldManager?: string) {
    super(kc, mayWrite, fieldManager);
  }

  async list(namespace: string, labelSelector: string): Promise<V1Pod[]> {
    const list = await requestJson<{ items?: V1Pod[] }>(this.kc, {
      method: 'GET',
      path: resourcePath({ version: 'v1', plural: 'pods', namespace }),
      query: { labelSelector },
    });
    return list.items ?? [];
  }

  async evict(namespace: string, name: string): Promise<boolean> {
    this.guard();
    try {
      await requestJson(this.kc, {
        method: 'POST',
        path: resourcePath({ version: 'v1', plural: 'pods', namespace, name, subresource: 'eviction' }),
        body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace } },
      });
      return true;
    } catch (err) {
      if (statusCode(err) === TOO_MANY_REQUESTS) return false;
      if (statusCode(err) === NOT_FOUND) return true; // gone already: replaced as wanted
      throw err;
    }
  }
}

export interface RestartOutcome {
  /** The status fields a restart owns, to carry into the pass' status write. */
  status: Pick<RolloutStatus, 'restartRequestedAt' | 'restartedAt'>;
  requeueAfterMs?: number;
}

interface RestartDeps {
  pods?: PodAccess;
  events: EventRecorder;
}

/** One pass of a restart for `rollout`, whose ReplicaSets the pass read; `regarding` names it in Events. */
export async function reconcileRestart(
  deps: RestartDeps,
  rollout: Rollout,
  replicaSets: V1ReplicaSet[],
  now: number,
  regarding: Parameters<EventRecorder['record']>[0],
): Promise<RestartOutcome> {
  const status = rollout.status ?? {};
  const requestedAt = later(status.restartRequestedAt, status.signals?.restart?.requestedAt);
  const record = { restartAt: rollout.spec.restartAt, requestedAt, restartedAt: status.restartedAt };
  const kept = { restartRequestedAt: requestedAt, restartedAt: status.restartedAt };
  // Nothing owed (the common case): no pod is read.
  if (restartOwed(record) === undefined || !deps.pods) return { status: kept };

  const namespace = rollout.metadata.namespace ?? 'default';
  const live = replicaSets.filter((rs) => (rs.spec?.replicas ?? 0) > 0);
  const hashes = live.map((rs) => rs.metadata?.labels?.[REVISION_LABEL]).filter((h) => h !== undefined);
  const uids = new Set(live.map((rs) => rs.metadata?.uid));
  const pods =
    hashes.length === 0
      ? []
      : (await deps.pods.list(namespace, `${REVISION_LABEL} in (${hashes.join(',')})`)).filter((p) =>
          p.metadata?.ownerReferences?.some((o) => o.controller && uids.has(o.uid)),
        );
  const step = restartStep(
    record,
    now,
    live.map((rs) => ({
      name: rs.metadata?.name ?? '',
      desired: rs.spec?.replicas ?? 0,
      ready: rs.status?.readyReplicas ?? 0,
    })),
    pods.map(podOf),
  );
  switch (step.type) {
    case 'idle':
      return step.wakeAt === undefined
        ? { status: kept }
        : { status: kept, requeueAfterMs: Math.max(0, step.wakeAt - now) };
    case 'wait':
      return { status: kept, requeueAfterMs: RESTART_POLL_MS };
    case 'evict': {
      if (await deps.pods.evict(namespace, step.pod)) {
        deps.events.record(regarding, {
          type: 'Normal',
          reason: 'PodRestarted',
          action: 'Restart',
          note: `Evicted pod ${step.pod}, created before the restart time ${step.at}; ${step.left - 1} more to replace after it.`,
        });
      }
      return { status: kept, requeueAfterMs: RESTART_POLL_MS };
    }
    case 'done':
      deps.events.record(regarding, {
        type: 'Normal',
        reason: 'RestartCompleted',
        action: 'Restart',
        note: `Every pod of the stable and canary ReplicaSets was created after ${step.at}, and ready.`,
      });
      return { status: { ...kept, restartedAt: step.at } };
  }
}

function podOf(pod: V1Pod): RestartPod {
  const created = pod.metadata?.creationTimestamp as Date | string | undefined;
  return {
    name: pod.metadata?.name ?? '',
    createdAt: created instanceof Date ? created.toISOString() : (created ?? ''),
    ready: pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    terminating: pod.metadata?.deletionTimestamp !== undefined,
  };
}

/** The later of two RFC 3339 times, either of which may be absent. */
function later(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Date.parse(b) > Date.parse(a) ? b : a;
}
