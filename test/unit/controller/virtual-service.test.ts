import { describe, expect, it } from 'vitest';
import {
  currentWeight,
  type JsonPatchOp,
  RoutingError,
  routingPatch,
  sameService,
  type VirtualService,
  weightPatch,
} from '../../../controller/traffic/virtual-service.ts';

function vs(http: unknown[]): VirtualService {
  return {
    metadata: { name: 'checkout', namespace: 'shop', resourceVersion: '42' },
    spec: { hosts: ['checkout'], http: http as VirtualService['spec']['http'] },
  };
}

const hostSplit = {
  routes: ['primary'],
  stable: { host: 'checkout-stable' },
  canary: { host: 'checkout-canary' },
};

describe('VirtualService weights', () => {
  const primary = {
    name: 'primary',
    match: [{ headers: { 'x-beta': { exact: '1' } } }],
    retries: { attempts: 3 },
    route: [
      { destination: { host: 'checkout-stable', port: { number: 80 } }, weight: 100 },
      { destination: { host: 'checkout-canary.shop.svc.cluster.local' }, weight: 0 },
    ],
  };
  const other = { name: 'admin', route: [{ destination: { host: 'admin' } }] };

  it('patches only the weights of the named route, guarded by resourceVersion', () => {
    expect(weightPatch(vs([other, primary]), hostSplit, 20)).toEqual([
      { op: 'test', path: '/metadata/resourceVersion', value: '42' },
      { op: 'replace', path: '/spec/http/1/route/0/weight', value: 80 },
      { op: 'replace', path: '/spec/http/1/route/1/weight', value: 20 },
    ]);
  });

  it('writes nothing when the weights are already right', () => {
    expect(weightPatch(vs([primary]), hostSplit, 0)).toEqual([]);
  });

  it('adds a weight the author left out', () => {
    const bare = {
      name: 'primary',
      route: [{ destination: { host: 'checkout-stable' } }, { destination: { host: 'checkout-canary' } }],
    };
    expect(weightPatch(vs([bare]), hostSplit, 10).slice(1)).toEqual([
      { op: 'add', path: '/spec/http/0/route/0/weight', value: 90 },
      { op: 'add', path: '/spec/http/0/route/1/weight', value: 10 },
    ]);
  });

  it('reads the current canary weight, and reports disagreement between routes as unknown', () => {
    expect(currentWeight(vs([primary]), hostSplit)).toBe(0);
    const second = {
      ...primary,
      name: 'secondary',
      route: [primary.route[0], { ...primary.route[1], weight: 30 }],
    };
    expect(currentWeight(vs([primary, second]), { ...hostSplit, routes: undefined })).toBeUndefined();
  });

  it('splits by DestinationRule subsets', () => {
    const subsets = {
      name: 'primary',
      route: [
        { destination: { host: 'checkout', subset: 'stable' }, weight: 100 },
        { destination: { host: 'checkout', subset: 'canary' }, weight: 0 },
      ],
    };
    const split = { routes: ['primary'], stable: { subset: 'stable' }, canary: { subset: 'canary' } };
    expect(
      weightPatch(vs([subsets]), split, 50)
        .slice(1)
        .map((op) => op.value),
    ).toEqual([50, 50]);
  });

  it('names a missing route and lists the ones that exist', () => {
    expect(() => weightPatch(vs([other]), hostSplit, 10)).toThrow(
      new RoutingError("VirtualService shop/checkout: http route 'primary' not found (routes: admin)"),
    );
  });

  it('names a missing destination', () => {
    const noCanary = { name: 'primary', route: [{ destination: { host: 'checkout-stable' }, weight: 100 }] };
    expect(() => weightPatch(vs([noCanary]), hostSplit, 10)).toThrow(
      /route 'primary' has no destination for Service 'checkout-canary'/,
    );
  });

  it('refuses a route with a third destination rather than break its weights', () => {
    const three = { ...primary, route: [...primary.route, { destination: { host: 'mirror' }, weight: 0 }] };
    expect(() => weightPatch(vs([three]), hostSplit, 10)).toThrow(/3 destinations/);
  });

  it('without route names, takes every route that holds both Services, or says none does', () => {
    expect(weightPatch(vs([other, primary]), { ...hostSplit, routes: undefined }, 5)).toHaveLength(3);
    expect(() => weightPatch(vs([other]), { ...hostSplit, routes: undefined }, 5)).toThrow(
      /no http, tls or tcp route routes to both/,
    );
  });

  it('treats short, namespaced and fully qualified hosts as one Service', () => {
    for (const host of ['web', 'web.shop', 'web.shop.svc', 'web.shop.svc.cluster.local']) {
      expect(sameService(host, 'web', 'shop')).toBe(true);
    }
    expect(sameService('web.other', 'web', 'shop')).toBe(false);
  });
});

describe('TLS and TCP routes (weight-only splits)', () => {
  const split = { stable: { host: 'db-stable' }, canary: { host: 'db-canary' } };
  const l4 = (stable: number, canary: number) => ({
    match: [{ port: 5432 }],
    route: [
      { destination: { host: 'db-stable', port: { number: 5432 } }, weight: stable },
      { destination: { host: 'db-canary', port: { number: 5432 } }, weight: canary },
    ],
  });
  const db = (): VirtualService => ({
    metadata: { name: 'db', namespace: 'shop', resourceVersion: '5' },
    spec: { hosts: ['db'], tcp: [l4(100, 0)], tls: [{ ...l4(100, 0), match: [{ sniHosts: ['db'] }] }] },
  });

  it('without route names, the TLS and TCP routes holding both Services are weighed too', () => {
    expect(currentWeight(db(), split)).toBe(0);
    expect(weightPatch(db(), split, 25)).toEqual([
      { op: 'test', path: '/metadata/resourceVersion', value: '5' },
      { op: 'replace', path: '/spec/tls/0/route/0/weight', value: 75 },
      { op: 'replace', path: '/spec/tls/0/route/1/weight', value: 25 },
      { op: 'replace', path: '/spec/tcp/0/route/0/weight', value: 75 },
      { op: 'replace', path: '/spec/tcp/0/route/1/weight', value: 25 },
    ]);
    const skewed = db();
    skewed.spec.tcp = [l4(50, 50)];
    expect(currentWeight(skewed, split)).toBeUndefined();
  });
});

describe('a baseline destination (baselineService)', () => {
  const split = { ...hostSplit, baseline: { host: 'checkout-baseline' } };
  const written = {
    name: 'primary',
    route: [
      { destination: { host: 'checkout-stable', port: { number: 80 } }, weight: 100 },
      { destination: { host: 'checkout-canary', port: { number: 80 } }, weight: 0, headers: { x: 1 } },
    ],
  };
  /** The patch as the API server applies it (its resourceVersion test aside). */
  const applied = (before: VirtualService, ops: JsonPatchOp[]): VirtualService => {
    const after = structuredClone(before);
    for (const op of ops) {
      if (op.op === 'test') continue;
      const keys = op.path.split('/').slice(1);
      const last = keys.pop() as string;
      let at = after as unknown as Record<string, unknown>;
      for (const k of keys) at = at[k] as Record<string, unknown>;
      at[last] = op.value;
    }
    return after;
  };
  const weights = (v: VirtualService) => v.spec.http?.[0]?.route?.map((d) => [d.destination.host, d.weight]);

  it('comes in with a release as a copy of the canary destination, taking its weight from the stable', () => {
    const during = applied(vs([written]), routingPatch(vs([written]), split, 20, undefined, 20));
    expect(during.spec.http?.[0]?.route?.[2]).toEqual({
      destination: { host: 'checkout-baseline', port: { number: 80 } },
      weight: 20,
      headers: { x: 1 },
    });
    expect(weights(during)).toEqual([
      ['checkout-stable', 60],
      ['checkout-canary', 20],
      ['checkout-baseline', 20],
    ]);
    expect(currentWeight(during, split)).toBe(20);
    expect(routingPatch(during, split, 20, undefined, 20)).toEqual([]);
  });

  it('a hand edit of its weight is set back, and only the weights are written', () => {
    const during = applied(vs([written]), routingPatch(vs([written]), split, 30, undefined, 30));
    const edited = structuredClone(during);
    (edited.spec.http?.[0]?.route?.[2] as { weight: number }).weight = 0;
    (edited.spec.http?.[0]?.route?.[0] as { weight: number }).weight = 70;
    expect(weightPatch(edited, split, 30, 30).slice(1)).toEqual([
      { op: 'replace', path: '/spec/http/0/route/0/weight', value: 40 },
      { op: 'replace', path: '/spec/http/0/route/2/weight', value: 30 },
    ]);
  });

  it('goes when the release ends, leaving the routes as their author wrote them', () => {
    const during = applied(vs([written]), routingPatch(vs([written]), split, 50, undefined, 50));
    const after = applied(during, routingPatch(during, split, 0, undefined, undefined));
    expect(after).toEqual(vs([written]));
    expect(routingPatch(after, split, 0, undefined, undefined)).toEqual([]);
  });

  it('is left out of header routes, which send everything to the canary', () => {
    const header = { name: 'beta', header: [{ headerName: 'x-beta', headerValue: { exact: '1' } }] };
    const ops = routingPatch(vs([written]), split, 10, { wanted: [header], managed: ['beta'] }, 10);
    const during = applied(vs([written]), ops);
    expect(during.spec.http?.map((r) => r.route?.map((d) => [d.destination.host, d.weight]))).toEqual([
      [['checkout-canary', 100]],
      [
        ['checkout-stable', 80],
        ['checkout-canary', 10],
        ['checkout-baseline', 10],
      ],
    ]);
  });

  it('any other third destination is still refused', () => {
    const three = { ...written, route: [...written.route, { destination: { host: 'mirror' }, weight: 0 }] };
    expect(() => weightPatch(vs([three]), split, 10, 10)).toThrow(/3 destinations/);
  });
});
