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
}

export interface HttpRoute {
  name?: string;
  match?: HttpMatchRequest[];
  route?: RouteDestination[];
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
}

export interface World {
  virtualServices: VirtualService[];
  /** Optional: worlds without subsets need not list any. */
  destinationRules?: DestinationRule[];
  services: Service[];
  pods: Pod[];
  profiles: Map<string, Profile>;
  load: LoadClass[];
}

export const DEFAULT_PROFILE: Profile = { errorRate: 0, latencyMs: { p50: 20, p99: 80 } };
export const CLUSTER_DOMAIN = 'svc.cluster.local';
