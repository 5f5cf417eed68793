import { describe, expect, it } from 'vitest';
import { deploymentReplicas } from '../../../machines/workload-ref.ts';
import { canarySpec } from './fixtures.ts';

const withRef = (scaleDown?: 'never' | 'onsuccess' | 'progressively') => {
  const spec = canarySpec([]);
  delete (spec as { template?: unknown }).template;
  return {
    ...spec,
    workloadRef: { apiVersion: 'apps/v1' as const, kind: 'Deployment' as const, name: 'web', scaleDown },
  };
};
const stable = { stableRevision: 'r1', currentRevision: 'r1' };

describe('workloadRef scaleDown (4 replicas)', () => {
  it('never (the default) leaves the Deployment as it is', () => {
    expect(deploymentReplicas(withRef(), stable, 4)).toBeUndefined();
    expect(deploymentReplicas(withRef('never'), stable, 4)).toBeUndefined();
  });

  it('takes nothing before the Rollout has a stable revision', () => {
    expect(deploymentReplicas(withRef('progressively'), undefined, 0)).toBeUndefined();
    expect(deploymentReplicas(withRef('onsuccess'), {}, 0)).toBeUndefined();
  });

  it('progressively hands the load over pod by pod, and back if the stable loses its pods', () => {
    expect([0, 1, 3, 4].map((a) => deploymentReplicas(withRef('progressively'), stable, a))).toEqual([
      4, 3, 1, 0,
    ]);
  });

  it('onsuccess scales it to zero once the stable runs all its pods', () => {
    expect(deploymentReplicas(withRef('onsuccess'), stable, 3)).toBeUndefined();
    expect(deploymentReplicas(withRef('onsuccess'), stable, 4)).toBe(0);
  });
});
