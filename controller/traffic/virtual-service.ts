// Pure reading and editing of Istio VirtualService weights. Only the weights of the routes a
// Rollout names are ever touched; everything else in the object stays as its author wrote it.
import type { StringMatch } from '../../crds/index.ts';
import type { RequestRoutes, Session } from '../../machines/desired.ts';
import { holds } from './in-place.ts';
import { cookiePattern, isOurCookie, isStickyName, mirrorNames, setCookie, stickyName } from './sticky.ts';

export interface Destination {
  host: string;
  subset?: string;
  port?: unknown;
}
export interface RouteDestination {
  destination: Destination;
  weight?: number;
  [key: string]: unknown;
}
export interface HttpRoute {
  name?: string;
  route?: RouteDestination[];
  [key: string]: unknown;
}
/** A TLS or TCP route: weights only, no names and no request matches Sluice could add to. */
export interface L4Route {
  route?: RouteDestination[];
  [key: string]: unknown;
}

/** The sections of a VirtualService whose routes carry weighted destinations. */
type Section = 'http' | 'tls' | 'tcp';

export interface VirtualService {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; [key: string]: unknown };
  spec: { hosts?: string[]; http?: HttpRoute[]; tls?: L4Route[]; tcp?: L4Route[]; [key: string]: unknown };
}

/** One side of the split: a Service (host-level routing) or a DestinationRule subset. */
export interface Backend {
  host?: string;
  subset?: string;
}

export interface Split {
  /** Route names to change; all routes holding both backends when absent. */
  routes?: string[];
  stable: Backend;
  canary: Backend;
  /**
   * baselineService: a third destination Sluice adds to each route while a release runs and
   * takes out after, so at rest the routes are the author's two.
   */
  baseline?: { host: string };
}

export type JsonPatchOp =
  | { op: 'test'; path: string; value: unknown }
  | { op: 'replace' | 'add'; path: string; value: unknown };

/** The baseline's weight in the routes (undefined: no baseline destination). */
export type BaselineWeight = number | undefined;

export class RoutingError extends Error {}

/** `checkout`, `checkout.shop`, `checkout.shop.svc` and `checkout.shop.svc.cluster.local` are one Service. */
export function sameService(host: string, service: string, namespace: string): boolean {
  const [name, ns = namespace] = host.split('.');
  return name === service && ns === namespace;
}

function matches(d: Destination, backend: Backend, namespace: string): boolean {
  if (backend.host !== undefined && !sameService(d.host, backend.host, namespace)) return false;
  if (backend.subset !== undefined && d.subset !== backend.subset) return false;
  return true;
}

const describe = (b: Backend) => (b.subset ? `subset '${b.subset}'` : `Service '${b.host}'`);

interface Located {
  section: Section;
  index: number;
  name: string;
  stable: number;
  canary: number;
  /** The baseline destination's index; -1 when the route has none. */
  baseline: number;
  route: RouteDestination[];
}

/** Finds the routes and destination indexes a split applies to, or says precisely what is missing. */
export function locate(vs: VirtualService, split: Split): Located[] {
  const namespace = vs.metadata.namespace ?? 'default';
  const http = vs.spec.http ?? [];
  const where = `VirtualService ${namespace}/${vs.metadata.name}`;
  const pick = (
    route: HttpRoute | L4Route,
    index: number,
    section: Section = 'http',
  ): Located | RoutingError => {
    const name = (route as HttpRoute).name ?? `#${index}`;
    const destinations = route.route ?? [];
    const stable = destinations.findIndex((d) => matches(d.destination, split.stable, namespace));
    const canary = destinations.findIndex((d) => matches(d.destination, split.canary, namespace));
    const baseline = split.baseline
      ? destinations.findIndex((d) => matches(d.destination, split.baseline as Backend, namespace))
      : -1;
    if (stable < 0 || canary < 0 || stable === canary) {
      const missing = stable < 0 ? split.stable : split.canary;
      return new RoutingError(
        `${where}: ${section} route '${name}' has no destination for ${describe(missing)}`,
      );
    }
    if (destinations.length !== (baseline < 0 ? 2 : 3)) {
      return new RoutingError(
        `${where}: ${section} route '${name}' has ${destinations.length} destinations; Sluice splits routes with exactly a stable and a canary destination${split.baseline ? ' (and the baseline it adds)' : ''}`,
      );
    }
    return { section, index, name, stable, canary, baseline, route: destinations };
  };

  if (split.routes && split.routes.length > 0) {
    return split.routes.map((wanted) => {
      const index = http.findIndex((r) => r.name === wanted);
      if (index < 0) {
        const names = http.map((r, i) => r.name ?? `#${i}`).join(', ') || 'none';
        throw new RoutingError(`${where}: http route '${wanted}' not found (routes: ${names})`);
      }
      const found = pick(http[index] as HttpRoute, index);
      if (found instanceof RoutingError) throw found;
      return found;
    });
  }
  // Without names, every route holding both backends: http, and the TLS and TCP routes of a
  // weight-only split (e.g. a database or a gRPC passthrough on the same host).
  const found = (['http', 'tls', 'tcp'] as const)
    .flatMap((section) => (vs.spec[section] ?? []).map((route, i) => pick(route, i, section)))
    .filter((r): r is Located => !(r instanceof RoutingError));
  if (found.length === 0) {
    throw new RoutingError(
      `${where}: no http, tls or tcp route routes to both ${describe(split.stable)} and ${describe(split.canary)}`,
    );
  }
  return found;
}

/** The canary weight the VirtualService holds now; undefined when routes disagree (someone edited one). */
export function currentWeight(vs: VirtualService, split: Split): number | undefined {
  const weights = new Set(locate(vs, split).map((r) => r.route[r.canary]?.weight ?? 0));
  return weights.size === 1 ? [...weights][0] : undefined;
}

/**
 * A JSON Patch setting the canary weight (the baseline its weight, the stable the rest). It
 * starts with a test of resourceVersion so a write based on a stale read fails instead of
 * undoing someone's edit. Empty when the weights are already right.
 */
export function weightPatch(
  vs: VirtualService,
  split: Split,
  canaryWeight: number,
  baselineWeight?: BaselineWeight,
): JsonPatchOp[] {
  const ops: JsonPatchOp[] = [];
  const baseline = split.baseline ? baselineWeight : undefined;
  for (const r of locate(vs, split)) {
    if (r.baseline >= 0 !== (baseline !== undefined)) {
      // The baseline comes or goes: the route's list is written whole, since a removal would
      // shift the indexes of any other op on it.
      ops.push({
        op: 'replace',
        path: `/spec/${r.section}/${r.index}/route`,
        value: withBaseline(r, split, canaryWeight, baseline),
      });
      continue;
    }
    for (const [slot, weight] of [
      [r.stable, 100 - canaryWeight - (baseline ?? 0)],
      [r.canary, canaryWeight],
      [r.baseline, baseline ?? 0],
    ] as const) {
      if (slot < 0) continue;
      const current = r.route[slot]?.weight;
      if (current === weight) continue;
      ops.push({
        op: current === undefined ? 'add' : 'replace',
        path: `/spec/${r.section}/${r.index}/route/${slot}/weight`,
        value: weight,
      });
    }
  }
  if (ops.length === 0) return ops;
  return [{ op: 'test', path: '/metadata/resourceVersion', value: vs.metadata.resourceVersion }, ...ops];
}

/**
 * The route's destinations at these weights, with the baseline put in (last, a copy of the
 * canary's destination but for its host, so port and options are the same) or taken out.
 */
function withBaseline(
  r: Located,
  split: Split,
  canaryWeight: number,
  baseline: BaselineWeight,
): RouteDestination[] {
  const own = r.route.filter((_, i) => i !== r.baseline);
  const weighed = own.map((d) => {
    if (d === r.route[r.canary]) return { ...d, weight: canaryWeight };
    return d === r.route[r.stable] ? { ...d, weight: 100 - canaryWeight - (baseline ?? 0) } : d;
  });
  const canary = r.route[r.canary] as RouteDestination;
  if (baseline === undefined || !split.baseline) return weighed;
  return [
    ...weighed,
    { ...canary, destination: { ...canary.destination, host: split.baseline.host }, weight: baseline },
  ];
}

/** Argo's string match as Istio's (the same three keys). */
const istioMatch = (m: StringMatch) => ({ ...m });

/**
 * The http routes a VirtualService should hold: Sluice's routes by request ahead of the user's
 * own, which keep their order. A header route sends its requests to the canary destination as
 * the user wrote it (host, subset, port); a mirror route serves its requests as the weighted
 * route does, at the same weights, and copies a percent of them to that destination.
 * Undefined when it already holds exactly that.
 */
export function withRequestRoutes(
  vs: VirtualService,
  split: Split,
  routes: RequestRoutes,
  canaryWeight: number,
): HttpRoute[] | undefined {
  const http = vs.spec.http ?? [];
  const session = routes.session;
  const kept = http.filter(
    (r) => !isStickyName(r.name) && (r.name === undefined || !routes.managed.includes(r.name)),
  );
  const { list: theirs, removed } = session
    ? withoutCookies(kept, session.cookieName)
    : { list: kept, removed: false };
  const [first] = locate({ ...vs, spec: { ...vs.spec, http: theirs } }, split);
  const canary = { ...(first?.route[first.canary]?.destination as Destination) };
  const stable = { ...(first?.route[first.stable]?.destination as Destination) };
  const ours: HttpRoute[] = routes.wanted.map((r) =>
    'header' in r
      ? {
          name: r.name,
          match: [
            {
              headers: Object.fromEntries(
                r.header.map((m) => [m.headerName.toLowerCase(), { ...m.headerValue }]),
              ),
            },
          ],
          route: [{ destination: canary, weight: 100 }],
        }
      : {
          name: r.name,
          match: r.mirror.match.map((m) => ({
            ...(m.method && { method: istioMatch(m.method) }),
            ...(m.path && { uri: istioMatch(m.path) }),
            ...(m.headers && {
              headers: Object.fromEntries(
                Object.entries(m.headers).map(([k, v]) => [k.toLowerCase(), istioMatch(v)]),
              ),
            }),
          })),
          route: [
            { destination: stable, weight: 100 - canaryWeight },
            { destination: canary, weight: canaryWeight },
          ],
          mirror: canary,
          mirrorPercentage: { value: r.mirror.percentage },
        },
  );
  let next = [...ours, ...theirs];
  if (session?.revision !== undefined)
    next = withStickyRoutes({ ...vs, spec: { ...vs.spec, http: next } }, split, mirrorNames(routes), {
      ...session,
      revision: session.revision,
    });
  const unwanted = removed && session?.revision === undefined;
  return !unwanted && holds(http, next) ? undefined : next;
}

/** The routes with Sluice's Set-Cookie taken off every destination, and whether there was one. */
function withoutCookies(list: HttpRoute[], cookieName: string): { list: HttpRoute[]; removed: boolean } {
  let removed = false;
  const cleaned = list.map((r) => {
    if (!r.route?.some((d) => isOurCookie(responseAdds(d)?.['set-cookie'], cookieName))) return r;
    removed = true;
    return {
      ...r,
      route: r.route.map((d) =>
        isOurCookie(responseAdds(d)?.['set-cookie'], cookieName)
          ? (without(d, ['headers', 'response', 'add', 'set-cookie']) as RouteDestination)
          : d,
      ),
    };
  });
  return { list: cleaned, removed };
}

/** The object without the value at `path`, and without the parents that held nothing else. */
function without(obj: Record<string, unknown>, [key, ...rest]: string[]): Record<string, unknown> {
  const { [key as string]: inner, ...others } = obj;
  if (rest.length === 0 || inner === null || typeof inner !== 'object') return others;
  const kept = without(inner as Record<string, unknown>, rest);
  return Object.keys(kept).length > 0 ? { ...others, [key as string]: kept } : others;
}

const responseAdds = (d: RouteDestination) =>
  (d.headers as { response?: { add?: Record<string, unknown> } } | undefined)?.response?.add;

/**
 * Each weighted http route (and each mirror route of ours) gets a sticky copy just ahead of it
 * — its matches and the cookie, everything to the canary, no mirror — and its canary
 * destination sets the cookie.
 */
function withStickyRoutes(
  vs: VirtualService,
  split: Split,
  mirrors: string[],
  session: Session & { revision: string },
): HttpRoute[] {
  const http = vs.spec.http ?? [];
  const namespace = vs.metadata.namespace ?? 'default';
  const targets = new Set([
    ...locate(vs, split)
      .filter((l) => l.section === 'http')
      .map((l) => l.index),
    ...http.flatMap((r, i) => (r.name !== undefined && mirrors.includes(r.name) ? [i] : [])),
  ]);
  return http.flatMap((r, i) => {
    const canary = (r.route ?? []).findIndex((d) => matches(d.destination, split.canary, namespace));
    const dest = r.route?.[canary];
    if (!targets.has(i) || !dest) return [r];
    const { mirror: _m, mirrorPercentage: _p, ...copy } = r;
    const conditions = (r.match as Record<string, unknown>[] | undefined)?.length
      ? (r.match as Record<string, unknown>[])
      : [{}];
    const sticky: HttpRoute = {
      ...copy,
      name: stickyName(r.name, i),
      match: conditions.map((m) => ({
        ...m,
        headers: { ...(m.headers as object | undefined), cookie: { regex: cookiePattern(session) } },
      })),
      route: [{ ...dest, weight: 100 }],
    };
    const headers = (dest.headers ?? {}) as { response?: { add?: Record<string, unknown> } };
    const withCookie: RouteDestination = {
      ...dest,
      headers: {
        ...headers,
        response: {
          ...headers.response,
          add: { ...headers.response?.add, 'set-cookie': setCookie(session) },
        },
      },
    };
    return [sticky, { ...r, route: r.route?.map((d, j) => (j === canary ? withCookie : d)) }];
  });
}

/**
 * The weight patch, and the header routes put in place in the same write: a second write to
 * the same object in one pass would fail its resourceVersion test. Reordering routes moves
 * their indexes, so then the whole http list is written once, the user's routes unchanged
 * but for the two weights.
 */
export function routingPatch(
  vs: VirtualService,
  split: Split,
  canaryWeight: number,
  routes: RequestRoutes | undefined,
  baseline?: BaselineWeight,
): JsonPatchOp[] {
  const http = routes && withRequestRoutes(vs, split, routes, canaryWeight);
  if (!http) return weightPatch(vs, split, canaryWeight, baseline);
  const next: VirtualService = { ...vs, spec: { ...structuredClone(vs.spec), http: structuredClone(http) } };
  const weights = weightPatch(next, split, canaryWeight, baseline).filter((op) => op.op !== 'test');
  for (const op of weights) {
    const [, , section, index, , slot] = op.path.split('/');
    const route = next.spec[section as Section]?.[Number(index)];
    const dest = route?.route?.[Number(slot)];
    if (slot === undefined && route) route.route = op.value as RouteDestination[];
    else if (dest) dest.weight = op.value as number;
  }
  // The http list goes whole; TLS and TCP routes keep their places and take only their weights.
  return [
    { op: 'test', path: '/metadata/resourceVersion', value: vs.metadata.resourceVersion },
    { op: 'replace', path: '/spec/http', value: next.spec.http },
    ...weights.filter((op) => !op.path.startsWith('/spec/http/')),
  ];
}
