import { describe, expect, it } from 'vitest';
import {
  type GatewayRoute,
  routeRoutingPatch,
  routeWeight,
} from '../../../controller/traffic/gateway-route.ts';
import { cookiePattern } from '../../../controller/traffic/sticky.ts';
import {
  currentWeight,
  routingPatch,
  type VirtualService,
} from '../../../controller/traffic/virtual-service.ts';
import { type RequestRoutes, requestRoutesAt } from '../../../machines/desired.ts';
import { fullMatch } from '../../../sandbox/traffic/match.ts';

const session = { cookieName: 'web-canary', maxAgeSeconds: 3600, revision: 'abc123' };
const during: RequestRoutes = { wanted: [], managed: [], session };
const after: RequestRoutes = { wanted: [], managed: [], session: { ...session, revision: undefined } };

/** The object as it is after a patch that replaced its whole route list. */
function applied<T extends { spec: Record<string, unknown> }>(
  obj: T,
  ops: { op: string; path: string; value: unknown }[],
): T {
  const next = structuredClone(obj);
  for (const op of ops) {
    if (op.op === 'test') continue;
    const [, , key] = op.path.split('/');
    if (op.path === `/spec/${key}`) next.spec[key as string] = structuredClone(op.value);
  }
  return next;
}

const vs = (): VirtualService => ({
  metadata: { name: 'web', namespace: 'shop', resourceVersion: '3' },
  spec: {
    hosts: ['web'],
    http: [
      { name: 'api', match: [{ uri: { prefix: '/api' } }], route: [{ destination: { host: 'api' } }] },
      {
        name: 'primary',
        match: [{ uri: { prefix: '/' } }],
        timeout: '5s',
        route: [
          { destination: { host: 'web-stable' }, weight: 80 },
          { destination: { host: 'web-canary' }, weight: 20, headers: { request: { set: { x: '1' } } } },
        ],
      },
    ],
  },
});
const split = { stable: { host: 'web-stable' }, canary: { host: 'web-canary' } };

describe('sessionAffinity: the session wanted', () => {
  const canary = {
    trafficRouting: { istio: { virtualService: { name: 'web' } } },
    sessionAffinity: { cookieName: 'sticky', maxAge: '1h' },
    steps: [{ setWeight: 10 }],
  };
  it("names the canary revision while releasing, and only the cookie's name after", () => {
    expect(requestRoutesAt(canary, 1, true, 'abc').session).toEqual({
      cookieName: 'sticky',
      maxAgeSeconds: 3600,
      revision: 'abc',
    });
    expect(requestRoutesAt(canary, 1, false, 'abc').session).toEqual({
      cookieName: 'sticky',
      maxAgeSeconds: 3600,
    });
    expect(
      requestRoutesAt({ ...canary, sessionAffinity: { cookieName: 's' } }, 1, true, 'x').session
        ?.maxAgeSeconds,
    ).toBe(86_400);
  });
});

describe('sticky sessions in a VirtualService', () => {
  it("a sticky copy goes just ahead of the weighted route; the canary's answers set the cookie; the weight is unchanged", () => {
    const ops = routingPatch(vs(), split, 30, during);
    const next = applied(vs(), ops);
    expect(next.spec.http?.map((r) => r.name)).toEqual(['api', 'sluice-sticky-primary', 'primary']);
    const [, sticky, primary] = next.spec.http ?? [];
    expect(sticky).toEqual({
      name: 'sluice-sticky-primary',
      timeout: '5s',
      match: [{ uri: { prefix: '/' }, headers: { cookie: { regex: cookiePattern(session) } } }],
      route: [
        { destination: { host: 'web-canary' }, weight: 100, headers: { request: { set: { x: '1' } } } },
      ],
    });
    expect(primary?.route?.[1]?.headers).toEqual({
      request: { set: { x: '1' } },
      response: { add: { 'set-cookie': 'web-canary=abc123; Max-Age=3600; Path=/' } },
    });
    expect(currentWeight(next, split)).toBe(30);
    // In place: nothing more to write at that weight; a new weight touches only weights.
    expect(routingPatch(next, split, 30, during)).toEqual([]);
    expect(
      routingPatch(next, split, 50, during).every((op) => op.op === 'test' || op.path.endsWith('/weight')),
    ).toBe(true);
  });

  it('with header and mirror routes: ours first, a mirror route gets its sticky copy too (without the mirror)', () => {
    const routes: RequestRoutes = {
      wanted: [
        { name: 'beta', header: [{ headerName: 'x-beta', headerValue: { exact: 'yes' } }] },
        { name: 'shadow', mirror: { match: [{ path: { prefix: '/' } }], percentage: 50 } },
      ],
      managed: ['beta', 'shadow'],
      session,
    };
    const next = applied(vs(), routingPatch(vs(), split, 10, routes));
    expect(next.spec.http?.map((r) => r.name)).toEqual([
      'beta',
      'sluice-sticky-shadow',
      'shadow',
      'api',
      'sluice-sticky-primary',
      'primary',
    ]);
    const stickyShadow = next.spec.http?.[1];
    expect(stickyShadow && 'mirror' in stickyShadow).toBe(false);
    expect(stickyShadow?.route).toEqual([{ destination: { host: 'web-canary' }, weight: 100 }]);
    expect(next.spec.http?.[2]?.route?.[1]?.headers).toEqual({
      response: { add: { 'set-cookie': 'web-canary=abc123; Max-Age=3600; Path=/' } },
    });
    expect(routingPatch(next, split, 10, routes)).toEqual([]);
    // The release ends: only the author's routes are left.
    const done = applied(
      next,
      routingPatch(next, split, 0, { ...routes, wanted: [], session: after.session }),
    );
    expect(done.spec.http?.map((r) => r.name)).toEqual(['api', 'primary']);
    expect(JSON.stringify(done.spec.http)).not.toContain('set-cookie');
  });

  it('after the release the sticky route and the cookie go, and the route is as its author wrote it', () => {
    const sticky = applied(vs(), routingPatch(vs(), split, 30, during));
    const done = applied(sticky, routingPatch(sticky, split, 0, after));
    const expected = vs();
    (expected.spec.http?.[1]?.route ?? []).forEach((d, i) => {
      d.weight = i === 0 ? 100 : 0;
    });
    expect(done.spec).toEqual(expected.spec);
    expect(routingPatch(done, split, 0, after)).toEqual([]);
  });

  it("the cookie pattern finds the cookie among others, and not another release's", () => {
    const p = cookiePattern(session);
    expect(fullMatch(p, 'web-canary=abc123')).toBe(true);
    expect(fullMatch(p, 'a=1; web-canary=abc123; b=2')).toBe(true);
    expect(fullMatch(p, 'web-canary=abc1234')).toBe(false);
    expect(fullMatch(p, 'xweb-canary=abc123')).toBe(false);
    expect(fullMatch(cookiePattern({ ...session, cookieName: 'a.b' }), 'aXb=abc123')).toBe(false);
  });
});

describe('sticky sessions in an HTTPRoute', () => {
  const route = (): GatewayRoute => ({
    metadata: { name: 'web', namespace: 'shop', resourceVersion: '9' },
    spec: {
      rules: [
        {
          name: 'primary',
          matches: [{ path: { type: 'PathPrefix', value: '/' } }],
          backendRefs: [
            { name: 'web-stable', port: 80, weight: 100 },
            { name: 'web-canary', port: 80, weight: 0 },
          ],
        },
      ],
    },
  });
  const gsplit = { stable: 'web-stable', canary: 'web-canary' };

  it('a sticky rule with one more header match, and a Set-Cookie filter on the canary backendRef', () => {
    const next = applied(route(), routeRoutingPatch('HTTPRoute', route(), gsplit, 10, during));
    expect(next.spec.rules?.map((r) => r.name)).toEqual(['sluice-sticky-primary', 'primary']);
    expect(next.spec.rules?.[0]).toEqual({
      name: 'sluice-sticky-primary',
      matches: [
        {
          path: { type: 'PathPrefix', value: '/' },
          headers: [{ type: 'RegularExpression', name: 'Cookie', value: cookiePattern(session) }],
        },
      ],
      backendRefs: [{ name: 'web-canary', port: 80 }],
    });
    expect(next.spec.rules?.[1]?.backendRefs?.[1]?.filters).toEqual([
      {
        type: 'ResponseHeaderModifier',
        responseHeaderModifier: {
          add: [{ name: 'Set-Cookie', value: 'web-canary=abc123; Max-Age=3600; Path=/' }],
        },
      },
    ]);
    expect(routeWeight('HTTPRoute', next, gsplit)).toBe(10);
    expect(routeRoutingPatch('HTTPRoute', next, gsplit, 10, during)).toEqual([]);
    const done = applied(next, routeRoutingPatch('HTTPRoute', next, gsplit, 0, after));
    expect(done.spec).toEqual(route().spec);
  });

  it('a GRPCRoute gets no cookie', () => {
    expect(routeRoutingPatch('GRPCRoute', route(), gsplit, 0, during)).toEqual([]);
  });
});
