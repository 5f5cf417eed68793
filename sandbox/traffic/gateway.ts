// Gateway API routing, as the spec text in sigs.k8s.io/gateway-api apis/v1/httproute_types.go
// states it: which HTTPRoute rule a request meets and how its backendRefs split the traffic.
// Pure; `routing.ts` turns the chosen backends into endpoints.
//
// Metrics: Istio's, since Istio implements the Gateway API (sidecars and waypoints for GAMMA
// routes, its gateway for ingress) and reports `istio_requests_total` with the destination
// Service's labels either way; and beside them Envoy Gateway's upstream cluster statistics
// (envoy-metrics.ts), so a gate can read either flavour.

import { fullMatch } from './match.ts';
import type { HttpBackendRef, HttpRouteMatch, HttpRouteObject, HttpRouteRule, LoadClass } from './types.ts';

const isCore = (group: string) => group === '' || group === 'core';

/**
 * A parentRef naming a Service: the GAMMA way of attaching a route to a Service's traffic. Its
 * group defaults to gateway.networking.k8s.io, so a Service parent must say `group: ""`.
 */
export function isServiceParent(ref: { group?: string; kind?: string }): boolean {
  return ref.kind === 'Service' && isCore(ref.group ?? 'gateway.networking.k8s.io');
}

/** A backendRef's group defaults to core and its kind to Service. */
function isServiceBackend(ref: HttpBackendRef): boolean {
  return (ref.kind ?? 'Service') === 'Service' && isCore(ref.group ?? '');
}

/**
 * The routes whose hostnames claim `host`, narrowed to the most specific hostname: an exact
 * name beats any wildcard, a longer wildcard beats a shorter one, as the spec orders them.
 */
export function routesForHostname(routes: HttpRouteObject[], host: string): HttpRouteObject[] {
  const h = host.toLowerCase();
  let best = -1;
  const scored: [HttpRouteObject, number][] = [];
  for (const route of routes) {
    const score = Math.max(-1, ...route.hostnames.map((n) => hostnameScore(n.toLowerCase(), h)));
    if (score < 0) continue;
    scored.push([route, score]);
    best = Math.max(best, score);
  }
  return scored.filter(([, s]) => s === best).map(([r]) => r);
}

/** -1 for no match; exact names score above every wildcard (a hostname has at most 253 characters). */
function hostnameScore(name: string, host: string): number {
  if (name === host) return 1000 + name.length;
  // The spec reads `*.example.com` as a suffix match: `a.example.com` and `a.b.example.com`,
  // never `example.com` itself.
  if (name.startsWith('*.') && host.endsWith(name.slice(1))) return name.length;
  return -1;
}

export interface ChosenRule {
  route: HttpRouteObject;
  rule: HttpRouteRule;
  index: number;
}

/**
 * The rule that takes a request among all rules of the given routes. The spec ranks matches
 * across routes (Exact path, longest PathPrefix, method, most headers, most query params),
 * then the oldest route, then `namespace/name`, then the first rule in list order.
 */
export function chooseRule(routes: HttpRouteObject[], load: LoadClass): ChosenRule | undefined {
  const ordered = [...routes].sort(
    (a, b) =>
      (a.creationTimestamp ?? '').localeCompare(b.creationTimestamp ?? '') ||
      `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`),
  );
  let best: { chosen: ChosenRule; rank: number[] } | undefined;
  for (const route of ordered) {
    route.rules.forEach((rule, index) => {
      for (const m of matchesOf(rule)) {
        if (!matchFits(m, load)) continue;
        const rank = matchRank(m);
        // Strictly better only: earlier routes and rules keep ties.
        if (!best || compareRanks(rank, best.rank) > 0) best = { chosen: { route, rule, index }, rank };
      }
    });
  }
  return best?.chosen;
}

// No `matches` is the API's default: one PathPrefix match on `/`, which every request meets.
const MATCH_ALL: HttpRouteMatch[] = [{ path: { type: 'PathPrefix', value: '/' } }];

function matchesOf(rule: HttpRouteRule): HttpRouteMatch[] {
  return rule.matches?.length ? rule.matches : MATCH_ALL;
}

function matchRank(m: HttpRouteMatch): number[] {
  const type = m.path?.type ?? 'PathPrefix';
  const value = m.path?.value ?? '/';
  // RegularExpression precedence is implementation-specific: here it ranks with a `/` prefix.
  return [
    type === 'Exact' ? 1 : 0,
    type === 'PathPrefix' ? value.length : 0,
    m.method ? 1 : 0,
    m.headers?.length ?? 0,
    m.queryParams?.length ?? 0,
  ];
}

function compareRanks(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function matchFits(m: HttpRouteMatch, load: LoadClass): boolean {
  // Simulated requests carry no query string, so a query-parameter match is never met.
  if (m.queryParams?.length) return false;
  if (m.method && m.method !== load.method.toUpperCase()) return false;
  if (!pathFits(m.path?.type ?? 'PathPrefix', m.path?.value ?? '/', pathOnly(load.path))) return false;
  for (const h of m.headers ?? []) {
    const value = load.headers[h.name.toLowerCase()];
    if (value === undefined) return false;
    if ((h.type ?? 'Exact') === 'Exact' ? value !== h.value : !fullMatch(h.value, value)) return false;
  }
  return true;
}

function pathOnly(path: string): string {
  const q = path.indexOf('?');
  return q < 0 ? path : path.slice(0, q);
}

function pathFits(type: string, value: string, path: string): boolean {
  if (type === 'Exact') return path === value;
  if (type === 'RegularExpression') return fullMatch(value, path);
  // Element by element, a trailing `/` ignored: `/abc` takes `/abc`, `/abc/` and `/abc/d`, not `/abcd`.
  const prefix = value.endsWith('/') ? value.slice(0, -1) : value;
  return path === prefix || path.startsWith(`${prefix}/`);
}

export interface BackendShare {
  ref: HttpBackendRef;
  /** The Service's namespace: the ref's own, else the route's. */
  namespace: string;
  share: number;
  /** Not a core Service: the spec's invalid backend, answered 500. */
  invalidKind: boolean;
  /** Its place in the rule's backendRefs, which Envoy Gateway names clusters by. */
  index: number;
}

/**
 * Each backendRef's share of the rule's traffic: weight / sum of weights, weight defaulting
 * to 1, weight 0 getting nothing. An empty list yields nothing; the caller answers 500, since
 * the spec sends a rule's traffic there when no backend can take it.
 */
export function backendShares(route: HttpRouteObject, rule: HttpRouteRule): BackendShare[] {
  const refs = rule.backendRefs ?? [];
  const weights = refs.map((r) => Math.max(0, r.weight ?? 1));
  const total = weights.reduce((a, b) => a + b, 0);
  if (total === 0) return [];
  return refs.flatMap((ref, i) => {
    const share = (weights[i] ?? 0) / total;
    if (share === 0) return [];
    const namespace = ref.namespace ?? route.namespace;
    return [{ ref, namespace, share, invalidKind: !isServiceBackend(ref), index: i }];
  });
}
