import type { KubernetesObject } from '@kubernetes/client-node';
import { onTestFinished } from 'vitest';
import { stringify } from 'yaml';
import { requestJson } from '../../controller/kube/client.ts';
import { kubeSource, ResilientInformer } from '../../controller/kube/informer.ts';
import type { VirtualService } from '../../controller/traffic/virtual-service.ts';
import type { Rollout } from '../../crds/index.ts';
import { applyYaml } from '../harness/apply.ts';
import { kube } from '../harness/kube.ts';
import { waitFor } from '../harness/wait.ts';

type Steps = NonNullable<NonNullable<Rollout['spec']['strategy']['canary']>['steps']>;
type Canary = NonNullable<Rollout['spec']['strategy']['canary']>;

export interface CanaryAppOptions {
  name?: string;
  image?: string;
  replicas?: number;
  steps?: Steps;
  canary?: Partial<Canary>;
  virtualService?: boolean;
}

/** The user's side of a host-level canary: two Services, a VirtualService and the Rollout. */
export function canaryApp(namespace: string, o: CanaryAppOptions = {}): KubernetesObject[] {
  const name = o.name ?? 'web';
  const service = (suffix: string) => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: `${name}-${suffix}`, namespace },
    spec: { selector: { app: name }, ports: [{ port: 80 }] },
  });
  const vs = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name, namespace },
    spec: {
      hosts: [name],
      http: [
        {
          name: 'primary',
          retries: { attempts: 2 },
          route: [
            { destination: { host: `${name}-stable` }, weight: 100 },
            { destination: { host: `${name}-canary` }, weight: 0 },
          ],
        },
      ],
    },
  };
  const rollout = {
    apiVersion: 'sluice.dev/v1alpha1',
    kind: 'Rollout',
    metadata: { name, namespace },
    spec: {
      replicas: o.replicas ?? 2,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image: o.image ?? `${name}:1` }] },
      },
      strategy: {
        canary: {
          stableService: `${name}-stable`,
          canaryService: `${name}-canary`,
          trafficRouting: { istio: { virtualService: { name, routes: ['primary'] } } },
          scaleDownDelaySeconds: 1,
          abortScaleDownDelaySeconds: 1,
          steps: o.steps ?? [{ setWeight: 20 }, { pause: { duration: '1s' } }, { setWeight: 50 }],
          ...o.canary,
        },
      },
    },
  };
  return [service('stable'), service('canary'), ...(o.virtualService === false ? [] : [vs]), rollout];
}

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
  const seen: number[] = [];
  const informer = new ResilientInformer<VirtualService & KubernetesObject>(
    kubeSource(kube().kc, `/apis/networking.istio.io/v1/namespaces/${namespace}/virtualservices`),
    { name: 'test-vs' },
  );
  informer.onChange((vs) => {
    if (vs.metadata?.name !== name) return;
    const weight = vs.spec.http?.[0]?.route?.[1]?.weight ?? 0;
    if (seen.at(-1) !== weight) seen.push(weight);
  });
  informer.start();
  await informer.waitForSync();
  onTestFinished(() => informer.stop());
  return () => [...seen];
}
