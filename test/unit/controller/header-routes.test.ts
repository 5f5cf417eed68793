import { describe, expect, it } from 'vitest';
import {
  type GatewayRoute,
  type RouteRule,
  routeRoutingPatch,
  routeWeight,
} from '../../../controller/traffic/gateway-route.ts';
import {
  currentWeight,
  routingPatch,
  type VirtualService,
} from '../../../controller/traffic/virtual-service.ts';
import { requestRoutesAt } from '../../../machines/desired.ts';

const beta = { name: 'beta', match: [{ headerName: 'X-Beta', headerValue: { exact: 'yes' } }] };
const betaRoute = { name: 'beta', header: beta.match };
const managed = { wanted: [betaRoute], managed: ['beta'] };

const vs = (): VirtualService => ({
  metadata: { name: 'web', namespace: 'shop', resourceVersion: '3' },
  spec: {
    hosts: ['web'],
    http: [
      { name: 'api', match: [{ uri: { prefix: '/api' } }], route: [{ destination: { host: 'api' } }] },
      {
        name: 'primary',
        retries: { attempts: 2 },
        route: [
          { destination: { host: 'web-stable', port: { number: 80 } }, weight: 80 },
          { destination: { host: 'web-canary', port: { number: 80 } }, weight: 20 },
        ],
      },
    ],
  },
});
const split = { routes: ['primary'], stable: { host: 'web-stable' }, canary: { host: 'web-canary' } };

describe('header routes: which ones a release wants', () => {
  const canary = {
    trafficRouting: { istio: { virtualService: { name: 'web' } } },
    steps: [
      { setHeaderRoute: beta },
      { setWeight: 10 },
      {
        setHeaderRoute: {
          name: 'internal',
          match: [{ headerName: 'x-team', headerValue: { prefix: 'core' } }],
        },
      },
      { setHeaderRoute: { name: 'beta' } },
      { pause: {} },
    ],
  };

  it('the routes of the steps taken, the last of each name winning; none outside a release', () => {
    expect(requestRoutesAt(canary, 0, true)).toEqual({ wanted: [], managed: ['beta', 'internal'] });
    expect(requestRoutesAt(canary, 1, true).wanted).toEqual([betaRoute]);
    expect(requestRoutesAt(canary, 3, true).wanted.map((r) => r.name)).toEqual(['beta', 'internal']);
    expect(requestRoutesAt(canary, 4, true).wanted.map((r) => r.name)).toEqual(['internal']);
    expect(requestRoutesAt(canary, 4, false).wanted).toEqual([]);
  });

  it("managedRoutes' order is the routes' order", () => {
    const ordered = {
      ...canary,
      trafficRouting: { ...canary.trafficRouting, managedRoutes: [{ name: 'internal' }, { name: 'beta' }] },
    };
    expect(requestRoutesAt(ordered, 3, true).wanted.map((r) => r.name)).toEqual(['internal', 'beta']);
  });
});

describe('header routes in a VirtualService', () => {
  it("go ahead of the user's routes, to the canary destination as written; the weight in the same write", () => {
    const ops = routingPatch(vs(), split, 30, managed);
    expect(ops[0]).toEqual({ op: 'test', path: '/metadata/resourceVersion', value: '3' });
    expect(ops[1]?.path).toBe('/spec/http');
    const http = ops[1]?.value as VirtualService['spec']['http'];
    expect(http?.[0]).toEqual({
      name: 'beta',
      match: [{ headers: { 'x-beta': { exact: 'yes' } } }],
      route: [{ destination: { host: 'web-canary', port: { number: 80 } }, weight: 100 }],
    });
    const expected = vs().spec.http ?? [];
    const primary = expected[1]?.route ?? [];
    (primary[0] as { weight: number }).weight = 70;
    (primary[1] as { weight: number }).weight = 30;
    expect(http?.slice(1)).toEqual(expected);
    const applied: VirtualService = { ...vs(), spec: { ...vs().spec, http } };
    expect(currentWeight(applied, split)).toBe(30);
    // Once there, nothing more to write; a release ending removes them and only them.
    expect(routingPatch(applied, split, 30, managed)).toEqual([]);
    const removed = routingPatch(applied, split, 0, { wanted: [], managed: ['beta'] });
    const after = removed[1]?.value as VirtualService['spec']['http'];
    expect(after?.map((r) => r.name)).toEqual(['api', 'primary']);
  });

  it('a TCP route beside them keeps its place and takes the weight in the same write', () => {
    const withTcp = vs();
    withTcp.spec.tcp = [
      {
        route: [
          { destination: { host: 'web-stable' }, weight: 100 },
          { destination: { host: 'web-canary' }, weight: 0 },
        ],
      },
    ];
    const all = { stable: { host: 'web-stable' }, canary: { host: 'web-canary' } };
    const ops = routingPatch(withTcp, all, 30, managed);
    expect(ops.map((o) => o.path)).toEqual([
      '/metadata/resourceVersion',
      '/spec/http',
      '/spec/tcp/0/route/0/weight',
      '/spec/tcp/0/route/1/weight',
    ]);
    expect(withTcp.spec.tcp[0]?.route?.[1]?.weight).toBe(0); // the cached object is not touched
  });

  it('without header routes to manage, only the weights are patched', () => {
    expect(routingPatch(vs(), split, 30, undefined).map((o) => o.path)).toEqual([
      '/metadata/resourceVersion',
      '/spec/http/1/route/0/weight',
      '/spec/http/1/route/1/weight',
    ]);
  });
});

describe('header rules in an HTTPRoute', () => {
  const route = (): GatewayRoute => ({
    metadata: { name: 'web', namespace: 'shop', resourceVersion: '9' },
    spec: {
      parentRefs: [{ group: '', kind: 'Service', name: 'web' }],
      rules: [
        {
          name: 'primary',
          backendRefs: [
            { name: 'web-stable', port: 80, weight: 100 },
            { name: 'web-canary', port: 80, weight: 0 },
          ],
        },
      ],
    },
  });
  const gsplit = { stable: 'web-stable', canary: 'web-canary' };

  it('a rule stored back with sorted keys and the defaults the server fills in is in place: nothing to write', () => {
    const written = routeRoutingPatch('HTTPRoute', route(), gsplit, 0, managed)[1]?.value as RouteRule[];
    const asStored = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(asStored)
        : v !== null && typeof v === 'object'
          ? Object.fromEntries(
              Object.entries(v)
                .sort(([a], [b]) => a.localeCompare(b))
                .map(([k, x]) => [k, asStored(x)]),
            )
          : v;
    const stored = route();
    stored.spec.rules = (asStored(written) as RouteRule[]).map((r) => ({
      ...r,
      backendRefs: r.backendRefs?.map((b) => ({ group: '', kind: 'Service', weight: 1, ...b })),
    }));
    expect(routeRoutingPatch('HTTPRoute', stored, gsplit, 0, managed)).toEqual([]);
    // A key Sluice writes that differs is not in place.
    const edited = structuredClone(stored);
    const [beta] = edited.spec.rules as { matches: { headers: { value: string }[] }[] }[];
    if (beta?.matches[0]?.headers[0]) beta.matches[0].headers[0].value = 'no';
    expect(routeRoutingPatch('HTTPRoute', edited, gsplit, 0, managed)[1]?.path).toBe('/spec/rules');
  });

  it('a prefix becomes a regular expression (the Gateway API has no prefix header match); exact stays exact', () => {
    const routes = {
      wanted: [
        betaRoute,
        { name: 'team', header: [{ headerName: 'x-team', headerValue: { prefix: 'core.v1' } }] },
      ],
      managed: ['beta', 'team'],
    };
    const ops = routeRoutingPatch('HTTPRoute', route(), gsplit, 10, routes);
    const rules = ops[1]?.value as GatewayRoute['spec']['rules'];
    expect(rules?.slice(0, 2)).toEqual([
      {
        name: 'beta',
        matches: [{ headers: [{ type: 'Exact', name: 'X-Beta', value: 'yes' }] }],
        backendRefs: [{ name: 'web-canary', port: 80 }],
      },
      {
        name: 'team',
        matches: [{ headers: [{ type: 'RegularExpression', name: 'x-team', value: 'core\\.v1.*' }] }],
        backendRefs: [{ name: 'web-canary', port: 80 }],
      },
    ]);
    expect(rules?.[2]?.backendRefs?.map((r) => r.weight)).toEqual([90, 10]);
    const applied = { ...route(), spec: { ...route().spec, rules } };
    expect(routeWeight('HTTPRoute', applied, gsplit)).toBe(10);
    expect(routeRoutingPatch('HTTPRoute', applied, gsplit, 10, routes)).toEqual([]);
  });

  it('a mirror rule serves at the weights and copies a percent to the canary; a GRPCRoute gets none', () => {
    const shadow = {
      name: 'shadow',
      mirror: { match: [{ path: { prefix: '/api' }, method: { exact: 'GET' } }], percentage: 25 },
    };
    const ops = routeRoutingPatch('HTTPRoute', route(), gsplit, 10, {
      wanted: [shadow],
      managed: ['shadow'],
    });
    const rules = ops[1]?.value as GatewayRoute['spec']['rules'];
    expect(rules?.[0]).toEqual({
      name: 'shadow',
      matches: [{ path: { type: 'PathPrefix', value: '/api' }, method: 'GET' }],
      filters: [
        {
          type: 'RequestMirror',
          requestMirror: { backendRef: { name: 'web-canary', port: 80 }, percent: 25 },
        },
      ],
      backendRefs: [
        { name: 'web-stable', port: 80, weight: 90 },
        { name: 'web-canary', port: 80, weight: 10 },
      ],
    });
    expect(
      routeRoutingPatch('GRPCRoute', route(), gsplit, 10, { wanted: [shadow], managed: ['shadow'] }).map(
        (o) => o.path,
      ),
    ).toEqual([
      '/metadata/resourceVersion',
      '/spec/rules/0/backendRefs/0/weight',
      '/spec/rules/0/backendRefs/1/weight',
    ]);
  });
});

describe('mirror routes in a VirtualService', () => {
  it('serve at the weights, mirror a percent to the canary destination, and follow the weight', () => {
    const shadow = {
      name: 'shadow',
      mirror: { match: [{ headers: { 'X-Shadow': { exact: '1' } } }], percentage: 40 },
    };
    const routes = { wanted: [shadow], managed: ['shadow'] };
    const ops = routingPatch(vs(), split, 20, routes);
    const http = ops[1]?.value as VirtualService['spec']['http'];
    expect(http?.[0]).toEqual({
      name: 'shadow',
      match: [{ headers: { 'x-shadow': { exact: '1' } } }],
      route: [
        { destination: { host: 'web-stable', port: { number: 80 } }, weight: 80 },
        { destination: { host: 'web-canary', port: { number: 80 } }, weight: 20 },
      ],
      mirror: { host: 'web-canary', port: { number: 80 } },
      mirrorPercentage: { value: 40 },
    });
    const applied: VirtualService = { ...vs(), spec: { ...vs().spec, http } };
    expect(routingPatch(applied, split, 20, routes)).toEqual([]);
    const moved = routingPatch(applied, split, 50, routes)[1]?.value as VirtualService['spec']['http'];
    expect(moved?.[0]?.route?.map((d) => d.weight)).toEqual([50, 50]);
    expect(moved?.[2]?.route?.map((d) => d.weight)).toEqual([50, 50]);
  });

  it('a release takes its mirror route down with its last step of that name', () => {
    const canary = {
      trafficRouting: { istio: { virtualService: { name: 'web' } } },
      steps: [
        { setMirrorRoute: { name: 'shadow', percentage: 30, match: [{ path: { prefix: '/' } }] } },
        { pause: {} },
        { setMirrorRoute: { name: 'shadow' } },
      ],
    };
    expect(requestRoutesAt(canary, 1, true).wanted).toEqual([
      { name: 'shadow', mirror: { match: [{ path: { prefix: '/' } }], percentage: 30 } },
    ]);
    expect(requestRoutesAt(canary, 3, true).wanted).toEqual([]);
  });
});
