import type { CoreV1Event, EventsV1Event, V1Pod } from '@kubernetes/client-node';
import type { Detectability } from '../crds/analysis.ts';
import { GROUP, VERSION } from '../crds/common.ts';
import { apiStatus, CliError, explainFailure, RolloutNotFound } from './errors.ts';
import { JSON_PATCH, type Kube, MERGE_PATCH, request } from './kube.ts';
import {
  type AnalysisRun,
  byRevisionDescending,
  type EventView,
  type PodView,
  type RawReplicaSet,
  REVISION_LABEL,
  ROLLOUT_LABEL,
  type Rollout,
  revisionView,
  type StatusView,
} from './model.ts';

const PLURAL = 'rollouts';
const rolloutPath = { group: GROUP, version: VERSION, plural: PLURAL };

export async function getRollout(kube: Kube, name: string): Promise<Rollout> {
  try {
    return (await kube.custom.getNamespacedCustomObject({
      ...rolloutPath,
      namespace: kube.namespace,
      name,
    })) as Rollout;
  } catch (err) {
    const status = apiStatus(err);
    if (status?.code === 404) {
      // A 404 that names no object means the resource type itself is missing: the CRD is not installed.
      if (status.details?.name === name) {
        throw new RolloutNotFound(`rollout "${name}" not found in namespace "${kube.namespace}"`);
      }
      throw new CliError(NOT_INSTALLED);
    }
    throw explainFailure(
      err,
      { command: kube.command, verb: 'get', resource: PLURAL, namespace: kube.namespace },
      kube.identity,
    );
  }
}

const NOT_INSTALLED = `the Rollout API (${GROUP}/${VERSION}) is not installed in this cluster: apply crds/rollouts.yaml first`;

/** A list as the API sends it: the items and the resourceVersion a watch continues from. */
export interface Listing<T> {
  items: T[];
  resourceVersion?: string;
}

/** One of Sluice's kinds in the namespace (every namespace with `allNamespaces`), by namespace then name. */
async function listSluice<T extends { metadata: { name?: string; namespace?: string } }>(
  kube: Kube,
  plural: 'rollouts' | 'analysisruns',
  allNamespaces: boolean,
): Promise<Listing<T>> {
  const path = { group: GROUP, version: VERSION, plural };
  const list = (await request(kube, 'list', plural, allNamespaces ? undefined : kube.namespace, () =>
    (allNamespaces
      ? kube.custom.listCustomObjectForAllNamespaces(path)
      : kube.custom.listNamespacedCustomObject({ ...path, namespace: kube.namespace })
    ).catch((err: unknown) => {
      // A list is never 404 for an empty namespace, only when the resource type is unknown.
      if (apiStatus(err)?.code !== 404) throw err;
      throw new CliError(
        plural === 'rollouts'
          ? NOT_INSTALLED
          : `the AnalysisRun API (${GROUP}/${VERSION}) is not installed in this cluster: apply crds/${plural}.yaml first`,
      );
    }),
  )) as { items?: T[]; metadata?: { resourceVersion?: string } };
  const items = (list.items ?? []).sort(
    (a, b) =>
      (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') ||
      (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''),
  );
  return { items, resourceVersion: list.metadata?.resourceVersion };
}

export const listRollouts = (kube: Kube, allNamespaces: boolean): Promise<Listing<Rollout>> =>
  listSluice<Rollout>(kube, 'rollouts', allNamespaces);

export const listAnalysisRuns = (kube: Kube, allNamespaces: boolean): Promise<Listing<AnalysisRun>> =>
  listSluice<AnalysisRun>(kube, 'analysisruns', allNamespaces);

/**
 * The Rollout's ReplicaSets as wire JSON. Read through the generic objects API rather than AppsV1Api so
 * that a pod template can be copied back verbatim (the typed client turns it into model classes).
 */
export async function listReplicaSets(kube: Kube, rollout: string): Promise<RawReplicaSet[]> {
  const list = await request(kube, 'list', 'replicasets', kube.namespace, () =>
    kube.custom.listNamespacedCustomObject({
      group: 'apps',
      version: 'v1',
      plural: 'replicasets',
      namespace: kube.namespace,
      labelSelector: `${ROLLOUT_LABEL}=${rollout}`,
    }),
  );
  return (list as { items?: RawReplicaSet[] }).items ?? [];
}

export async function listPods(kube: Kube, hashes: string[]): Promise<PodView[]> {
  if (hashes.length === 0) return [];
  const list = await request(kube, 'list', 'pods', kube.namespace, () =>
    kube.core.listNamespacedPod({
      namespace: kube.namespace,
      labelSelector: `${REVISION_LABEL} in (${hashes.join(',')})`,
    }),
  );
  return list.items.map(podView).sort((a, b) => a.name.localeCompare(b.name));
}

export function podView(pod: V1Pod): PodView {
  const statuses = pod.status?.containerStatuses ?? [];
  const total = pod.spec?.containers.length ?? statuses.length;
  return {
    name: pod.metadata?.name ?? '?',
    ownerUid: pod.metadata?.ownerReferences?.find((o) => o.controller)?.uid,
    hash: pod.metadata?.labels?.[REVISION_LABEL],
    phase: pod.status?.phase ?? 'Unknown',
    ready: pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    containers: `${statuses.filter((s) => s.ready).length}/${total}`,
    restarts: statuses.reduce((sum, s) => sum + (s.restartCount ?? 0), 0),
    terminating: pod.metadata?.deletionTimestamp !== undefined,
  };
}

/** The newest `limit` events.k8s.io/v1 Events regarding this Rollout, oldest first. */
export async function listEvents(kube: Kube, rollout: Rollout, limit = 5): Promise<EventView[]> {
  const name = rollout.metadata.name ?? '';
  const list = await request(kube, 'list', 'events', kube.namespace, () =>
    kube.events.listNamespacedEvent({
      namespace: kube.namespace,
      fieldSelector: `regarding.kind=Rollout,regarding.name=${name}`,
    }),
  );
  const uid = rollout.metadata.uid;
  return list.items
    .filter((e) => uid === undefined || e.regarding?.uid === undefined || e.regarding.uid === uid)
    .map(eventView)
    .sort((a, b) => (a.time ?? '').localeCompare(b.time ?? ''))
    .slice(-limit);
}

function iso(t: Date | string | undefined): string | undefined {
  if (t === undefined || t === null) return undefined;
  return t instanceof Date ? t.toISOString() : t;
}

export function eventView(e: EventsV1Event | CoreV1Event): EventView {
  const v1 = e as EventsV1Event;
  const time =
    iso(v1.series?.lastObservedTime) ??
    iso(v1.eventTime) ??
    iso(v1.deprecatedLastTimestamp) ??
    iso(e.metadata?.creationTimestamp);
  return {
    type: e.type ?? 'Normal',
    reason: e.reason ?? '',
    note: v1.note ?? '',
    time,
    count: v1.series?.count ?? v1.deprecatedCount ?? 1,
  };
}

/** Gathers everything `status` renders, in as few requests as the data allows. */
export async function gatherStatus(kube: Kube, name: string, rollout?: Rollout): Promise<StatusView> {
  const current = rollout ?? (await getRollout(kube, name));
  // Both reads run at once, but a failure is reported in a fixed order so the message does not depend on timing.
  const [replicaSetsResult, eventsResult] = await Promise.allSettled([
    listReplicaSets(kube, name),
    listEvents(kube, current),
  ]);
  if (replicaSetsResult.status === 'rejected') throw replicaSetsResult.reason;
  if (eventsResult.status === 'rejected') throw eventsResult.reason;
  const replicaSets = replicaSetsResult.value;
  const events = eventsResult.value;
  const revisions = replicaSets.map(revisionView).sort(byRevisionDescending);
  const hashes = revisions.flatMap((r) => (r.hash ? [r.hash] : []));
  const pods = await listPods(kube, hashes);
  const detectability = await gateDetectability(kube, current);
  return { rollout: current, revisions, pods, events, ...(detectability ? { detectability } : {}) };
}

/**
 * What the current gates can see, from their AnalysisRuns' status. Best effort: a viewer without
 * `get analysisruns` (granted before this existed) still gets the rest of the status.
 */
async function gateDetectability(
  kube: Kube,
  rollout: Rollout,
): Promise<Record<string, Detectability> | undefined> {
  const names = [rollout.status?.analysis?.name, rollout.status?.backgroundAnalysis?.name].filter(
    (n): n is string => n !== undefined,
  );
  const out: Record<string, Detectability> = {};
  await Promise.all(
    names.map(async (name) => {
      try {
        const run = (await kube.custom.getNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          plural: 'analysisruns',
          namespace: kube.namespace,
          name,
        })) as { status?: { detectability?: Detectability } };
        if (run.status?.detectability) out[name] = run.status.detectability;
      } catch {
        // Not readable (403) or gone (pruned): the status tree shows the run's phase as before.
      }
    }),
  );
  return Object.keys(out).length ? out : undefined;
}

/** Merge-patches the status subresource: no resourceVersion, so it cannot conflict with the controller. */
export async function patchRolloutStatus(kube: Kube, name: string, patch: object): Promise<Rollout> {
  return (await request(kube, 'patch', 'rollouts/status', kube.namespace, () =>
    kube.custom.patchNamespacedCustomObjectStatus(
      { ...rolloutPath, namespace: kube.namespace, name, body: patch },
      MERGE_PATCH,
    ),
  )) as Rollout;
}

export interface JsonPatchOp {
  op: 'add' | 'remove' | 'replace' | 'test';
  path: string;
  value?: unknown;
}

export async function jsonPatchRollout(kube: Kube, name: string, ops: JsonPatchOp[]): Promise<Rollout> {
  return (await request(kube, 'patch', PLURAL, kube.namespace, () =>
    kube.custom.patchNamespacedCustomObject(
      { ...rolloutPath, namespace: kube.namespace, name, body: ops },
      JSON_PATCH,
    ),
  )) as Rollout;
}
