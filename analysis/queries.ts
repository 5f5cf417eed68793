// The builtin ratios as PromQL in a metrics flavour (analysis/flavour.ts), and args put into a
// user's query. The builtin gates count requests instead of reading these ratios
// (analysis/absolute.ts); the ratios are what a person graphs (the demo).

import { type Flavour, ISTIO } from './flavour.ts';
import { type Destination, escapeLabelValue, promDuration } from './promql.ts';

export { type Destination, escapeLabelValue, promDuration } from './promql.ts';

/** Istio's series of one side (the Istio flavour's selector, kept under its old name). */
export const selector = ISTIO.select;

/**
 * Percent of requests answered without a 5xx over the window: non-5xx / all × 100. A canary
 * failing every request has no non-5xx series at all, so the numerator falls back to 0 (else
 * the worst case would read as "no data"); no traffic at all still gives no data.
 */
export function successRateQuery(d: Destination, windowMs: number, flavour: Flavour = ISTIO): string {
  const w = promDuration(windowMs);
  const m = flavour.requests;
  return (
    `(sum(rate(${m}{${flavour.select(d, flavour.notError)}}[${w}])) or on() vector(0))` +
    ` / sum(rate(${m}{${flavour.select(d)}}[${w}])) * 100`
  );
}

/** p99 request duration in milliseconds over the window. */
export function latencyP99Query(d: Destination, windowMs: number, flavour: Flavour = ISTIO): string {
  const w = promDuration(windowMs);
  return `histogram_quantile(0.99, sum by (le) (rate(${flavour.buckets}{${flavour.select(d)}}[${w}])))`;
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
