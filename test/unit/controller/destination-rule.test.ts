import { describe, expect, it } from 'vitest';
import {
  type DestinationRule,
  subsetPatch,
  subsetRevisions,
} from '../../../controller/traffic/destination-rule.ts';

const dr = (subsets: DestinationRule['spec']['subsets']): DestinationRule => ({
  metadata: { name: 'checkout', namespace: 'shop', resourceVersion: '7' },
  spec: { host: 'checkout', subsets },
});

describe('DestinationRule subsets', () => {
  it('sets only Sluice’s revision label on the two subsets, guarded by resourceVersion', () => {
    const rule = dr([
      { name: 'stable', labels: { app: 'checkout' } },
      { name: 'canary' },
      { name: 'debug', labels: { app: 'checkout', debug: 'true' } },
    ]);
    expect(subsetPatch(rule, { stable: 'aaa', canary: 'bbb' })).toEqual([
      { op: 'test', path: '/metadata/resourceVersion', value: '7' },
      { op: 'add', path: '/spec/subsets/0/labels/sluice.dev~1revision', value: 'aaa' },
      { op: 'add', path: '/spec/subsets/1/labels', value: { 'sluice.dev/revision': 'bbb' } },
    ]);
  });

  it('writes nothing when the subsets already select the right revisions', () => {
    const rule = dr([
      { name: 'stable', labels: { 'sluice.dev/revision': 'aaa' } },
      { name: 'canary', labels: { 'sluice.dev/revision': 'bbb' } },
    ]);
    expect(subsetPatch(rule, { stable: 'aaa', canary: 'bbb' })).toEqual([]);
  });

  it('names a missing subset and lists the ones there are', () => {
    expect(() => subsetPatch(dr([{ name: 'v1' }]), { stable: 'aaa' })).toThrow(
      "DestinationRule shop/checkout: subset 'stable' not found (subsets: v1)",
    );
  });

  it('reads which revision each named subset selects, undefined where Sluice has not pointed it', () => {
    const rule = dr([
      { name: 'stable', labels: { app: 'checkout', 'sluice.dev/revision': 'aaa' } },
      { name: 'canary', labels: { app: 'checkout' } },
    ]);
    expect(subsetRevisions(rule, ['stable', 'canary'])).toEqual({ stable: 'aaa', canary: undefined });
    expect(() => subsetRevisions(rule, ['stable', 'next'])).toThrow(
      "subset 'next' not found (subsets: stable, canary)",
    );
  });
});
