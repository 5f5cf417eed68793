// Pure reading and editing of Gateway API route weights (HTTPRoute and GRPCRoute share the
// shape: rules[].backendRefs[].weight). Only the weights of the two backendRefs of the rules a
// Rollout names are ever touched; matches, filters, other rules and parentRefs stay as written.

import { escapeRegex } from '../../analysis/promql.ts';
import type { StringMatch } from '../../crds/index.ts';
import type { RequestRoutes, Session } from '../../machines/desired.ts';
import { holds } from './in-place.ts';
import { cookiePattern, isOurCookie, isStickyName, mirrorNames, setCookie, stickyName } from './sticky.ts';
import { RoutingError, sameService } from './virtual-service.ts';

export interface BackendRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
  weight?: number;
  [key: string]: unknown;
}
export interface RouteRule {
  name?: string;
  backendRefs?: BackendRef[];
  [key: string]: unknown;
}
export interface GatewayRoute {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; [key: string]: unknown };
  spec: { rules?: RouteRule[]; [key: string]: unknown };
}

export type GatewayRouteKind = 'HTTPRoute' | 'GRPCRoute';

export interface RouteSplit {
  /** Rule names to change; every rule holding both Services when absent. */
  rules?: string[];
  stable: string;
  canary: string;
}

export type RoutePatchOp =
  | { op: 'test'; path: string; value: unknown }
  | { op: 'replace' | 'add'; path: string; value: unknown };

/** A backendRef to a Service (the core kind, the default), in the route's namespace unless it says. */
function isService(ref: BackendRef, service: string, namespace: string): boolean {
  if ((ref.group ?? '') !== '' || (ref.kind ?? 'Service') !== 'Service') return false;
  return sameService(ref.namespace ? `${ref.name}.${ref.namespace}` : ref.name, service, namespace);
}

interface Located {
  index: number;
  name: string;
  stable: number;
  canary: number;
  refs: BackendRef[];
}

/** The rules a split applies to, with the index of each backendRef, or precisely what is missing. */
export function locateRules(kind: GatewayRouteKind, route: GatewayRoute, split: RouteSplit): Located[] {
  const namespace = route.metadata.namespace ?? 'default';
  const rules = route.spec.rules ?? [];
  const where = `${kind} ${namespace}/${route.metadata.name}`;
  const pick = (rule: RouteRule, index: number): Located | RoutingError => {
    const name = rule.name ?? `#${index}`;
    const refs = rule.backendRefs ?? [];
    const stable = refs.findIndex((r) => isService(r, split.stable, namespace));
    const canary = refs.findIndex((r) => isService(r, split.canary, namespace));
    if (stable < 0 || canary < 0) {
      const missing = stable < 0 ? split.stable : split.canary;
      return new RoutingError(`${where}: rule '${name}' has no backendRef to Service '${missing}'`);
    }
    if (refs.length !== 2) {
      return new RoutingError(
        `${where}: rule '${name}' has ${refs.length} backendRefs; Sluice splits rules with exactly a stable and a canary backendRef`,
      );
    }
    return { index, name, stable, canary, refs };
  };
  if (split.rules && split.rules.length > 0) {
    return split.rules.map((wanted) => {
      const index = rules.findIndex((r) => r.name === wanted);
      if (index < 0) {
        const names = rules.map((r, i) => r.name ?? `#${i}`).join(', ') || 'none';
        throw new RoutingError(`${where}: rule '${wanted}' not found (rules: ${names})`);
      }
      const found = pick(rules[index] as RouteRule, index);
      if (found instanceof RoutingError) throw found;
      return found;
    });
  }
  const found = rules.map(pick).filter((r): r is Located => !(r instanceof RoutingError));
  if (found.length === 0) {
    throw new RoutingError(
      `${where}: no rule has backendRefs to both Service '${split.stable}' and Service '${split.canary}'`,
    );
  }
  return found;
}

// A backendRef without a weight weighs 1, as the Gateway API says.
const weightOf = (ref: BackendRef | undefined) => ref?.weight ?? 1;

/**
 * The canary's percent of the rules' traffic now; undefined when rules disagree or send nothing
 * (both weights 0), which a pass repairs by writing the weight it wants.
 */
export function routeWeight(
  kind: GatewayRouteKind,
  route: GatewayRoute,
  split: RouteSplit,
): number | undefined {
  const shares = new Set(
    locateRules(kind, route, split).map((r) => {
      const stable = weightOf(r.refs[r.stable]);
      const canary = weightOf(r.refs[r.canary]);
      return stable + canary === 0 ? Number.NaN : Math.round((100 * canary) / (stable + canary));
    }),
  );
  const [only] = [...shares];
  return shares.size === 1 && only !== undefined && !Number.isNaN(only) ? only : undefined;
}

/**
 * A JSON Patch writing the canary weight (the stable gets the rest) as percents, guarded by the
 * resourceVersion so a write based on a stale read fails instead of undoing someone's edit.
 * Empty when the weights already say exactly that.
 */
export function routeWeightPatch(
  kind: GatewayRouteKind,
  route: GatewayRoute,
  split: RouteSplit,
  canaryWeight: number,
): RoutePatchOp[] {
  const ops: RoutePatchOp[] = [];
  for (const r of locateRules(kind, route, split)) {
    for (const [slot, weight] of [
      [r.stable, 100 - canaryWeight],
      [r.canary, canaryWeight],
    ] as const) {
      const current = r.refs[slot]?.weight;
      if (current === weight) continue;
      ops.push({
        op: current === undefined ? 'add' : 'replace',
        path: `/spec/rules/${r.index}/backendRefs/${slot}/weight`,
        value: weight,
      });
    }
  }
  if (ops.length === 0) return ops;
  return [{ op: 'test', path: '/metadata/resourceVersion', value: route.metadata.resourceVersion }, ...ops];
}

type HeaderRule = { type: 'Exact' | 'RegularExpression'; name: string; value: string };

/** Argo's string match as the Gateway API's, which has no prefix: a prefix becomes a regular expression. */
function headerRule(name: string, v: StringMatch): HeaderRule {
  return v.exact !== undefined
    ? { type: 'Exact', name, value: v.exact }
    : { type: 'RegularExpression', name, value: v.regex ?? `${escapeRegex(v.prefix ?? '')}.*` };
}

function pathRule(v: StringMatch) {
  if (v.exact !== undefined) return { type: 'Exact', value: v.exact };
  if (v.prefix !== undefined) return { type: 'PathPrefix', value: v.prefix };
  return { type: 'RegularExpression', value: v.regex ?? '' };
}

/**
 * The rules a route should hold: Sluice's rules by request ahead of the user's, which keep
 * their order. A header rule sends its requests to the canary backendRef as the user wrote it
 * (port included); a mirror rule (HTTPRoutes only: a GRPCRoute gets none) serves its requests
 * at the weights and copies a percent of them to the canary through a RequestMirror filter.
 * Undefined when the route already holds exactly that.
 */
export function withRequestRules(
  kind: GatewayRouteKind,
  route: GatewayRoute,
  split: RouteSplit,
  routes: RequestRoutes,
  canaryWeight: number,
): RouteRule[] | undefined {
  const rules = route.spec.rules ?? [];
  // Cookies are HTTP's: a GRPCRoute gets no sticky rules.
  const session = kind === 'HTTPRoute' ? routes.session : undefined;
  const kept = rules.filter(
    (r) => !isStickyName(r.name) && (r.name === undefined || !routes.managed.includes(r.name)),
  );
  const { list: theirs, removed } = session
    ? withoutCookies(kept, session.cookieName)
    : { list: kept, removed: false };
  const [first] = locateRules(kind, { ...route, spec: { ...route.spec, rules: theirs } }, split);
  const { weight: _c, ...canary } = first?.refs[first.canary] ?? { name: split.canary };
  const { weight: _s, ...stable } = first?.refs[first.stable] ?? { name: split.stable };
  const ours: RouteRule[] = routes.wanted.flatMap((r): RouteRule[] => {
    if ('header' in r)
      return [
        {
          name: r.name,
          matches: [{ headers: r.header.map((m) => headerRule(m.headerName, m.headerValue)) }],
          backendRefs: [{ ...canary }],
        },
      ];
    if (kind !== 'HTTPRoute') return [];
    return [
      {
        name: r.name,
        matches: r.mirror.match.map((m) => ({
          ...(m.path && { path: pathRule(m.path) }),
          ...(m.method?.exact !== undefined && { method: m.method.exact }),
          ...(m.headers && { headers: Object.entries(m.headers).map(([k, v]) => headerRule(k, v)) }),
        })),
        filters: [
          {
            type: 'RequestMirror',
            requestMirror: {
              backendRef: { ...canary },
              percent: r.mirror.percentage,
            },
          },
        ],
        backendRefs: [
          { ...stable, weight: 100 - canaryWeight },
          { ...canary, weight: canaryWeight },
        ],
      },
    ];
  });
  let next = [...ours, ...theirs];
  if (session?.revision !== undefined)
    next = withStickyRules(
      kind,
      { ...route, spec: { ...route.spec, rules: next } },
      split,
      mirrorNames(routes),
      {
        ...session,
        revision: session.revision,
      },
    );
  const unwanted = removed && session?.revision === undefined;
  return !unwanted && holds(rules, next) ? undefined : next;
}

type Filter = { type?: string; responseHeaderModifier?: { add?: { name: string; value: string }[] } };

const ourFilter = (f: Filter, cookieName: string) =>
  f.type === 'ResponseHeaderModifier' &&
  (f.responseHeaderModifier?.add ?? []).some(
    (h) => h.name.toLowerCase() === 'set-cookie' && isOurCookie(h.value, cookieName),
  );

/** The rules with Sluice's Set-Cookie filter taken off every backendRef, and whether there was one. */
function withoutCookies(list: RouteRule[], cookieName: string): { list: RouteRule[]; removed: boolean } {
  let removed = false;
  const cleaned = list.map((r) => {
    if (!r.backendRefs?.some((b) => ((b.filters ?? []) as Filter[]).some((f) => ourFilter(f, cookieName))))
      return r;
    removed = true;
    return {
      ...r,
      backendRefs: r.backendRefs.map((b) => {
        const filters = ((b.filters ?? []) as Filter[]).filter((f) => !ourFilter(f, cookieName));
        const { filters: _, ...ref } = b;
        return filters.length > 0 ? { ...ref, filters } : ref;
      }),
    };
  });
  return { list: cleaned, removed };
}

/**
 * Each weighted rule (and each mirror rule of ours) gets a sticky copy just ahead of it — its
 * matches each with the cookie, the canary backendRef alone, no mirror — and its canary
 * backendRef sets the cookie through a ResponseHeaderModifier filter. A rule with one more
 * header match outranks its original wherever both match, as the Gateway API ranks rules.
 */
function withStickyRules(
  kind: GatewayRouteKind,
  route: GatewayRoute,
  split: RouteSplit,
  mirrors: string[],
  session: Session & { revision: string },
): RouteRule[] {
  const rules = route.spec.rules ?? [];
  const namespace = route.metadata.namespace ?? 'default';
  const targets = new Set([
    ...locateRules(kind, route, split).map((l) => l.index),
    ...rules.flatMap((r, i) => (r.name !== undefined && mirrors.includes(r.name) ? [i] : [])),
  ]);
  const cookie = { type: 'RegularExpression', name: 'Cookie', value: cookiePattern(session) };
  return rules.flatMap((r, i) => {
    const canary = (r.backendRefs ?? []).findIndex((b) => isService(b, split.canary, namespace));
    const ref = r.backendRefs?.[canary];
    if (!targets.has(i) || !ref) return [r];
    const filters = ((r.filters ?? []) as Filter[]).filter((f) => f.type !== 'RequestMirror');
    const { weight: _w, ...canaryRef } = ref;
    const matches = (r.matches as Record<string, unknown>[] | undefined)?.length
      ? (r.matches as Record<string, unknown>[])
      : [{}];
    const { filters: _f, ...rest } = r;
    const sticky: RouteRule = {
      ...rest,
      name: stickyName(r.name, i),
      matches: matches.map((m) => ({ ...m, headers: [...((m.headers as unknown[]) ?? []), cookie] })),
      ...(filters.length > 0 && { filters }),
      backendRefs: [canaryRef],
    };
    const setter: Filter = {
      type: 'ResponseHeaderModifier',
      responseHeaderModifier: { add: [{ name: 'Set-Cookie', value: setCookie(session) }] },
    };
    const withCookie = { ...ref, filters: [...((ref.filters ?? []) as Filter[]), setter] };
    return [sticky, { ...r, backendRefs: r.backendRefs?.map((b, j) => (j === canary ? withCookie : b)) }];
  });
}

/** The weight patch and the header rules in one write (see routingPatch for VirtualServices). */
export function routeRoutingPatch(
  kind: GatewayRouteKind,
  route: GatewayRoute,
  split: RouteSplit,
  canaryWeight: number,
  routes: RequestRoutes | undefined,
): RoutePatchOp[] {
  const rules = routes && withRequestRules(kind, route, split, routes, canaryWeight);
  if (!rules) return routeWeightPatch(kind, route, split, canaryWeight);
  const next: GatewayRoute = { ...route, spec: { ...route.spec, rules: structuredClone(rules) } };
  for (const r of locateRules(kind, next, split)) {
    const stable = r.refs[r.stable];
    const canary = r.refs[r.canary];
    if (stable) stable.weight = 100 - canaryWeight;
    if (canary) canary.weight = canaryWeight;
  }
  return [
    { op: 'test', path: '/metadata/resourceVersion', value: route.metadata.resourceVersion },
    { op: 'replace', path: '/spec/rules', value: next.spec.rules },
  ];
}
