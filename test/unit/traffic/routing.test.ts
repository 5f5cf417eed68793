import { describe, expect, it } from 'vitest';
import { compilePlans } from '../../../sandbox/traffic/routing.ts';
import type { LoadClass, Pod, Service, VirtualService, World } from '../../../sandbox/traffic/types.ts';
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
