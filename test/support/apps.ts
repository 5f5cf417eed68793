import type { KubernetesObject, V1ReplicaSet, V1Service } from '@kubernetes/client-node';
import { onTestFinished } from 'vitest';
import { stringify } from 'yaml';
import type { Io } from '../../cli/io.ts';
import { requestJson } from '../../controller/kube/client.ts';
import { kubeSource, ResilientInformer } from '../../controller/kube/informer.ts';
import { REVISION_LABEL, ROLLOUT_LABEL } from '../../controller/revision.ts';
import type { VirtualService } from '../../controller/traffic/virtual-service.ts';
import type { Rollout } from '../../crds/index.ts';
import { applyYaml } from '../harness/apply.ts';
import { sandbox } from '../harness/env.ts';
import { kube } from '../harness/kube.ts';
import { waitFor } from '../harness/wait.ts';

export {
  type BlueGreenAppOptions,
  blueGreenApp,
  type CanaryAppOptions,
  canaryApp,
  gatewayApp,
  subsetApp,
} from '../../sandbox/apps.ts';

export async function apply(objects: KubernetesObject[]): Promise<void> {
  await applyYaml(objects.map((o) => stringify(o)).join('---\n'));
}

const rolloutPath = (namespace: string, name: string, sub = '') =>
  `/apis/sluice.dev/v1alpha1/namespaces/${namespace}/rollouts/${name}${sub}`;

export function getRollout(namespace: string, name = 'web'): Promise<Rollout> {
  return requestJson<Rollout>(kube().kc, { method: 'GET', path: rolloutPath(namespace, name) });
}

export function getVirtualService(namespace: string, name = 'web'): Promise<VirtualService> {
  return requestJson<VirtualService>(kube().kc, {
    method: 'GET',
    path: `/apis/networking.istio.io/v1/namespaces/${namespace}/virtualservices/${name}`,
  });
}

/** Waits for the Rollout's status to satisfy `check`; returns that Rollout. */
export function waitForRollout(
  namespace: string,
  check: (r: Rollout) => boolean,
  description: string,
  opts: { name?: string; timeout?: number } = {},
): Promise<Rollout> {
  return waitFor(
    async () => {
      const r = await getRollout(namespace, opts.name);
      if (check(r)) return r;
      // Thrown rather than returned, so waitFor keeps polling and reports the last state seen.
      const { phase, message, currentStepIndex, canary } = r.status ?? {};
      throw new Error(JSON.stringify({ phase, message, step: currentStepIndex, weight: canary?.weight }));
    },
    { description, timeout: opts.timeout ?? 60_000 },
  );
}

export async function setImage(namespace: string, image: string, name = 'web'): Promise<void> {
  await requestJson(kube().kc, {
    method: 'PATCH',
    path: rolloutPath(namespace, name),
    contentType: 'application/json-patch+json',
    body: [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: image }],
  });
}

/**
 * Every canary weight the VirtualService held, in order, from a watch: what traffic actually
 * saw, not what status claims. Consecutive duplicates are collapsed.
 */
export async function recordWeights(namespace: string, name = 'web'): Promise<() => number[]> {
  const changes = await recordWeightChanges(namespace, name);
  return () => changes().map((c) => c.weight);
}

/** As recordWeights, with the time (ms since the epoch) each weight was seen. */
export async function recordWeightChanges(
  namespace: string,
  name = 'web',
): Promise<() => { weight: number; at: number }[]> {
  const seen: { weight: number; at: number }[] = [];
  const informer = new ResilientInformer<VirtualService & KubernetesObject>(
    kubeSource(kube().kc, `/apis/networking.istio.io/v1/namespaces/${namespace}/virtualservices`),
    { name: 'test-vs' },
  );
  informer.onChange((vs) => {
    if (vs.metadata?.name !== name) return;
    const weight = vs.spec.http?.[0]?.route?.[1]?.weight ?? 0;
    if (seen.at(-1)?.weight !== weight) seen.push({ weight, at: Date.now() });
  });
  informer.start();
  await informer.waitForSync();
  onTestFinished(() => informer.stop());
  return () => [...seen];
}

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** Runs `kubectl sluice ARGV -n NAMESPACE` in-process, as the sandbox's admin. */
export async function kubectlSluice(namespace: string, ...argv: string[]): Promise<CliRun> {
  const { main } = await import('../../cli/kubectl-sluice-main.ts');
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (t) => out.push(t), err: (t) => err.push(t), now: () => new Date(), isTTY: false };
  const code = await main([...argv, '-n', namespace, '--kubeconfig', sandbox().KUBECONFIG], io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** The Rollout's ReplicaSets, by revision label. */
export async function replicaSets(namespace: string, name = 'web'): Promise<Map<string, V1ReplicaSet>> {
  const list = await kube().apps.listNamespacedReplicaSet({
    namespace,
    labelSelector: `${ROLLOUT_LABEL}=${name}`,
  });
  return new Map(list.items.map((rs) => [rs.metadata?.labels?.[REVISION_LABEL] ?? '', rs]));
}

/** Replicas the ReplicaSet of `revision` asks for (undefined when it does not exist). */
export async function replicasOfRevision(namespace: string, revision: string | undefined, name = 'web') {
  return (await replicaSets(namespace, name)).get(revision ?? '')?.spec?.replicas;
}

export function getService(namespace: string, name: string): Promise<V1Service> {
  return kube().core.readNamespacedService({ namespace, name });
}

/** The revision a Service selects through Sluice's one selector key. */
export async function selectedRevision(namespace: string, service: string): Promise<string | undefined> {
  return (await getService(namespace, service)).spec?.selector?.[REVISION_LABEL];
}

/** The canary weight of the first http route (the second destination). */
export async function canaryWeight(namespace: string, name = 'web'): Promise<number> {
  const vs = await getVirtualService(namespace, name);
  return vs.spec.http?.[0]?.route?.[1]?.weight ?? 0;
}

export interface KubeEvent {
  reason?: string;
  type?: string;
  note?: string;
  reportingInstance?: string;
  reportingController?: string;
  regarding?: { name?: string; kind?: string };
}

/** events.k8s.io/v1 Events in the namespace, oldest first. */
export async function events(namespace: string): Promise<KubeEvent[]> {
  const list = await requestJson<{ items: KubeEvent[] }>(kube().kc, {
    method: 'GET',
    path: `/apis/events.k8s.io/v1/namespaces/${namespace}/events`,
  });
  return list.items;
}

/** Waits for an Event with `reason` about the Rollout; returns it. */
export function waitForEvent(namespace: string, reason: string, timeout = 30_000): Promise<KubeEvent> {
  return waitFor(
    async () => (await events(namespace)).find((e) => e.reason === reason && e.regarding?.kind === 'Rollout'),
    { description: `an Event ${reason} in ${namespace}`, timeout },
  );
}

/** The condition of `type` in the Rollout's status. */
export function condition(r: Rollout, type: string) {
  return r.status?.conditions?.find((c) => c.type === type);
}
