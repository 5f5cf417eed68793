import { describe, expect, it } from 'vitest';
import {
  type GatewayRoute,
  locateRules,
  routeWeight,
  routeWeightPatch,
} from '../../../controller/traffic/gateway-route.ts';
import { RoutingError } from '../../../controller/traffic/virtual-service.ts';

const route = (rules: GatewayRoute['spec']['rules']): GatewayRoute => ({
  metadata: { name: 'web', namespace: 'shop', resourceVersion: '7' },
  spec: { parentRefs: [{ kind: 'Service', name: 'web' }], rules },
});
const split = { stable: 'web-stable', canary: 'web-canary' };
const both = (stable?: number, canary?: number) => [
  { name: 'web-stable', port: 80, ...(stable === undefined ? {} : { weight: stable }) },
  { name: 'web-canary', port: 80, ...(canary === undefined ? {} : { weight: canary }) },
];

describe('Gateway API route weights', () => {
  it("reads the canary's percent; a backendRef without a weight weighs 1, as the spec says", () => {
    expect(routeWeight('HTTPRoute', route([{ backendRefs: both(80, 20) }]), split)).toBe(20);
    expect(routeWeight('HTTPRoute', route([{ backendRefs: both() }]), split)).toBe(50);
    expect(routeWeight('HTTPRoute', route([{ backendRefs: both(3, 1) }]), split)).toBe(25);
    // All zero sends nothing anywhere; rules that disagree are no one weight: both unreadable.
    expect(routeWeight('HTTPRoute', route([{ backendRefs: both(0, 0) }]), split)).toBeUndefined();
    const disagree = route([{ backendRefs: both(90, 10) }, { backendRefs: both(50, 50) }]);
    expect(routeWeight('GRPCRoute', disagree, split)).toBeUndefined();
  });

  it('writes percents to the two backendRefs of every rule holding both, and only those, guarded by resourceVersion', () => {
    const r = route([
      { name: 'api', matches: [{ path: { type: 'PathPrefix', value: '/api' } }], backendRefs: both(100, 0) },
      { name: 'static', backendRefs: [{ name: 'cdn', port: 80 }] },
      { name: 'rest', filters: [{ type: 'RequestHeaderModifier' }], backendRefs: both() },
    ]);
    expect(routeWeightPatch('HTTPRoute', r, split, 30)).toEqual([
      { op: 'test', path: '/metadata/resourceVersion', value: '7' },
      { op: 'replace', path: '/spec/rules/0/backendRefs/0/weight', value: 70 },
      { op: 'replace', path: '/spec/rules/0/backendRefs/1/weight', value: 30 },
      { op: 'add', path: '/spec/rules/2/backendRefs/0/weight', value: 70 },
      { op: 'add', path: '/spec/rules/2/backendRefs/1/weight', value: 30 },
    ]);
    expect(routeWeightPatch('HTTPRoute', route([{ backendRefs: both(70, 30) }]), split, 30)).toEqual([]);
  });

  it('named rules: only those; a missing one is named with the rules there are', () => {
    const r = route([
      { name: 'a', backendRefs: both(100, 0) },
      { name: 'b', backendRefs: both(100, 0) },
    ]);
    expect(routeWeightPatch('HTTPRoute', r, { ...split, rules: ['b'] }, 10).map((o) => o.path)).toEqual([
      '/metadata/resourceVersion',
      '/spec/rules/1/backendRefs/0/weight',
      '/spec/rules/1/backendRefs/1/weight',
    ]);
    expect(() => locateRules('HTTPRoute', r, { ...split, rules: ['c'] })).toThrow(
      "HTTPRoute shop/web: rule 'c' not found (rules: a, b)",
    );
  });

  it('says what is missing: a rule without the canary, a third backendRef, another kind or namespace', () => {
    expect(() =>
      locateRules('HTTPRoute', route([{ name: 'a', backendRefs: [{ name: 'web-stable' }] }]), {
        ...split,
        rules: ['a'],
      }),
    ).toThrow("HTTPRoute shop/web: rule 'a' has no backendRef to Service 'web-canary'");
    expect(() =>
      locateRules('HTTPRoute', route([{ name: 'a', backendRefs: [...both(), { name: 'x' }] }]), {
        ...split,
        rules: ['a'],
      }),
    ).toThrow(/has 3 backendRefs/);
    const elsewhere = route([
      { backendRefs: [{ name: 'web-stable' }, { name: 'web-canary', namespace: 'other' }] },
      {
        backendRefs: [{ name: 'web-stable' }, { name: 'web-canary', group: 'example.com', kind: 'Backend' }],
      },
    ]);
    expect(() => locateRules('HTTPRoute', elsewhere, split)).toThrow(RoutingError);
    expect(() => locateRules('HTTPRoute', elsewhere, split)).toThrow(
      "HTTPRoute shop/web: no rule has backendRefs to both Service 'web-stable' and Service 'web-canary'",
    );
    // The route's own namespace named outright is the same Service.
    const explicit = route([
      { backendRefs: [{ name: 'web-stable', namespace: 'shop' }, { name: 'web-canary' }] },
    ]);
    expect(routeWeight('HTTPRoute', explicit, split)).toBe(50);
  });
});
