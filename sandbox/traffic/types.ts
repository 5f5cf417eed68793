// The simulator's view of the cluster: plain data, so routing and sampling can be tested
// without an API server. `kube.ts` fills it from live objects.

export interface StringMatch {
  exact?: string;
  prefix?: string;
  regex?: string;
}

export interface HttpMatchRequest {
  uri?: StringMatch;
  method?: StringMatch;
  authority?: StringMatch;
  headers?: Record<string, StringMatch>;
  withoutHeaders?: Record<string, StringMatch>;
  ignoreUriCase?: boolean;
}

export interface RouteDestination {
  destination: { host: string; subset?: string; port?: { number?: number } };
  weight?: number;
  /** Only response header additions are read: a Set-Cookie there reaches a session's cookie jar. */
  headers?: { response?: { add?: Record<string, string> } };
}

export interface HttpRoute {
  name?: string;
  match?: HttpMatchRequest[];
  route?: RouteDestination[];
  /** A copy of the requests goes here too; its answers are dropped. */
  mirror?: RouteDestination['destination'];
  /** Percent of the requests copied; all of them when absent. */
  mirrorPercentage?: { value?: number };
}

export interface VirtualService {
  name: string;
  namespace: string;
  hosts: string[];
  http: HttpRoute[];
}

/** The part of an Istio DestinationRule routing reads: which pods each subset of a host is. */
export interface DestinationRule {
  name: string;
  namespace: string;
  host: string;
  subsets: { name: string; labels: Record<string, string> }[];
}

/**
 * The part of a Gateway API HTTPRoute (`gateway.networking.k8s.io/v1`) routing reads. Field
 * names and defaults are the API's; filters, timeouts and query-parameter matches are not kept.
 */
export interface HttpRouteObject {
  name: string;
  namespace: string;
  /** RFC 3339; the API's tie-break between routes is the oldest first. */
  creationTimestamp?: string;
  parentRefs: ParentRef[];
  hostnames: string[];
  rules: HttpRouteRule[];
}

export interface ParentRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
}

export interface HttpRouteRule {
  name?: string;
  matches?: HttpRouteMatch[];
  backendRefs?: HttpBackendRef[];
  /** Only RequestMirror is modelled: a copy of the requests to a Service, answers dropped. */
  filters?: { type?: string; requestMirror?: { backendRef?: HttpBackendRef; percent?: number } }[];
}

export interface HttpRouteMatch {
  path?: { type?: 'Exact' | 'PathPrefix' | 'RegularExpression'; value?: string };
  headers?: { type?: 'Exact' | 'RegularExpression'; name: string; value: string }[];
  /** Held only so that a match on them never fits: the load has no query string. */
  queryParams?: unknown[];
  method?: string;
}

export interface HttpBackendRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
  weight?: number;
  /**
   * ResponseHeaderModifier is read: a Set-Cookie it adds reaches a session's cookie jar. That
   * there are any also matters: Envoy Gateway then gives each backendRef its own cluster.
   */
  filters?: { type?: string; responseHeaderModifier?: { add?: { name: string; value: string }[] } }[];
}

export interface Service {
  name: string;
  namespace: string;
  /** Undefined for a Service without a selector: it has no endpoints we can see. */
  selector: Record<string, string> | undefined;
}

export interface Pod {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  /** Running, Ready and not terminating: what an EndpointSlice would list as ready. */
  ready: boolean;
  image: string;
  /** Istio's destination_workload, derived by `workloadName`. */
  workload: string;
}

/**
 * How a revision's metrics reach Prometheus: as counted, as NaN (a broken exporter), or not at
 * all (the series vanish). Chaos tests use the last two; analysis must never read them as a pass.
 */
export type MetricsExport = 'ok' | 'nan' | 'absent';

export interface Profile {
  errorRate: number;
  latencyMs: { p50: number; p99: number };
  metrics?: MetricsExport;
}

/** One stream of simulated requests: a host plus the request attributes routes match on. */
export interface LoadClass {
  host: string;
  rps: number;
  path: string;
  method: string;
  headers: Record<string, string>;
  /**
   * Clients that keep cookies: the requests are spread over this many sessions, each sending
   * back the cookies its answers set. Without it requests carry no cookies.
   */
  sessions?: number;
}

export interface World {
  virtualServices: VirtualService[];
  /** Optional: worlds without subsets need not list any. */
  destinationRules?: DestinationRule[];
  /** Optional: worlds routed by Istio or by Service name alone need not list any. */
  httpRoutes?: HttpRouteObject[];
  services: Service[];
  pods: Pod[];
  profiles: Map<string, Profile>;
  load: LoadClass[];
}

export const DEFAULT_PROFILE: Profile = { errorRate: 0, latencyMs: { p50: 20, p99: 80 } };
export const CLUSTER_DOMAIN = 'svc.cluster.local';
