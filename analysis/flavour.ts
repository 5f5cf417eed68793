// Metrics flavours: which data plane's statistics the builtin gates (successRate, latencyP99,
// compareToStable) read. One object per flavour says the series, how one side is selected, and
// how a sample of the answer is read back (its side, whether it is an error); every query and
// parser is written once over this shape. Pure. Names and labels: docs/analysis.md, "Flavours".
import type { BuiltinMetrics } from '../crds/index.ts';
import type { Side } from './compare/queries.ts';
import { type Destination, escapeLabelValue, escapeRegex } from './promql.ts';

/** A flavour's name as a gate's `builtinMetrics` says it. */
export type FlavourName = BuiltinMetrics;

type Labels = Readonly<Record<string, string>>;

export interface Flavour {
  name: FlavourName;
  /** The request counter, one series per side and status. */
  requests: string;
  /** The request-duration histogram's buckets (milliseconds, with `le`). */
  buckets: string;
  /** The label the request counter splits status by. */
  status: string;
  /** A matcher (with its leading comma) keeping the requests that were not 5xx. */
  notError: string;
  /** One side's series: the inside of a selector's braces, `extra` matchers appended. */
  select(d: Destination, extra?: string): string;
  /** The labels an answer grouped by side carries (for `sum by`). */
  sideLabels(canary: Destination, stable: Destination): string;
  /** One side's vector, marked so the answer tells whose it is. */
  tag(vector: string, d: Destination): string;
  /** Whether a sample of an answer is the side's. */
  belongsTo(labels: Labels, side: Side): boolean;
  /** Whether a request-count sample counts 5xx answers. */
  isError(labels: Labels): boolean;
}

/**
 * Istio's standard metrics, as Flagger's Istio observer reads them. With a revision the Service
 * is left out: the revision alone names the pods in the namespace, and the shared Service name
 * would match both sides.
 */
export const ISTIO: Flavour = {
  name: 'istio',
  requests: 'istio_requests_total',
  buckets: 'istio_request_duration_milliseconds_bucket',
  status: 'response_code',
  notError: ',response_code!~"5.."',
  select(d, extra = '') {
    const where = `reporter="destination",destination_service_namespace="${escapeLabelValue(d.namespace)}"`;
    return d.revision === undefined
      ? `${where},destination_service_name="${escapeLabelValue(d.service)}"${extra}`
      : `${where},destination_canonical_revision="${escapeLabelValue(d.revision)}"${extra}`;
  },
  // The revision joins only when a side has one, so the queries stored in runs (and read by
  // people) stay as they were without subset routing.
  sideLabels: (canary, stable) =>
    canary.revision === undefined && stable.revision === undefined
      ? 'destination_service_name'
      : 'destination_service_name, destination_canonical_revision',
  tag: (vector) => vector,
  belongsTo: (labels, { service, revision }) =>
    revision === undefined
      ? labels.destination_service_name === service
      : labels.destination_canonical_revision === revision,
  isError: (labels) => /^5/.test(labels.response_code ?? ''),
};

/** The label Envoy Gateway queries add to say which Service a cluster's series belong to. */
export const ENVOY_SIDE_LABEL = 'sluice_service';

/**
 * Envoy's upstream cluster statistics as Envoy Gateway's proxies export them. Envoy's clusters
 * know no Kubernetes Service: a side is the set of clusters that carry its backendRefs, and each
 * side's vector is marked with its Service name (label_replace) so the answer can be read as
 * Istio's is. An empty set selects nothing (every one of these series has a cluster name).
 */
export const ENVOY_GATEWAY: Flavour = {
  name: 'envoyGateway',
  requests: 'envoy_cluster_upstream_rq_xx',
  buckets: 'envoy_cluster_upstream_rq_time_bucket',
  status: 'envoy_response_code_class',
  notError: ',envoy_response_code_class!="5"',
  select(d, extra = '') {
    const clusters = (d.clusters ?? []).map(escapeRegex).join('|');
    return `envoy_cluster_name=~"${escapeLabelValue(clusters)}"${extra}`;
  },
  sideLabels: () => ENVOY_SIDE_LABEL,
  // label_replace's replacement expands `$name`: a literal `$` is written `$$`.
  tag: (vector, d) =>
    `label_replace(${vector}, "${ENVOY_SIDE_LABEL}", "${escapeLabelValue(d.service.replace(/\$/g, '$$$$'))}", "", "")`,
  belongsTo: (labels, { service }) => labels[ENVOY_SIDE_LABEL] === service,
  isError: (labels) => labels.envoy_response_code_class === '5',
};

export const FLAVOUR: Readonly<Record<FlavourName, Flavour>> = { istio: ISTIO, envoyGateway: ENVOY_GATEWAY };

/** A run's flavour: runs stored before flavours existed read Istio's metrics. */
export const flavourOf = (name: FlavourName | undefined): Flavour => FLAVOUR[name ?? 'istio'];
