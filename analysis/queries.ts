// Istio's standard metrics as PromQL (as Flagger's builtin Istio observer uses them), and the
// one safe way to put a user's value into a query. The builtin gates count requests instead of
// reading these ratios (analysis/absolute.ts); the ratios are what a person graphs (the demo).

/**
 * Escapes a value for the inside of a double-quoted PromQL string (a label matcher value).
 * PromQL strings use Go's escapes: backslash and the quote must be escaped, and a raw newline
 * is not allowed. With these escaped a value can never close the string and add selectors or
 * operators (`web"} or vector(1) #` stays one label value). Prometheus' lexer refuses a literal
 * U+FFFD as an invalid rune (it cannot tell it from a decoding error), so it and lone surrogates,
 * which UTF-8 encoding turns into U+FFFD, go as the `\ufffd` escape it accepts.
 */
export function escapeLabelValue(value: string): string {
  return value
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r')
    .replace(/\t/g, '\\t')
    .replace(/[\ufffd\ud800-\udfff]/gu, '\\ufffd');
}

/** A PromQL range duration from milliseconds: whole seconds, at least 1s. */
export function promDuration(ms: number): string {
  return `${Math.max(1, Math.round(ms / 1000))}s`;
}

export interface Destination {
  /**
   * The Kubernetes Service receiving the traffic under test (canary or preview). Under subset
   * routing, where both revisions sit behind one Service, only the side's name in messages.
   */
  service: string;
  namespace: string;
  /**
   * The canonical revision (Istio's `destination_canonical_revision`, from the pod label
   * `service.istio.io/canonical-revision`) that tells this side from the other when both share
   * one Service (subset routing).
   */
  revision?: string;
}

/**
 * Istio's series of one side. With a revision the Service is left out: the revision alone names
 * the pods in the namespace, and the shared Service name would match both sides.
 */
export const selector = (d: Destination, extra = '') => {
  const where = `reporter="destination",destination_service_namespace="${escapeLabelValue(d.namespace)}"`;
  return d.revision === undefined
    ? `${where},destination_service_name="${escapeLabelValue(d.service)}"${extra}`
    : `${where},destination_canonical_revision="${escapeLabelValue(d.revision)}"${extra}`;
};

/**
 * Percent of requests answered without a 5xx over the window: non-5xx / all × 100. A canary
 * failing every request has no non-5xx series at all, so the numerator falls back to 0 (else
 * the worst case would read as "no data"); no traffic at all still gives no data.
 */
export function successRateQuery(d: Destination, windowMs: number): string {
  const w = promDuration(windowMs);
  return (
    `(sum(rate(istio_requests_total{${selector(d, ',response_code!~"5.."')}}[${w}])) or on() vector(0))` +
    ` / sum(rate(istio_requests_total{${selector(d)}}[${w}])) * 100`
  );
}

/** p99 request duration in milliseconds over the window. */
export function latencyP99Query(d: Destination, windowMs: number): string {
  const w = promDuration(windowMs);
  return `histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{${selector(d)}}[${w}])))`;
}

/** Thrown when a query references an argument no one gave a value. */
export class UnknownArgError extends Error {
  constructor(
    readonly arg: string,
    message: string,
  ) {
    super(message);
    this.name = 'UnknownArgError';
  }
}

const ARG = /\{\{\s*args\.([A-Za-z0-9_.-]+)\s*\}\}/g;

/**
 * Replaces every `{{args.NAME}}` with its value, escaped as a PromQL string body. Values are
 * meant for label matchers (`{service="{{args.service}}"}`); numbers and durations pass
 * through unchanged because escaping only touches backslashes, quotes and control characters.
 */
export function substituteArgs(
  query: string,
  args: Record<string, string | undefined>,
  /** PromQL by default; a web request or a Job takes the value as written. */
  quote: (value: string) => string = escapeLabelValue,
): string {
  return query.replace(ARG, (_, name: string) => {
    const value = args[name];
    if (value === undefined) {
      throw new UnknownArgError(
        name,
        Object.hasOwn(args, name)
          ? `argument "${name}" has no value (give it one in the gate's args)`
          : `argument "${name}" is not declared`,
      );
    }
    return quote(value);
  });
}

/** Every string inside a JSON value (a web metric's jsonBody, a Job) with its args substituted as written. */
export function substituteDeep<T>(value: T, args: Record<string, string | undefined>): T {
  if (typeof value === 'string') return substituteArgs(value, args, (v) => v) as T;
  if (Array.isArray(value)) return value.map((v) => substituteDeep(v, args)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteDeep(v, args)])) as T;
  }
  return value;
}
