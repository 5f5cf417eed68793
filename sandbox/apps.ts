// Builders for the objects a user writes for a release: shared by the e2e tests, the demo
// and the benchmarks, so all three exercise the same shapes.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Rollout } from '../crds/index.ts';

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
