// A metric provider answers one question: what did this query return at this time? Flagger's
// observers and Argo Rollouts' providers have the same shape; a new backend implements this
// interface and nothing else changes.
import { PrometheusDriver } from 'prometheus-query';
import { splitCredentials } from './address.ts';

export { redactAddress, splitCredentials } from './address.ts';

/** What a query returned, reduced to what conditions need. */
export type QueryResult =
  | { kind: 'value'; value: number }
  | { kind: 'list'; values: number[] }
  /** A web metric's answer may be true or false (`successCondition: result == true`). */
  | { kind: 'bool'; value: boolean }
  /** Empty, NaN or ±Inf: nothing to judge by (no traffic, no series yet). */
  | { kind: 'none'; reason: string };

export interface QueryOptions {
  /** Evaluation time; now when absent. */
  at?: Date;
  /** A builtin gate wants one number: several series are an error, not a list. */
  expect?: 'scalar' | 'any';
}

/** One series of an instant vector, labels kept: compareToStable tells canary from stable by them. */
export interface Sample {
  labels: Record<string, string>;
  value: number;
}

export interface MetricProvider {
  readonly address: string;
  query(query: string, opts?: QueryOptions): Promise<QueryResult>;
  series(query: string, opts?: { at?: Date }): Promise<Sample[]>;
}

/** Why a measurement could not be taken. `unreachable` means the provider never answered. */
export class ProviderError extends Error {
  constructor(
    message: string,
    readonly query: string,
    readonly unreachable: boolean,
    options?: { cause?: unknown; detail?: string },
  ) {
    super(message, options);
    this.name = 'ProviderError';
    this.detail = options?.detail;
  }
  /** The full text behind a short message, for the controller's log only. */
  readonly detail?: string;
}

/** A query as shown in a message: long ones are cut, so the message fits a measurement's 4 KiB. */
const shortQuery = (query: string) =>
  query.length > 600 ? `${query.slice(0, 600)}… (${query.length} characters)` : query;

const isNumberish = (v: unknown): v is number => typeof v === 'number';
const finite = (n: number) => Number.isFinite(n);

/** A Prometheus sample value as Prometheus' JSON carries it: a string, possibly NaN or ±Inf. */
function sampleValue(raw: unknown): number {
  if (isNumberish(raw)) return raw;
  if (typeof raw === 'string') {
    if (raw === '+Inf' || raw === 'Inf') return Number.POSITIVE_INFINITY;
    if (raw === '-Inf') return Number.NEGATIVE_INFINITY;
    return Number(raw);
  }
  return Number.NaN;
}

/**
 * Turns prometheus-query's result into a QueryResult. Exported for tests: it is the rule
 * "NaN, ±Inf and empty are no data; a vector where a scalar is expected says how many series".
 */
export function interpret(
  query: string,
  resultType: string,
  result: unknown,
  expect: 'scalar' | 'any' = 'any',
): QueryResult {
  if (resultType === 'scalar' || resultType === 'string') {
    // prometheus-query returns scalars raw: [time, "value"] (or an object with value).
    const raw = Array.isArray(result) ? result[1] : (result as { value?: unknown } | undefined)?.value;
    const value = sampleValue(raw);
    return finite(value) ? { kind: 'value', value } : { kind: 'none', reason: `the query returned ${raw}` };
  }
  if (resultType === 'vector') {
    const series = (result ?? []) as { value?: { value?: unknown } }[];
    if (series.length === 0) return { kind: 'none', reason: 'the query returned no series' };
    const values = series.map((s) => sampleValue(s.value?.value));
    if (series.length === 1) {
      const value = values[0] as number;
      return finite(value)
        ? { kind: 'value', value }
        : { kind: 'none', reason: `the query returned ${String(value)}` };
    }
    if (expect === 'scalar') {
      throw new ProviderError(
        `query returned ${series.length} series where one value was expected; aggregate it (e.g. sum(...)): ${shortQuery(query)}`,
        query,
        false,
      );
    }
    const usable = values.filter(finite);
    if (usable.length === 0) return { kind: 'none', reason: 'every series returned NaN or Inf' };
    return { kind: 'list', values: usable };
  }
  throw new ProviderError(
    `query returned a ${resultType}, not a scalar or an instant vector: ${shortQuery(query)}`,
    query,
    false,
  );
}

interface PromRejection {
  status?: string;
  errorType?: string;
  error?: string;
  httpStatus?: number;
  code?: string;
  prometheus?: { errorType?: unknown };
}

/**
 * 8 MiB: a Prometheus answer a condition can use is far smaller (10,000 series of a few labels
 * is ~2 MiB of JSON), while a selector like `{__name__=~".+"}` can return gigabytes that would
 * sit in the controller's memory (limit 512 Mi) before anything looks at them.
 */
export const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;
/**
 * 10,000 series: more than any aggregated gate needs, and the list a CEL condition walks stays
 * small enough to judge within its cost limit (analysis/cel-cost.ts).
 */
export const MAX_SERIES = 10_000;

const TOO_MANY_SERIES = 'SLUICE_TOO_MANY_SERIES';

/** The error types Prometheus' API documents; anything else is not a Prometheus answer. */
const PROMETHEUS_ERRORS = new Set([
  'bad_data',
  'execution',
  'timeout',
  'canceled',
  'internal',
  'unavailable',
  'not_found',
]);

/**
 * prometheus-query rejects with plain objects; make them Errors that name the query. The
 * rejection is not kept as the cause: its `original` carries the request, credentials included.
 *
 * `tenant`: the address came from a template, not the admin. Its answer's text is then never
 * shown (status is readable by the tenant, so reflecting it would make Sluice a port scanner
 * and a reader of internal pages): the message says only what kind of failure it was, and the
 * full text is kept in `detail` for the controller's log.
 */
export function toProviderError(address: string, query: string, err: unknown, tenant = false): ProviderError {
  if (err instanceof ProviderError) return err;
  const r = (err ?? {}) as PromRejection;
  const type = r.errorType ?? (err instanceof Error ? err.name : 'unknown');
  const detail = r.error ?? (err instanceof Error ? err.message : String(err));
  const fail = (message: string, unreachable: boolean, shown = message) =>
    new ProviderError(tenant ? shown : message, query, unreachable, { detail });
  if (r.code === TOO_MANY_SERIES) {
    return fail(`${detail}; aggregate the query (e.g. topk, sum by): ${shortQuery(query)}`, false);
  }
  if (/maxContentLength/.test(detail)) {
    return fail(
      `Prometheus at ${address} answered with more than ${MAX_RESPONSE_BYTES / 1024 / 1024} MiB; aggregate the query: ${shortQuery(query)}`,
      false,
    );
  }
  // ERR_CANCELED: our own deadline (the whole request, not just an idle socket) fired.
  if (type === 'timeout_error' || type === 'timeout' || r.code === 'ERR_CANCELED') {
    return fail(
      `Prometheus at ${address} did not answer in time: ${detail}`,
      true,
      `Prometheus at ${address} did not answer in time`,
    );
  }
  if (type === 'network_error') {
    return fail(
      `Prometheus at ${address} cannot be reached: ${detail}`,
      true,
      `Prometheus at ${address} cannot be reached`,
    );
  }
  if (r.httpStatus === 401 || r.httpStatus === 403) {
    return fail(
      `Prometheus at ${address} refused the credentials (HTTP ${r.httpStatus}): check the user and password in its address`,
      false,
    );
  }
  const status = r.httpStatus ? ` (HTTP ${r.httpStatus})` : '';
  // A gateway in front of Prometheus answering for it, or Prometheus still starting.
  const unreachable = r.httpStatus === 502 || r.httpStatus === 503 || r.httpStatus === 504;
  const promType = r.prometheus?.errorType;
  const shown =
    r.httpStatus !== undefined && r.httpStatus >= 300 && r.httpStatus < 400
      ? `Prometheus at ${address} answered HTTP ${r.httpStatus}: redirects are not followed`
      : typeof promType === 'string' && PROMETHEUS_ERRORS.has(promType)
        ? `Prometheus at ${address} rejected the query${status}: ${promType}; the controller's log has its message`
        : `Prometheus at ${address} answered${status || ' something else'}: not a Prometheus answer`;
  return fail(
    `Prometheus rejected the query${status}: ${detail}; query: ${shortQuery(query)}`,
    unreachable,
    shown,
  );
}

export interface PrometheusOptions {
  /** Base URL; `http://user:password@host:9090` for a Prometheus behind basic auth. */
  address: string;
  timeoutMs?: number;
  /** The address came from a template: errors are shown short (see toProviderError). */
  tenant?: boolean;
}

export const DEFAULT_TIMEOUT_MS = 10_000;

export class PrometheusProvider implements MetricProvider {
  private readonly driver: PrometheusDriver;
  readonly address: string;
  private readonly tenant: boolean;

  constructor(opts: PrometheusOptions) {
    const { endpoint, auth } = splitCredentials(opts.address.replace(/\/+$/, ''));
    this.address = endpoint;
    this.tenant = opts.tenant === true;
    const timeout = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.driver = new PrometheusDriver({
      endpoint,
      ...(auth ? { auth } : {}),
      timeout,
      // prometheus-query passes no transport options through, but its interceptor sees the
      // request config: no redirects (a redirect leads wherever its target says, past the
      // allowlist), a cap on the answer's bytes, and a deadline for the whole request (axios'
      // timeout is an idle timer: a server trickling a byte at a time would never hit it).
      requestInterceptor: {
        onFulfilled: (config) => {
          config.maxRedirects = 0;
          config.maxContentLength = MAX_RESPONSE_BYTES;
          config.signal = AbortSignal.timeout(timeout);
          return config;
        },
      },
      responseInterceptor: {
        // Counted before prometheus-query turns every series into objects.
        onFulfilled: (res) => {
          const result = (res.data as { data?: { result?: unknown } } | undefined)?.data?.result;
          if (Array.isArray(result) && result.length > MAX_SERIES) {
            throw Object.assign(
              new Error(`query returned ${result.length} series, more than the limit of ${MAX_SERIES}`),
              { code: TOO_MANY_SERIES },
            );
          }
          return res;
        },
        // A proxy's 401 page is not Prometheus JSON, and prometheus-query would drop the status:
        // give it an error body so the rejection says HTTP 401 rather than "unexpected client error".
        onRejected: (err: { response?: { status: number; statusText: string; data?: unknown } }) => {
          const res = err.response;
          if (res && (typeof res.data !== 'object' || res.data === null))
            res.data = { status: 'error', error: `HTTP ${res.status} ${res.statusText}` };
          throw err;
        },
      },
    });
  }

  private async instant(
    query: string,
    at: Date | undefined,
  ): Promise<{ resultType: string; result: unknown }> {
    try {
      return (await this.driver.instantQuery(query, at)) as never;
    } catch (err) {
      throw toProviderError(this.address, query, err, this.tenant);
    }
  }

  async query(query: string, opts: QueryOptions = {}): Promise<QueryResult> {
    const answer = await this.instant(query, opts.at);
    return interpret(query, answer.resultType, answer.result, opts.expect);
  }

  async series(query: string, opts: { at?: Date } = {}): Promise<Sample[]> {
    const answer = await this.instant(query, opts.at);
    if (answer.resultType !== 'vector') {
      throw new ProviderError(
        `query returned a ${answer.resultType}, not an instant vector: ${shortQuery(query)}`,
        query,
        false,
      );
    }
    const rows = (answer.result ?? []) as { metric?: { labels?: object }; value?: { value?: unknown } }[];
    return rows.map((r) => ({
      labels: { ...(r.metric?.labels ?? {}) } as Record<string, string>,
      value: sampleValue(r.value?.value),
    }));
  }
}

const MAX_PROVIDERS = 256;

/** One provider per address and timeout, reused across measurements. */
export class ProviderPool {
  private readonly providers = new Map<string, MetricProvider>();

  constructor(
    private readonly make: (opts: PrometheusOptions) => MetricProvider = (o) => new PrometheusProvider(o),
  ) {}

  get(address: string, timeoutMs?: number, tenant = false): MetricProvider {
    const key = `${address} ${timeoutMs ?? ''} ${tenant}`;
    let p = this.providers.get(key);
    if (!p) {
      // Tenants choose addresses (any path under an allowed prefix) and timeouts: without a
      // bound, every distinct pair would keep a client for the life of the process.
      if (this.providers.size >= MAX_PROVIDERS) this.providers.clear();
      p = this.make({ address, timeoutMs, ...(tenant ? { tenant } : {}) });
      this.providers.set(key, p);
    }
    return p;
  }
}
