import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { ROLLOUT_LABEL } from '../../../controller/revision.ts';
import { CachedWorld, type Informers } from '../../../controller/world-cache.ts';

// The informer caches are plain lookups here: what is under test is which cached objects the
// World hands the reconciler, not how they got into a cache (test/sandbox covers that).
function cache(objects: KubernetesObject[]) {
  return {
    list: (namespace?: string) => objects.filter((o) => !namespace || o.metadata?.namespace === namespace),
    get: (namespace: string | undefined, name: string) =>
      objects.find((o) => o.metadata?.namespace === namespace && o.metadata?.name === name),
  };
}

const owner = (uid: string) => [
  { apiVersion: 'sluice.dev/v1alpha1', kind: 'Rollout', name: 'web', uid, controller: true },
];
const rs = (name: string, ownerReferences?: unknown[], namespace = 'shop'): KubernetesObject => ({
  metadata: {
    name,
    namespace,
    labels: { [ROLLOUT_LABEL]: 'web' },
    ownerReferences,
  } as KubernetesObject['metadata'],
});

function world(replicaSets: KubernetesObject[]) {
  const rollouts = cache([{ metadata: { name: 'web', namespace: 'shop', uid: 'uid-web' } }]);
  return new CachedWorld({
    rollouts,
    replicaSets: cache(replicaSets),
    services: cache([]),
    virtualServices: cache([]),
    analysisRuns: cache([]),
  } as unknown as Informers);
}

describe("CachedWorld.replicaSets: the Rollout's label finds candidates, its uid decides", () => {
  it('lists only the ReplicaSets the Rollout controls, whatever else carries its label', () => {
    const listed = world([
      rs('web-ours', owner('uid-web')),
      rs('web-forged'),
      rs('web-old-uid', owner('uid-before-recreate')),
      rs('web-other-ns', owner('uid-web'), 'elsewhere'),
    ]).replicaSets('shop', 'web');
    expect(listed.map((r) => r.metadata?.name)).toEqual(['web-ours']);
  });

  it('lists nothing for a Rollout the cache does not hold (no uid to compare with)', () => {
    expect(world([rs('web-ours', owner('uid-web'))]).replicaSets('shop', 'gone')).toEqual([]);
  });
});
