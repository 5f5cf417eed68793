import { describe, expect, it } from 'vitest';
import { compilePlans } from '../../../sandbox/traffic/routing.ts';
import type {
  HttpRouteObject,
  LoadClass,
  Pod,
  Service,
  VirtualService,
  World,
} from '../../../sandbox/traffic/types.ts';
import { workloadName } from '../../../sandbox/traffic/workload.ts';

const pod = (name: string, labels: Record<string, string>, extra: Partial<Pod> = {}): Pod => ({
  name,
  namespace: 'shop',
  labels,
  ready: true,
  image: 'shop/checkout:1.0',
  workload: 'checkout',
  ...extra,
});
const svc = (name: string, selector?: Record<string, string>): Service => ({
  name,
  namespace: 'shop',
  selector,
});
const load = (host: string, extra: Partial<LoadClass> = {}): LoadClass => ({
  host,
  rps: 10,
  path: '/',
  method: 'GET',
  headers: {},
  ...extra,
});

function world(parts: Partial<World>): World {
  return { virtualServices: [], services: [], pods: [], profiles: new Map(), load: [], ...parts };
}

const canaryVs: VirtualService = {
  name: 'checkout',
  namespace: 'shop',
  hosts: ['checkout'],
  http: [
    {
      name: 'beta',
      match: [{ headers: { 'x-beta': { exact: 'yes' } } }, { uri: { prefix: '/beta' } }],
      route: [{ destination: { host: 'checkout-canary' } }],
    },
    {
      name: 'primary',
      route: [
        { destination: { host: 'checkout-stable' }, weight: 80 },
        { destination: { host: 'checkout-canary.shop.svc.cluster.local' }, weight: 20 },
      ],
    },
  ],
};

const shop = {
  virtualServices: [canaryVs],
  services: [
    svc('checkout-stable', { app: 'checkout', track: 'stable' }),
    svc('checkout-canary', { app: 'checkout', track: 'canary' }),
  ],
  pods: [
    pod('s1', { app: 'checkout', track: 'stable', version: 'v1' }),
    pod('s2', { app: 'checkout', track: 'stable', version: 'v1' }),
    pod('c1', { app: 'checkout', track: 'canary' }, { image: 'shop/checkout:1.1' }),
  ],
};

describe('routing', () => {
  it('splits by route weights, resolving short and FQDN destination hosts', () => {
    const [plan] = compilePlans(world({ ...shop, load: [load('checkout.shop.svc.cluster.local')] }));
    expect(plan?.via).toBe('VirtualService shop/checkout route primary');
    expect(
      plan?.outcomes.map((o) => [o.labels.destination_service_name, o.share, o.labels.destination_version]),
    ).toEqual([
      ['checkout-stable', 0.8, 'v1'],
      ['checkout-canary', 0.2, 'unknown'],
    ]);
  });

  it('takes the first route whose match fits: a header or a URI prefix', () => {
    const plans = compilePlans(
      world({
        ...shop,
        load: [
          load('checkout.shop', { headers: { 'x-beta': 'yes' } }),
          load('checkout.shop', { path: '/beta/cart' }),
        ],
      }),
    );
    for (const plan of plans) {
      expect(plan.via).toMatch(/route beta$/);
      expect(plan.outcomes.map((o) => [o.labels.destination_service_name, o.share])).toEqual([
        ['checkout-canary', 1],
      ]);
    }
  });

  it('goes to the Service of the same name when no VirtualService claims the host', () => {
    const [plan] = compilePlans(
      world({ ...shop, virtualServices: [], load: [load('checkout-stable.shop.svc.cluster.local')] }),
    );
    expect(plan?.outcomes).toHaveLength(1);
    expect(plan?.outcomes[0]?.labels.destination_service).toBe('checkout-stable.shop.svc.cluster.local');
  });

  it('answers 503 when no ready endpoint is left, attributed to workload "unknown"', () => {
    const notReady = shop.pods.map((p) => (p.labels.track === 'canary' ? { ...p, ready: false } : p));
    const [plan] = compilePlans(world({ ...shop, pods: notReady, load: [load('checkout.shop')] }));
    const canary = plan?.outcomes.find((o) => o.labels.destination_service_name === 'checkout-canary');
    expect(canary).toMatchObject({ kind: 'fixed', code: 503, share: 0.2 });
    expect(canary?.labels.destination_workload).toBe('unknown');
  });

  it('answers 404 when routes exist but none matches', () => {
    const onlyBeta = { ...canaryVs, http: canaryVs.http.slice(0, 1) };
    const [plan] = compilePlans(
      world({ ...shop, virtualServices: [onlyBeta], load: [load('checkout.shop')] }),
    );
    expect(plan?.outcomes).toMatchObject([{ kind: 'fixed', code: 404 }]);
  });

  it("takes each pod's behaviour from its image's profile, also under a key-safe name", () => {
    const profiles = new Map([['shop_checkout_1.1', { errorRate: 0.1, latencyMs: { p50: 50, p99: 500 } }]]);
    const [plan] = compilePlans(world({ ...shop, profiles, load: [load('checkout.shop')] }));
    const rates = plan?.outcomes.map((o) => (o.kind === 'pods' ? o.errorRate : -1));
    expect(rates).toEqual([0, 0.1]);
  });
});

describe('workloadName', () => {
  it('strips the pod-template hash from the owning ReplicaSet', () => {
    expect(
      workloadName('checkout-7d9f-abcde', { 'pod-template-hash': '7d9f' }, [
        { kind: 'ReplicaSet', name: 'checkout-7d9f', controller: true },
      ]),
    ).toBe('checkout');
  });

  it("strips a Sluice ReplicaSet's revision suffix", () => {
    expect(
      workloadName('checkout-3-x', { 'sluice.dev/revision': '3' }, [
        { kind: 'ReplicaSet', name: 'checkout-3' },
      ]),
    ).toBe('checkout');
  });

  it('uses the owner name for other controllers and the pod name for bare pods', () => {
    expect(workloadName('db-0', {}, [{ kind: 'StatefulSet', name: 'db' }])).toBe('db');
    expect(workloadName('debug', {}, [])).toBe('debug');
  });
});

describe('routing by DestinationRule subsets', () => {
  const subsetVs: VirtualService = {
    name: 'checkout',
    namespace: 'shop',
    hosts: ['checkout'],
    http: [
      {
        name: 'primary',
        route: [
          { destination: { host: 'checkout', subset: 'stable' }, weight: 75 },
          { destination: { host: 'checkout', subset: 'canary' }, weight: 25 },
        ],
      },
    ],
  };
  const rev = (r: string) => ({
    app: 'checkout',
    'sluice.dev/revision': r,
    'service.istio.io/canonical-revision': r,
  });
  const subsets = (canary: Record<string, string>) => ({
    virtualServices: [subsetVs],
    services: [svc('checkout', { app: 'checkout' })],
    destinationRules: [
      {
        name: 'checkout',
        namespace: 'shop',
        host: 'checkout',
        subsets: [
          { name: 'stable', labels: { app: 'checkout', 'sluice.dev/revision': 'r1' } },
          { name: 'canary', labels: canary },
        ],
      },
    ],
    pods: [pod('s1', rev('r1')), pod('s2', rev('r1')), pod('c1', rev('r2'), { image: 'shop/checkout:1.1' })],
    load: [load('checkout.shop')],
  });

  it('sends each subset only to the pods its labels select, telling them apart by canonical revision', () => {
    const [plan] = compilePlans(world(subsets({ 'sluice.dev/revision': 'r2' })));
    expect(
      plan?.outcomes.map((o) => [
        o.labels.destination_service_name,
        o.labels.destination_canonical_revision,
        o.labels.destination_canonical_service,
        o.share,
      ]),
    ).toEqual([
      ['checkout', 'r1', 'checkout', 0.75],
      ['checkout', 'r2', 'checkout', 0.25],
    ]);
  });

  it('a subset no DestinationRule defines, or one selecting no ready pod, answers 503', () => {
    const [empty] = compilePlans(world(subsets({ 'sluice.dev/revision': 'r9' })));
    expect(empty?.outcomes.map((o) => (o.kind === 'fixed' ? [o.code, o.share] : ['pods', o.share]))).toEqual([
      ['pods', 0.75],
      [503, 0.25],
    ]);
    const [missing] = compilePlans(world({ ...subsets({}), destinationRules: [] }));
    expect(missing?.outcomes.map((o) => (o.kind === 'fixed' ? o.code : 'pods'))).toEqual([503, 503]);
  });

  it("a subset without labels selects all the Service's pods, as Istio's does", () => {
    const [plan] = compilePlans(world(subsets({})));
    const canary = plan?.outcomes.filter((o) => o.share < 0.5 && o.labels.destination_canonical_revision);
    expect(canary?.map((o) => [o.labels.destination_canonical_revision, o.share])).toEqual([
      ['r1', (0.25 * 2) / 3],
      ['r2', 0.25 / 3],
    ]);
  });
});

describe('routing by Gateway API HTTPRoutes', () => {
  const services = [
    svc('checkout', { app: 'checkout' }),
    svc('checkout-stable', { app: 'checkout', track: 'stable' }),
    svc('checkout-canary', { app: 'checkout', track: 'canary' }),
    svc('checkout-empty', { app: 'nothing' }),
  ];
  const pods = [
    pod('s1', { app: 'checkout', track: 'stable' }),
    pod('c1', { app: 'checkout', track: 'canary' }, { image: 'shop/checkout:1.1' }),
  ];
  const route = (parts: Partial<HttpRouteObject>): HttpRouteObject => ({
    name: 'checkout',
    namespace: 'shop',
    parentRefs: [{ group: '', kind: 'Service', name: 'checkout' }],
    hostnames: [],
    rules: [
      {
        name: 'split',
        backendRefs: [
          { name: 'checkout-stable', port: 80, weight: 80 },
          { name: 'checkout-canary', port: 80, weight: 20 },
        ],
      },
    ],
    ...parts,
  });
  const plan = (routes: HttpRouteObject[], l: LoadClass, extra: Partial<World> = {}) =>
    compilePlans(world({ services, pods, httpRoutes: routes, load: [l], ...extra }))[0];
  const split = (p: ReturnType<typeof plan>) =>
    p?.outcomes.map((o) => [
      o.labels.destination_service_name,
      o.kind === 'fixed' ? o.code : 'pods',
      o.share,
    ]);

  it('a mesh (GAMMA) route on the Service the host resolves to splits 80/20 between two Services', () => {
    for (const host of ['checkout.shop.svc.cluster.local', 'checkout.shop', 'checkout']) {
      const p = plan([route({})], load(host));
      expect(p?.via).toBe('HTTPRoute shop/checkout rule split');
      expect(split(p)).toEqual([
        ['checkout-stable', 'pods', 0.8],
        ['checkout-canary', 'pods', 0.2],
      ]);
    }
  });

  it('a RequestMirror filter copies its percent to the mirror Service, apart from the answers', () => {
    const mirrored = route({
      rules: [
        {
          name: 'split',
          filters: [
            {
              type: 'RequestMirror',
              requestMirror: { backendRef: { name: 'checkout-canary', port: 80 }, percent: 30 },
            },
          ],
          backendRefs: [{ name: 'checkout-stable', port: 80 }],
        },
      ],
    });
    const p = plan([mirrored], load('checkout'));
    expect(split(p)).toEqual([['checkout-stable', 'pods', 1]]);
    expect(p?.mirrors?.map((o) => [o.labels.destination_service_name, o.share])).toEqual([
      ['checkout-canary', 0.3],
    ]);
  });

  it('a parentRef with the default group, or naming another namespace, is not that Service', () => {
    const gatewayGroup = route({ parentRefs: [{ kind: 'Service', name: 'checkout' }] });
    const elsewhere = route({
      parentRefs: [{ group: '', kind: 'Service', name: 'checkout', namespace: 'other' }],
    });
    for (const r of [gatewayGroup, elsewhere]) {
      const p = plan([r], load('checkout.shop'));
      expect(p?.via).toBe('no VirtualService or HTTPRoute; Service checkout.shop.svc.cluster.local');
      expect(split(p)).toEqual([
        ['checkout', 'pods', 0.5],
        ['checkout', 'pods', 0.5],
      ]);
    }
  });

  it('an ingress route claims its hostnames: exact names first, then wildcards as suffixes', () => {
    const exact = route({ name: 'exact', parentRefs: [{ name: 'gw' }], hostnames: ['shop.example.com'] });
    const wild = route({
      name: 'wild',
      parentRefs: [{ name: 'gw' }],
      hostnames: ['*.example.com'],
      rules: [{ backendRefs: [{ name: 'checkout-canary', port: 80 }] }],
    });
    expect(plan([wild, exact], load('shop.example.com'))?.via).toBe('HTTPRoute shop/exact rule split');
    expect(plan([wild, exact], load('a.b.example.com'))?.via).toBe('HTTPRoute shop/wild rule 0');
    // The wildcard never covers the bare domain: the host falls through to plain DNS.
    expect(plan([wild, exact], load('example.com'))?.via).toMatch(/^no VirtualService or HTTPRoute/);
  });

  it('takes the rule whose matches fit: PathPrefix element by element, header Exact, method', () => {
    const r = route({
      rules: [
        {
          name: 'beta',
          matches: [
            { headers: [{ name: 'X-Beta', value: 'yes' }] },
            { path: { type: 'PathPrefix', value: '/foo' } },
          ],
          backendRefs: [{ name: 'checkout-canary', port: 80 }],
        },
        {
          name: 'posts',
          matches: [{ method: 'POST', path: { type: 'Exact', value: '/cart' } }],
          backendRefs: [{ name: 'checkout-empty', port: 80 }],
        },
        { name: 'rest', backendRefs: [{ name: 'checkout-stable', port: 80 }] },
      ],
    });
    const via = (extra: Partial<LoadClass>) => plan([r], load('checkout.shop', extra))?.via;
    expect(via({ path: '/foo' })).toMatch(/rule beta$/);
    expect(via({ path: '/foo/bar' })).toMatch(/rule beta$/);
    expect(via({ path: '/foobar' })).toMatch(/rule rest$/);
    expect(via({ headers: { 'x-beta': 'yes' } })).toMatch(/rule beta$/);
    expect(via({ headers: { 'x-beta': 'Yes' } })).toMatch(/rule rest$/);
    expect(via({ method: 'POST', path: '/cart' })).toMatch(/rule posts$/);
    expect(via({ method: 'GET', path: '/cart' })).toMatch(/rule rest$/);
  });

  it('ranks matches as the spec does, not by list order: an Exact path beats an earlier prefix', () => {
    const r = route({
      rules: [
        {
          name: 'prefix',
          matches: [{ path: { type: 'PathPrefix', value: '/cart' } }],
          backendRefs: [{ name: 'checkout-stable', port: 80 }],
        },
        {
          name: 'exact',
          matches: [{ path: { type: 'Exact', value: '/cart/pay' } }],
          backendRefs: [{ name: 'checkout-canary', port: 80 }],
        },
      ],
    });
    expect(plan([r], load('checkout.shop', { path: '/cart/pay' }))?.via).toMatch(/rule exact$/);
    expect(plan([r], load('checkout.shop', { path: '/cart/view' }))?.via).toMatch(/rule prefix$/);
  });

  it('answers 404 when the routes have rules but none matches', () => {
    const r = route({
      rules: [
        {
          matches: [{ path: { type: 'Exact', value: '/only' } }],
          backendRefs: [{ name: 'checkout-stable' }],
        },
      ],
    });
    expect(split(plan([r], load('checkout.shop')))).toEqual([['checkout', 404, 1]]);
  });

  it('weights default to 1 and weight 0 gets nothing; all zero answers 500', () => {
    const weights = (a?: number, b?: number) =>
      route({
        rules: [
          {
            backendRefs: [
              { name: 'checkout-stable', port: 80, ...(a === undefined ? {} : { weight: a }) },
              { name: 'checkout-canary', port: 80, ...(b === undefined ? {} : { weight: b }) },
            ],
          },
        ],
      });
    expect(split(plan([weights()], load('checkout.shop')))).toEqual([
      ['checkout-stable', 'pods', 0.5],
      ['checkout-canary', 'pods', 0.5],
    ]);
    expect(split(plan([weights(0, 3)], load('checkout.shop')))).toEqual([['checkout-canary', 'pods', 1]]);
    expect(split(plan([weights(0, 0)], load('checkout.shop')))).toEqual([['checkout', 500, 1]]);
  });

  it('a backendRef to a missing Service or another kind answers 500 for its share; one without ready pods 503', () => {
    const r = route({
      rules: [
        {
          backendRefs: [
            { name: 'checkout-stable', port: 80, weight: 50 },
            { name: 'checkout-gone', port: 80, weight: 20 },
            { name: 'checkout-empty', port: 80, weight: 20 },
            { group: 'example.com', kind: 'Bucket', name: 'checkout-canary', weight: 10 },
          ],
        },
      ],
    });
    expect(split(plan([r], load('checkout.shop')))).toEqual([
      ['checkout-stable', 'pods', 0.5],
      ['checkout-gone', 500, 0.2],
      ['checkout-empty', 503, 0.2],
      ['checkout-canary', 500, 0.1],
    ]);
  });

  it("resolves a backendRef's Service in the ref's namespace, else the route's", () => {
    const r = route({
      rules: [{ backendRefs: [{ name: 'checkout-stable', namespace: 'other', port: 80 }] }],
    });
    const other = { ...svc('checkout-stable', { app: 'checkout' }), namespace: 'other' };
    const otherPod = pod('o1', { app: 'checkout' }, { namespace: 'other', workload: 'other-checkout' });
    const p = plan([r], load('checkout.shop'), { services: [...services, other], pods: [...pods, otherPod] });
    expect(p?.outcomes.map((o) => [o.labels.destination_service, o.labels.destination_workload])).toEqual([
      ['checkout-stable.other.svc.cluster.local', 'other-checkout'],
    ]);
  });

  it('a VirtualService for the host keeps precedence over an HTTPRoute', () => {
    const p = plan([route({})], load('checkout.shop'), { virtualServices: [canaryVs] });
    expect(p?.via).toBe('VirtualService shop/checkout route primary');
  });
});
