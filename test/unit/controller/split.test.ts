import { describe, expect, it } from 'vitest';
import { splitsFor } from '../../../controller/traffic/split.ts';
import { RolloutSpec } from '../../../crds/index.ts';
import { canarySpec } from '../machines/fixtures.ts';

describe('splitsFor: the VirtualServices a Rollout weighs', () => {
  it('one per VirtualService named, each between the stable and canary Services', () => {
    const spec = canarySpec([], {
      trafficRouting: {
        istio: { virtualServices: [{ name: 'mesh', routes: ['primary'] }, { name: 'gateway' }] },
      },
    });
    expect(splitsFor(spec)).toEqual([
      { virtualService: 'mesh', routes: ['primary'], stable: { host: 's' }, canary: { host: 'c' } },
      { virtualService: 'gateway', routes: undefined, stable: { host: 's' }, canary: { host: 'c' } },
    ]);
    expect(splitsFor(canarySpec([])).map((s) => s.virtualService)).toEqual(['vs']);
    expect(splitsFor(canarySpec([], { baselineService: 'b' }))[0]?.baseline).toEqual({ host: 'b' });
  });

  it('the schema takes exactly one of virtualService and virtualServices, each name once', () => {
    const withRouting = (istio: object) =>
      RolloutSpec.safeParse(canarySpec([], { trafficRouting: { istio } as never }));
    expect(withRouting({ virtualServices: [{ name: 'a' }, { name: 'b' }] }).success).toBe(true);
    const both = withRouting({ virtualService: { name: 'a' }, virtualServices: [{ name: 'b' }] });
    expect(both.error?.issues.map((i) => i.message)).toEqual([
      'istio routing names either virtualService or virtualServices, not both and not neither',
    ]);
    const twice = withRouting({ virtualServices: [{ name: 'a' }, { name: 'a' }] });
    expect(twice.error?.issues.map((i) => i.path.join('.'))).toEqual([
      'strategy.canary.trafficRouting.istio.virtualServices',
    ]);
  });
});
