import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type V1ConfigMap,
  type V1Pod,
} from '@kubernetes/client-node';
import { parseLoad, parseProfiles } from './config.ts';
import type {
  DestinationRule,
  HttpRoute,
  HttpRouteObject,
  HttpRouteRule,
  ParentRef,
  Pod,
  Service,
  VirtualService,
  World,
} from './types.ts';
import { workloadName } from './workload.ts';

const ISTIO = { group: 'networking.istio.io', version: 'v1' };
const GATEWAY_API = { group: 'gateway.networking.k8s.io', version: 'v1' };

export const SANDBOX_NAMESPACE = 'sluice-sandbox';
export const LOAD_CONFIGMAP = 'traffic-load';
export const PROFILES_CONFIGMAP = 'traffic-profiles';

export interface Snapshot {
  world: World;
  problems: string[];
  /** Changes whenever any object the world was built from changes; lets callers skip recompiling. */
  fingerprint: string;
}

/**
 * Reads everything routing depends on with plain lists rather than informers: a full
 * re-read each period cannot drift or hang (client-node 1.4 watches can stall silently),
 * and at sandbox scale a list is a few milliseconds on loopback.
 */
export class ClusterReader {
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;

  constructor(kc: KubeConfig) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.custom = kc.makeApiClient(CustomObjectsApi);
  }

  async read(): Promise<Snapshot> {
    const [pods, services, vsList, drList, routeList, loadMap, profileMap] = await Promise.all([
      this.core.listPodForAllNamespaces(),
      this.core.listServiceForAllNamespaces(),
      this.listCustom<RawVirtualService>(ISTIO, 'virtualservices'),
      this.listCustom<RawDestinationRule>(ISTIO, 'destinationrules'),
      this.listCustom<RawHttpRoute>(GATEWAY_API, 'httproutes'),
      this.configMap(LOAD_CONFIGMAP),
      this.configMap(PROFILES_CONFIGMAP),
    ]);
    const versions = (items: { metadata?: { uid?: string; resourceVersion?: string } }[]) =>
      items.map((i) => `${i.metadata?.uid}:${i.metadata?.resourceVersion}`).join(',');
    const fingerprint = [
      versions(pods.items),
      versions(services.items),
      versions(vsList),
      versions(drList),
      versions(routeList),
      loadMap?.metadata?.resourceVersion,
      profileMap?.metadata?.resourceVersion,
    ].join('|');
    const loadData = loadMap?.data;
    const profileData = profileMap?.data;
    const virtualServices = vsList.map(toVirtualService);
    const load = parseLoad(loadData);
    const profiles = parseProfiles(profileData);
    const world: World = {
      pods: pods.items.map(toPod),
      services: services.items.map(
        (s): Service => ({
          name: s.metadata?.name ?? '',
          namespace: s.metadata?.namespace ?? '',
          selector: s.spec?.selector,
        }),
      ),
      virtualServices,
      destinationRules: drList.map(toDestinationRule),
      httpRoutes: routeList.map(toHttpRoute),
      load: load.value,
      profiles: profiles.value,
    };
    return { world, problems: [...load.problems, ...profiles.problems], fingerprint };
  }

  private async listCustom<T>(api: { group: string; version: string }, plural: string): Promise<T[]> {
    try {
      const list = (await this.custom.listClusterCustomObject({ ...api, plural })) as { items?: T[] };
      return list.items ?? [];
    } catch (err) {
      // Before Istio's or the Gateway API's CRDs are installed there are simply none.
      if (err instanceof ApiException && err.code === 404) return [];
      throw err;
    }
  }

  private async configMap(name: string): Promise<V1ConfigMap | undefined> {
    try {
      return await this.core.readNamespacedConfigMap({ name, namespace: SANDBOX_NAMESPACE });
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) return undefined;
      throw err;
    }
  }
}

function toDestinationRule(dr: RawDestinationRule): DestinationRule {
  return {
    name: dr.metadata?.name ?? '',
    namespace: dr.metadata?.namespace ?? '',
    host: dr.spec?.host ?? '',
    subsets: (dr.spec?.subsets ?? []).map((s) => ({ name: s.name ?? '', labels: s.labels ?? {} })),
  };
}

interface RawDestinationRule {
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
  spec?: { host?: string; subsets?: { name?: string; labels?: Record<string, string> }[] };
}

function toVirtualService(vs: RawVirtualService): VirtualService {
  return {
    name: vs.metadata?.name ?? '',
    namespace: vs.metadata?.namespace ?? '',
    hosts: vs.spec?.hosts ?? [],
    http: vs.spec?.http ?? [],
  };
}

interface RawVirtualService {
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
  spec?: { hosts?: string[]; http?: HttpRoute[] };
}

function toHttpRoute(r: RawHttpRoute): HttpRouteObject {
  return {
    name: r.metadata?.name ?? '',
    namespace: r.metadata?.namespace ?? '',
    ...(r.metadata?.creationTimestamp ? { creationTimestamp: rfc3339(r.metadata.creationTimestamp) } : {}),
    parentRefs: r.spec?.parentRefs ?? [],
    hostnames: r.spec?.hostnames ?? [],
    // Stored objects carry the CRD's defaults (a rule matching `/`, weight 1); routing
    // applies the same defaults again for worlds built by hand.
    rules: r.spec?.rules ?? [],
  };
}

// Custom objects arrive as JSON strings, but a Date would sort wrongly as String(date).
function rfc3339(t: string | Date): string {
  return t instanceof Date ? t.toISOString().replace('.000Z', 'Z') : t;
}

interface RawHttpRoute {
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    creationTimestamp?: string | Date;
  };
  spec?: { parentRefs?: ParentRef[]; hostnames?: string[]; rules?: HttpRouteRule[] };
}

function toPod(p: V1Pod): Pod {
  const labels = p.metadata?.labels ?? {};
  const name = p.metadata?.name ?? '';
  const ready =
    p.status?.phase === 'Running' &&
    !p.metadata?.deletionTimestamp &&
    (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
  const owners = (p.metadata?.ownerReferences ?? []).map((o) => ({
    kind: o.kind,
    name: o.name,
    controller: o.controller ?? false,
  }));
  return {
    name,
    namespace: p.metadata?.namespace ?? '',
    labels,
    ready,
    image: p.spec?.containers?.[0]?.image ?? '',
    workload: workloadName(name, labels, owners),
  };
}
