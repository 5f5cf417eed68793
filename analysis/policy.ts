// The admin's bounds on what a tenant's analysis may make the controller do: which Prometheus
// addresses it may query, how long it may wait on one, how often it may measure. A template is
// tenant input (DESIGN.md, principle 7); these rules are checked when a run is built (the run
// fails at once, naming the field and the flag) and again before every measurement (a run
// written before the rules, or by hand, still cannot reach past them).
import type { Metric } from '../crds/index.ts';
import { parseDuration } from '../crds/index.ts';
import { redactAddress } from './address.ts';

export interface AnalysisPolicy {
  /** The controller's --prometheus-url: always allowed, and the only address whose errors are shown in full. */
  defaultAddress?: string;
  /** --prometheus-allowed-urls: URL prefixes a template's provider.prometheus.address may name. */
  allowedPrefixes: readonly string[];
  /** --analysis-max-timeout: the longest a metric may wait on Prometheus or a web address. */
  maxTimeoutMs: number;
  /** --analysis-job-provider: whether `provider.job` may create Jobs at all (off by default). */
  jobs?: boolean;
}

/**
 * 30 s: Prometheus' own default query timeout is 2 min, but a gate that waits longer than its
 * usual 30 s interval only holds an analysis worker that other teams' verdicts need.
 */
export const DEFAULT_MAX_TIMEOUT_MS = 30_000;

/** A measurement at most every second: `interval: 0s` would rewrite a run's status in a hot loop. */
export const MIN_INTERVAL_MS = 1000;

export const ADDRESS_FLAG = '--prometheus-allowed-urls';
export const TIMEOUT_FLAG = '--analysis-max-timeout';
export const JOB_FLAG = '--analysis-job-provider';

export const DEFAULT_POLICY: AnalysisPolicy = { allowedPrefixes: [], maxTimeoutMs: DEFAULT_MAX_TIMEOUT_MS };

const WEB = new Set(['http:', 'https:']);

/** `http://a:9090/x/` and `http://a:9090/x` are one prefix; a path prefix ends at a `/`. */
const withSlash = (path: string) => (path.endsWith('/') ? path : `${path}/`);

/** Parses the comma-separated allowlist flag; throws a message naming the flag on a bad entry. */
export function parseAllowedPrefixes(text: string | undefined): string[] {
  const out: string[] = [];
  for (const raw of (text ?? '').split(',')) {
    const entry = raw.trim();
    if (!entry) continue;
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      throw new Error(`${ADDRESS_FLAG}: '${entry}' is not a URL`);
    }
    if (!WEB.has(url.protocol)) throw new Error(`${ADDRESS_FLAG}: '${entry}' is not http or https`);
    if (url.username || url.password) {
      throw new Error(`${ADDRESS_FLAG}: '${redactAddress(entry)}' carries credentials; give none here`);
    }
    if (url.search || url.hash) throw new Error(`${ADDRESS_FLAG}: '${entry}' has a query or fragment`);
    out.push(`${url.origin}${withSlash(url.pathname)}`);
  }
  return out;
}

/**
 * Whether `address` is inside one of the prefixes. Compared as parsed URLs, never as text:
 * `http://prom:9090.evil.example` must not pass for `http://prom:9090`, nor `/a/../b` for `/a/`.
 */
export function allowedByPrefix(address: string, prefixes: readonly string[]): boolean {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return false;
  }
  if (!WEB.has(url.protocol) || url.username || url.password || url.search || url.hash) return false;
  const here = `${url.origin}${withSlash(url.pathname)}`;
  return prefixes.some((p) => here.startsWith(p));
}

/** Whether a run's metric queries an address the tenant chose (and so sees only short errors). */
export const tenantAddress = (address: string | undefined, policy: AnalysisPolicy): boolean =>
  address !== undefined && !sameAddress(address, policy.defaultAddress);

function sameAddress(a: string, b: string | undefined): boolean {
  if (b === undefined) return false;
  const norm = (s: string) => redactAddress(s).replace(/\/+$/, '');
  return norm(a) === norm(b);
}

/** The metric fields the policy bounds, named as a template writer finds them. */
type Bounded = Pick<Metric, 'interval' | 'provider'>;

/**
 * What in `metric` the policy refuses, or undefined. Named by field and flag, so the tenant
 * knows what to change and whom to ask.
 */
export function policyProblem(metric: Bounded, policy: AnalysisPolicy): string | undefined {
  const problem = providerProblem(metric.provider, policy);
  if (problem) return problem;
  if (metric.interval !== undefined && safeMs(metric.interval) < MIN_INTERVAL_MS) {
    return `interval ${metric.interval} is under the minimum of 1s`;
  }
  return undefined;
}

function providerProblem(provider: Metric['provider'], policy: AnalysisPolicy): string | undefined {
  const { prometheus, web, job } = provider;
  if (prometheus) {
    const { address, timeout } = prometheus;
    if (address !== undefined && !sameAddress(address, policy.defaultAddress)) {
      if (!allowedByPrefix(address, policy.allowedPrefixes))
        return notAllowed('provider.prometheus.address', address, policy);
    }
    if (timeout !== undefined && safeMs(timeout) > policy.maxTimeoutMs)
      return overCap('provider.prometheus.timeout', timeout, policy);
  }
  if (web) {
    if (!webUrlAllowed(web.url, policy)) return notAllowed('provider.web.url', web.url, policy);
    const timeout = web.timeoutSeconds;
    if (timeout !== undefined && timeout * 1000 > policy.maxTimeoutMs) {
      return overCap('provider.web.timeoutSeconds', String(timeout), policy);
    }
  }
  if (job && policy.jobs !== true) {
    return `provider.job is not enabled: the controller creates Jobs for analysis only when the cluster admin starts it with ${JOB_FLAG} (see docs/security.md)`;
  }
  return undefined;
}

const notAllowed = (field: string, address: string, policy: AnalysisPolicy) =>
  `${field} ${redactAddress(address)} is not allowed: the controller queries only its ` +
  `--prometheus-url and the URL prefixes the cluster admin lists in ${ADDRESS_FLAG}` +
  (policy.allowedPrefixes.length === 0 ? ' (none are listed)' : '');

const overCap = (field: string, value: string, policy: AnalysisPolicy) =>
  `${field} ${value} is over the cluster's limit of ${seconds(policy.maxTimeoutMs)} (${TIMEOUT_FLAG})`;

/**
 * A web metric's URL is held to the Prometheus addresses' policy: under `--prometheus-url` or
 * an allowed prefix. Its query string is the request's (`?service=…`), not part of the address
 * compared; a URL carrying credentials is never allowed (they would be copied into every run).
 */
export function webUrlAllowed(url: string, policy: AnalysisPolicy): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.username || parsed.password) return false;
  parsed.search = '';
  parsed.hash = '';
  return allowedByPrefix(parsed.toString(), [...defaultPrefix(policy), ...policy.allowedPrefixes]);
}

/** --prometheus-url as a prefix, without its credentials (never sent to a web metric). */
function defaultPrefix(policy: AnalysisPolicy): string[] {
  if (policy.defaultAddress === undefined) return [];
  try {
    return parseAllowedPrefixes(redactAddress(policy.defaultAddress));
  } catch {
    return [];
  }
}

/**
 * The timeout a measurement really gets: the metric's, else the provider default, never over
 * the cap. Clamped here as well as refused at run start: a run written before the cap was
 * lowered still cannot hold a worker longer than the admin allows.
 */
export function effectiveTimeoutMs(
  timeout: string | undefined,
  fallbackMs: number,
  policy: AnalysisPolicy,
): number {
  const asked = timeout === undefined ? fallbackMs : safeMs(timeout) || fallbackMs;
  return Math.min(asked, policy.maxTimeoutMs);
}

/** Parses a flag's duration; throws a message naming the flag. */
export function parseMaxTimeout(text: string | undefined): number {
  if (text === undefined) return DEFAULT_MAX_TIMEOUT_MS;
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch {
    throw new Error(`${TIMEOUT_FLAG}: '${text}' is not a duration such as 30s or 1m`);
  }
  if (ms < 1) throw new Error(`${TIMEOUT_FLAG}: must be more than 0`);
  return ms;
}

/** A duration already accepted by the schema, or NaN (then no comparison passes or fails on it). */
function safeMs(d: string): number {
  try {
    return parseDuration(d);
  } catch {
    return Number.NaN;
  }
}

const seconds = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);
