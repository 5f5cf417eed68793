// Builders for the objects a user writes for a release: shared by the e2e tests, the demo
// and the benchmarks, so all three exercise the same shapes.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Rollout } from '../crds/index.ts';

type Steps = NonNullable<NonNullable<Rollout['spec']['strategy']['canary']>['steps']>;
type Canary = NonNullable<Rollout['spec']['strategy']['canary']>;
type BlueGreen = NonNullable<Rollout['spec']['strategy']['blueGreen']>;

export interface CanaryAppOptions {
  name?: string;
  image?: string;
  replicas?: number;
  steps?: Steps;
  canary?: Partial<Canary>;
  virtualService?: boolean;
}

interface AppBase {
  name?: string;
  image?: string;
  replicas?: number;
  /** Other spec fields (revisionHistoryLimit, minReadySeconds, …), as given. */
  spec?: Partial<Omit<Rollout['spec'], 'strategy' | 'template' | 'selector'>>;
}

/** Service `<app>-<role>` selecting the app's pods; Sluice adds the revision key itself. */
const service = (namespace: string, app: string, role: string) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: `${app}-${role}`, namespace },
  spec: { selector: { app }, ports: [{ port: 80 }] },
});

/** A Rollout of app `name` whose pods are labelled app=<name>, with the given strategy. */
function rollout(namespace: string, name: string, o: AppBase, strategy: Rollout['spec']['strategy']) {
  return {
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
      strategy,
      ...o.spec,
    },
  };
}

/** What every canary builder shares: short delays for tests, a default ladder, the caller's overrides last. */
const canaryDefaults = (o: CanaryAppOptions): Partial<Canary> => ({
  scaleDownDelaySeconds: 1,
  abortScaleDownDelaySeconds: 1,
  steps: o.steps ?? [{ setWeight: 20 }, { pause: { duration: '1s' } }, { setWeight: 50 }],
  ...o.canary,
});

export interface CanaryAppOptions extends AppBase {
  steps?: Steps;
  canary?: Partial<Canary>;
  virtualService?: boolean;
}

/** The user's side of a host-level canary: two Services, a VirtualService and the Rollout. */
export function canaryApp(namespace: string, o: CanaryAppOptions = {}): KubernetesObject[] {
  const name = o.name ?? 'web';
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
  const canary = rollout(namespace, name, o, {
    canary: {
      stableService: `${name}-stable`,
      canaryService: `${name}-canary`,
      trafficRouting: { istio: { virtualService: { name, routes: ['primary'] } } },
      ...canaryDefaults(o),
    },
  });
  const services = [service(namespace, name, 'stable'), service(namespace, name, 'canary')];
  return [...services, ...(o.virtualService === false ? [] : [vs]), canary];
}

/**
 * The user's side of a subset-level canary: one Service, a VirtualService splitting between two
 * subsets of it, the DestinationRule defining them (with a traffic policy and a third subset of
 * the user's, which Sluice must leave as written) and the Rollout naming both.
 */
export function subsetApp(namespace: string, o: CanaryAppOptions = {}): KubernetesObject[] {
  const name = o.name ?? 'web';
  const vs = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name, namespace },
    spec: {
      hosts: [name],
      http: [
        {
          name: 'primary',
          route: [
            { destination: { host: name, subset: 'stable' }, weight: 100 },
            { destination: { host: name, subset: 'canary' }, weight: 0 },
          ],
        },
      ],
    },
  };
  const dr = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name, namespace },
    spec: {
      host: name,
      trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' } },
      subsets: [
        { name: 'stable', labels: { app: name } },
        { name: 'canary', labels: { app: name } },
        {
          name: 'debug',
          labels: { app: name, debug: 'true' },
          trafficPolicy: { connectionPool: { tcp: { maxConnections: 5 } } },
        },
      ],
    },
  };
  const canary = rollout(namespace, name, o, {
    canary: {
      trafficRouting: {
        istio: {
          virtualService: { name, routes: ['primary'] },
          destinationRule: { name, stableSubsetName: 'stable', canarySubsetName: 'canary' },
        },
      },
      ...canaryDefaults(o),
    },
  });
  const svc = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: { selector: { app: name }, ports: [{ port: 80 }] },
  };
  return [svc, vs, dr, canary];
}

/**
 * The user's side of a Gateway API canary in the mesh (GAMMA): a front Service `<app>` the
 * clients call, the stable and canary Services, and an HTTPRoute attached to the front Service
 * whose `primary` rule Sluice weighs. A second rule of the user's (a path to the stable only,
 * with a header filter) must stay exactly as written.
 */
export function gatewayApp(namespace: string, o: CanaryAppOptions = {}): KubernetesObject[] {
  const name = o.name ?? 'web';
  const route = {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name, namespace },
    spec: {
      parentRefs: [{ group: '', kind: 'Service', name, port: 80 }],
      rules: [
        {
          name: 'pinned',
          matches: [{ path: { type: 'PathPrefix', value: '/pinned' } }],
          filters: [
            {
              type: 'RequestHeaderModifier',
              requestHeaderModifier: { add: [{ name: 'x-pinned', value: 'yes' }] },
            },
          ],
          backendRefs: [{ name: `${name}-stable`, port: 80 }],
        },
        {
          name: 'primary',
          backendRefs: [
            { name: `${name}-stable`, port: 80, weight: 100 },
            { name: `${name}-canary`, port: 80, weight: 0 },
          ],
        },
      ],
    },
  };
  const canary = rollout(namespace, name, o, {
    canary: {
      stableService: `${name}-stable`,
      canaryService: `${name}-canary`,
      trafficRouting: { gatewayAPI: { httpRoutes: [{ name, rules: ['primary'] }] } },
      ...canaryDefaults(o),
    },
  });
  const front = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: { selector: { app: name }, ports: [{ port: 80 }] },
  };
  return [front, service(namespace, name, 'stable'), service(namespace, name, 'canary'), route, canary];
}

export interface BlueGreenAppOptions extends AppBase {
  blueGreen?: Partial<BlueGreen>;
}

/** The user's side of a blue-green release: an active and a preview Service and the Rollout. */
export function blueGreenApp(namespace: string, o: BlueGreenAppOptions = {}): KubernetesObject[] {
  const name = o.name ?? 'web';
  const bg = rollout(namespace, name, o, {
    blueGreen: {
      activeService: `${name}-active`,
      previewService: `${name}-preview`,
      scaleDownDelaySeconds: 1,
      abortScaleDownDelaySeconds: 1,
      ...o.blueGreen,
    },
  });
  return [service(namespace, name, 'active'), service(namespace, name, 'preview'), bg];
}

/** The API path of a namespaced object, for create/apply by path (plural = lower-case kind + s). */
export function objectPath(obj: KubernetesObject): string {
  const apiVersion = obj.apiVersion ?? 'v1';
  const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  return `${base}/namespaces/${obj.metadata?.namespace}/${obj.kind?.toLowerCase()}s/${obj.metadata?.name}`;
}
