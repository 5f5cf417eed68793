import { backendShares, chooseRule, isServiceParent, routesForHostname } from './gateway.ts';
import { parseServiceFqdn, qualifyHost, serviceFqdn } from './hosts.ts';
import { fitLognormal, type LatencyModel } from './latency.ts';
import { fullMatch } from './match.ts';
import {
  DEFAULT_PROFILE,
  type DestinationRule,
  type HttpBackendRef,
  type HttpMatchRequest,
  type HttpRoute,
  type HttpRouteObject,
  type HttpRouteRule,
  type LoadClass,
  type MetricsExport,
  type Pod,
  type Profile,
  type RouteDestination,
  type Service,
  type StringMatch,
  type VirtualService,
  type World,
} from './types.ts';

/** Istio's destination labels for one group of identical endpoints (response_code is added per sample). */
export interface DestinationLabels {
  destination_service: string;
  destination_service_name: string;
  destination_service_namespace: string;
  destination_workload: string;
  destination_workload_namespace: string;
  destination_version: string;
  destination_canonical_service: string;
  destination_canonical_revision: string;
}

export type Outcome = (
  | {
      kind: 'pods';
      share: number;
      labels: DestinationLabels;
      errorRate: number;
      latency: LatencyModel;
      metrics?: MetricsExport;
      /** The pods' revision (`sluice.dev/revision`, else pod-template-hash, else image): what a session saw. */
      revision: string;
    }
  | { kind: 'fixed'; share: number; labels: DestinationLabels; code: number; latencyMs: number }
) & {
  /** `name=value` of a cookie the route adds to these answers (Set-Cookie), for clients that keep cookies. */
  setCookie?: string;
  /** Envoy Gateway's cluster for the backendRef, when an HTTPRoute routed the request. */
  envoyCluster?: string;
};

/** Where one load class's requests go, precomputed whenever the world changes. */
export interface Plan {
  load: LoadClass;
  outcomes: Outcome[];
  /**
   * Copies of the requests (a mirror): counted by the destination that receives them, as
   * Envoy's sidecar there does, never as answers the client sees. Share of all the load's requests.
   */
  mirrors?: Outcome[];
  /** Human-readable trail for /debug: which VirtualService and route applied. */
  via: string;
}

const UNKNOWN = 'unknown';

export function compilePlans(world: World): Plan[] {
  return compileRouting(world).plans;
}

/** The plans of the world's load, and a way to plan any other request to it (one with a cookie). */
export function compileRouting(world: World): { plans: Plan[]; planFor(load: LoadClass): Plan } {
  const index = new WorldIndex(world);
  return { plans: world.load.map((load) => index.plan(load)), planFor: (load) => index.plan(load) };
}

/** The `name=value` part of a Set-Cookie value. */
const cookiePart = (v: string | undefined) => v?.split(';')[0]?.trim() || undefined;

const withCookie = (outcomes: Outcome[], setCookie: string | undefined): Outcome[] =>
  setCookie ? outcomes.map((o) => ({ ...o, setCookie })) : outcomes;

/** Istio: `headers.response.add` of a destination; header names are case-insensitive. */
function istioSetCookie(d: RouteDestination): string | undefined {
  const add = d.headers?.response?.add ?? {};
  return cookiePart(Object.entries(add).find(([k]) => k.toLowerCase() === 'set-cookie')?.[1]);
}

/** Gateway API: a backendRef's ResponseHeaderModifier filter. */
function refSetCookie(ref: HttpBackendRef): string | undefined {
  for (const f of ref.filters ?? []) {
    if (f.type !== 'ResponseHeaderModifier') continue;
    const h = (f.responseHeaderModifier?.add ?? []).find((x) => x.name.toLowerCase() === 'set-cookie');
    if (h) return cookiePart(h.value);
  }
  return undefined;
}

class WorldIndex {
  private readonly vsByHost = new Map<string, VirtualService>();
  private readonly vsByShortHost = new Map<string, VirtualService>();
  private readonly drByHost = new Map<string, DestinationRule>();
  /** GAMMA routes by the FQDN of the Service their parentRef names. */
  private readonly httpRoutesByService = new Map<string, HttpRouteObject[]>();
  private readonly hostnameRoutes: HttpRouteObject[] = [];
  private readonly services = new Map<string, Service>();
  private readonly servicesByName = new Map<string, Service>();
  private readonly podsByNamespaceLabel = new Map<string, Pod[]>();
  private readonly readyPodsByNamespace = new Map<string, Pod[]>();
  private readonly groupsByService = new Map<string, Outcome[]>();
  private readonly latencyModels = new Map<string, LatencyModel>();

  constructor(private readonly world: World) {
    // Sorted so that "first wins" on duplicate hosts is stable across list orders.
    const vss = [...world.virtualServices].sort((a, b) =>
      `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`),
    );
    for (const vs of vss) {
      for (const host of vs.hosts) {
        const fq = qualifyHost(host, vs.namespace);
        if (!this.vsByHost.has(fq)) this.vsByHost.set(fq, vs);
        if (!host.includes('.') && !this.vsByShortHost.has(host)) this.vsByShortHost.set(host, vs);
      }
    }
    const drs = [...(world.destinationRules ?? [])].sort((a, b) =>
      `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`),
    );
    for (const dr of drs) {
      const fq = qualifyHost(dr.host, dr.namespace);
      if (!this.drByHost.has(fq)) this.drByHost.set(fq, dr);
    }
    for (const route of world.httpRoutes ?? []) {
      const parents = new Set(
        route.parentRefs
          .filter((p) => isServiceParent(p))
          .map((p) => serviceFqdn(p.name, p.namespace ?? route.namespace)),
      );
      for (const fq of parents) push(this.httpRoutesByService, fq, route);
      if (route.hostnames.length > 0) this.hostnameRoutes.push(route);
    }
    const svcs = [...world.services].sort((a, b) => a.namespace.localeCompare(b.namespace));
    for (const svc of svcs) {
      this.services.set(serviceFqdn(svc.name, svc.namespace), svc);
      if (!this.servicesByName.has(svc.name)) this.servicesByName.set(svc.name, svc);
    }
    for (const pod of world.pods) {
      if (!pod.ready) continue;
      push(this.readyPodsByNamespace, pod.namespace, pod);
      for (const [k, v] of Object.entries(pod.labels))
        push(this.podsByNamespaceLabel, `${pod.namespace}\0${k}=${v}`, pod);
    }
  }

  plan(load: LoadClass): Plan {
    const host = load.host.toLowerCase();
    const isShort = !host.includes('.');
    const vs = isShort ? this.vsByShortHost.get(host) : this.vsByHost.get(qualifyHost(host, 'default'));
    // A VirtualService for the host wins over any HTTPRoute: that is how the simulator routed
    // before it read HTTPRoutes, so Istio-routed tests keep their meaning when a route is added.
    // (Istio itself merges both kinds into one route table; a cluster should use one per host.)
    if (!vs) {
      const svc = isShort ? this.servicesByName.get(host) : undefined;
      const fq = svc ? serviceFqdn(svc.name, svc.namespace) : qualifyHost(host, 'default');
      // Mesh (GAMMA) routes attach to the Service the host resolves to; only when none does do
      // ingress-style routes claim the host by name.
      const gamma = this.httpRoutesByService.get(fq);
      if (gamma) return this.planHttpRoutes(load, gamma, fq);
      const byName = routesForHostname(this.hostnameRoutes, host);
      if (byName.length > 0) return this.planHttpRoutes(load, byName, host);
      return {
        load,
        outcomes: this.destination(fq, 1),
        via: `no VirtualService or HTTPRoute; Service ${fq}`,
      };
    }
    const routeIndex = vs.http.findIndex((r) => routeMatches(r, load));
    const route = vs.http[routeIndex];
    const via = `VirtualService ${vs.namespace}/${vs.name}`;
    if (!route?.route?.length) {
      // Envoy's "no route" answer: 404, attributed to the host that was asked for.
      const fq = qualifyHost(host, vs.namespace);
      const parsed = parseServiceFqdn(fq);
      const labels = unknownWorkload(fq, parsed?.name ?? fq, parsed?.namespace ?? UNKNOWN);
      return {
        load,
        outcomes: [{ kind: 'fixed', share: 1, labels, code: 404, latencyMs: 0.5 }],
        via: `${via}: no route`,
      };
    }
    const dests = route.route;
    const weights = dests.map((d) => d.weight ?? (dests.length === 1 ? 100 : 0));
    const total = weights.reduce((a, b) => a + b, 0);
    const outcomes: Outcome[] = [];
    dests.forEach((d, i) => {
      // Istio rejects all-zero weights; should one slip through, the first destination gets everything.
      const share = total > 0 ? (weights[i] ?? 0) / total : i === 0 ? 1 : 0;
      if (share > 0)
        outcomes.push(
          ...withCookie(
            this.destination(qualifyHost(d.destination.host, vs.namespace), share, d.destination.subset),
            istioSetCookie(d),
          ),
        );
    });
    const mirrored = route.mirror ? (route.mirrorPercentage?.value ?? 100) / 100 : 0;
    const mirrors =
      route.mirror && mirrored > 0
        ? this.destination(qualifyHost(route.mirror.host, vs.namespace), mirrored, route.mirror.subset)
        : [];
    return {
      load,
      outcomes,
      ...(mirrors.length > 0 && { mirrors: mirrors.filter((o) => o.kind === 'pods') }),
      via: `${via} route ${route.name ?? routeIndex}`,
    };
  }

  /** `target` is what 404s and rule-wide 500s are attributed to: the parent Service or the hostname. */
  private planHttpRoutes(load: LoadClass, routes: HttpRouteObject[], target: string): Plan {
    const chosen = chooseRule(routes, load);
    if (!chosen) {
      const names = routes.map((r) => `${r.namespace}/${r.name}`).join(', ');
      return { load, outcomes: [fixedOutcome(target, 1, 404)], via: `HTTPRoute ${names}: no rule matches` };
    }
    const { route, rule, index } = chosen;
    const via = `HTTPRoute ${route.namespace}/${route.name} rule ${rule.name ?? index}`;
    const shares = backendShares(route, rule);
    if (shares.length === 0)
      return { load, outcomes: [fixedOutcome(target, 1, 500)], via: `${via}: no backend` };
    const clusterOf = envoyClusterNamer(route, rule, index);
    const outcomes = shares.flatMap(({ ref, namespace, share, invalidKind, index: j }) => {
      const fq = serviceFqdn(ref.name, namespace);
      // The spec's invalid backendRef (unknown kind, or no such Service) answers 500 for its
      // share, from Envoy Gateway's cluster that does not exist (no upstream stats); a Service
      // without ready endpoints 503, as `destination` does, charged to its cluster as Envoy does.
      if (invalidKind || !this.services.has(fq)) return [fixedOutcome(fq, share, 500)];
      const envoyCluster = clusterOf(j);
      return withCookie(this.destination(fq, share), refSetCookie(ref)).map((o) => ({ ...o, envoyCluster }));
    });
    const mirrors = (rule.filters ?? []).flatMap((f) => {
      const ref = f.type === 'RequestMirror' ? f.requestMirror?.backendRef : undefined;
      if (!ref) return [];
      const fq = serviceFqdn(ref.name, ref.namespace ?? route.namespace);
      return this.destination(fq, (f.requestMirror?.percent ?? 100) / 100).filter((o) => o.kind === 'pods');
    });
    return { load, outcomes, ...(mirrors.length > 0 && { mirrors }), via };
  }

  /**
   * Ready endpoints behind an FQDN (of one DestinationRule subset, when named), split by pod
   * count; a 503 outcome when there are none, as Envoy answers for an empty or unknown subset.
   */
  private destination(fq: string, share: number, subset?: string): Outcome[] {
    const svc = this.services.get(fq);
    let subsetLabels: Record<string, string> | undefined;
    if (subset !== undefined)
      subsetLabels = this.drByHost.get(fq)?.subsets.find((s) => s.name === subset)?.labels;
    const unknownSubset = subset !== undefined && subsetLabels === undefined;
    const groups = svc && !unknownSubset ? this.endpointGroups(svc, subset, subsetLabels) : [];
    if (groups.length === 0) return [fixedOutcome(fq, share, 503)];
    return groups.map((g) => ({ ...g, share: g.share * share }));
  }

  private endpointGroups(
    svc: Service,
    subset?: string,
    subsetLabels: Record<string, string> = {},
  ): Outcome[] {
    const key = `${svc.namespace}/${svc.name}/${subset ?? ''}`;
    const cached = this.groupsByService.get(key);
    if (cached) return cached;
    const wanted = Object.entries(subsetLabels);
    const pods = this.selectReady(svc).filter((p) => wanted.every(([k, v]) => p.labels[k] === v));
    const byGroup = new Map<string, { pod: Pod; count: number }>();
    for (const pod of pods) {
      const version = pod.labels.version ?? UNKNOWN;
      const gk = `${pod.workload}\0${version}\0${canonicalRevision(pod)}\0${pod.image}\0${revisionOf(pod)}`;
      const g = byGroup.get(gk);
      if (g) g.count++;
      else byGroup.set(gk, { pod, count: 1 });
    }
    const fq = serviceFqdn(svc.name, svc.namespace);
    const outcomes: Outcome[] = [...byGroup.values()].map(({ pod, count }) => {
      const profile = this.profileFor(pod.image);
      return {
        kind: 'pods',
        share: count / pods.length,
        labels: {
          destination_service: fq,
          destination_service_name: svc.name,
          destination_service_namespace: svc.namespace,
          destination_workload: pod.workload,
          destination_workload_namespace: pod.namespace,
          destination_version: pod.labels.version ?? UNKNOWN,
          destination_canonical_service: canonicalService(pod),
          destination_canonical_revision: canonicalRevision(pod),
        },
        errorRate: Math.min(1, Math.max(0, profile.errorRate)),
        latency: this.latencyFor(profile),
        revision: revisionOf(pod),
        ...(profile.metrics ? { metrics: profile.metrics } : {}),
      };
    });
    this.groupsByService.set(key, outcomes);
    return outcomes;
  }

  private selectReady(svc: Service): Pod[] {
    const selector = svc.selector;
    if (!selector) return [];
    const entries = Object.entries(selector);
    const first = entries[0];
    // An empty selector selects nothing for Services (unlike Deployments).
    if (!first) return [];
    const candidates = this.podsByNamespaceLabel.get(`${svc.namespace}\0${first[0]}=${first[1]}`) ?? [];
    return candidates.filter((p) => entries.every(([k, v]) => p.labels[k] === v));
  }

  private profileFor(image: string): Profile {
    return this.world.profiles.get(image) ?? this.world.profiles.get(sanitizeKey(image)) ?? DEFAULT_PROFILE;
  }

  private latencyFor(profile: Profile): LatencyModel {
    const key = `${profile.latencyMs.p50}/${profile.latencyMs.p99}`;
    let model = this.latencyModels.get(key);
    if (!model) {
      model = fitLognormal(profile.latencyMs.p50, profile.latencyMs.p99);
      this.latencyModels.set(key, model);
    }
    return model;
  }
}

/** ConfigMap keys cannot hold '/' or ':', so `shop/checkout:1.0` may be listed as `shop_checkout_1.0`. */
export function sanitizeKey(image: string): string {
  return image.replace(/[^-._a-zA-Z0-9]/g, '_');
}

/** Istio's canonical service of a pod: the first of its labels that names one, else the workload. */
export function canonicalService(pod: Pod): string {
  const l = pod.labels;
  return l['service.istio.io/canonical-name'] ?? l['app.kubernetes.io/name'] ?? l.app ?? pod.workload;
}

const revisionOf = (pod: Pod) =>
  pod.labels['sluice.dev/revision'] ?? pod.labels['pod-template-hash'] ?? pod.image;

/** Istio's canonical revision of a pod: the first of its labels that names one, else "latest". */
export function canonicalRevision(pod: Pod): string {
  const l = pod.labels;
  return l['service.istio.io/canonical-revision'] ?? l['app.kubernetes.io/version'] ?? l.version ?? 'latest';
}

/**
 * Envoy Gateway's cluster for backendRef `j` of an HTTPRoute rule: one cluster per rule, its
 * backendRefs as weighted localities, unless a backendRef has filters, which gives each its own
 * (internal/gatewayapi/helpers.go and RouteDestination.NeedsClusterPerSetting in internal/ir/xds.go).
 */
function envoyClusterNamer(
  route: HttpRouteObject,
  rule: HttpRouteRule,
  index: number,
): (j: number) => string {
  const name = `httproute/${route.namespace}/${route.name}/rule/${index}`;
  const perBackend = (rule.backendRefs ?? []).some((r) => (r.filters?.length ?? 0) > 0);
  return (j) => (perBackend ? `${name}/backend/${j}` : name);
}

/** An answer Envoy gives itself (no route, no backend), attributed to the host asked for. */
function fixedOutcome(fq: string, share: number, code: number): Outcome {
  const parsed = parseServiceFqdn(fq);
  const labels = unknownWorkload(fq, parsed?.name ?? fq, parsed?.namespace ?? UNKNOWN);
  return { kind: 'fixed', share, labels, code, latencyMs: 0.5 };
}

function unknownWorkload(fq: string, name: string, namespace: string): DestinationLabels {
  return {
    destination_service: fq,
    destination_service_name: name,
    destination_service_namespace: namespace,
    destination_workload: UNKNOWN,
    destination_workload_namespace: UNKNOWN,
    destination_version: UNKNOWN,
    destination_canonical_service: UNKNOWN,
    destination_canonical_revision: UNKNOWN,
  };
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

export function routeMatches(route: HttpRoute, load: LoadClass): boolean {
  if (!route.match || route.match.length === 0) return true;
  return route.match.some((m) => requestMatches(m, load));
}

function requestMatches(m: HttpMatchRequest, load: LoadClass): boolean {
  if (m.uri && !stringMatches(m.uri, load.path, m.ignoreUriCase ?? false)) return false;
  if (m.method && !stringMatches(m.method, load.method, false)) return false;
  if (m.authority && !stringMatches(m.authority, load.host, false)) return false;
  for (const [name, sm] of Object.entries(m.headers ?? {})) {
    const value = load.headers[name.toLowerCase()];
    if (value === undefined || !stringMatches(sm, value, false)) return false;
  }
  for (const [name, sm] of Object.entries(m.withoutHeaders ?? {})) {
    const value = load.headers[name.toLowerCase()];
    if (value !== undefined && stringMatches(sm, value, false)) return false;
  }
  return true;
}

function stringMatches(sm: StringMatch, value: string, ignoreCase: boolean): boolean {
  const v = ignoreCase ? value.toLowerCase() : value;
  if (sm.exact !== undefined) return v === (ignoreCase ? sm.exact.toLowerCase() : sm.exact);
  if (sm.prefix !== undefined) return v.startsWith(ignoreCase ? sm.prefix.toLowerCase() : sm.prefix);
  if (sm.regex !== undefined) return fullMatch(sm.regex, value);
  // An empty StringMatch (`headers: {x: {}}`) means "present", which the caller already checked.
  return true;
}
