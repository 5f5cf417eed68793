// The PromQL pieces every query is built from: the one safe way to put a user's value into a
// query, windows, and the side of a comparison a query is about.

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

/**
 * Escapes RE2's metacharacters, so a name (a route, a cluster, a cookie, a header prefix) matches
 * only itself in a regular expression Sluice writes: Prometheus' `=~` and the header matches
 * of Istio and the Gateway API all take RE2.
 */
export const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

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
  /**
   * Envoy Gateway flavour: the Envoy clusters that carry this side's traffic (one per HTTPRoute
   * or GRPCRoute rule Sluice weighs), as Envoy Gateway names them (docs/analysis.md).
   */
  clusters?: readonly string[];
}
