import type { V1ReplicaSet, V1ReplicaSetStatus } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { templateForUndo } from '../../../cli/commands/template.ts';
import { REVISION_LABEL, revisionOf } from '../../../controller/revision.ts';
import {
  type ResolvedRollout,
  replicaSetFor,
  replicaSetName,
  replicaSetReady,
  roleMetadataPatch,
  serviceSelectorPatch,
} from '../../../controller/workload.ts';
import { POD_TEMPLATE_ANNOTATION } from '../../../crds/index.ts';
import { templateOf } from '../../../crds/spec.ts';

const rollout: ResolvedRollout = {
  apiVersion: 'sluice.dev/v1alpha1',
  kind: 'Rollout',
  metadata: { name: 'checkout', namespace: 'shop', uid: 'u-1' },
  spec: {
    replicas: 3,
    selector: { matchLabels: { app: 'checkout' } },
    template: {
      metadata: { labels: { app: 'checkout' } },
      spec: { containers: [{ name: 'app', image: 'c:1' }] },
    },
    strategy: { canary: { steps: [{ setWeight: 10 }] } },
  },
};

describe('ReplicaSets a Rollout owns', () => {
  const revision = revisionOf(templateOf(rollout.spec));
  const rs = replicaSetFor(rollout, revision, 3, 2);

  it('select and label pods by revision, and are owned by the Rollout', () => {
    expect(rs.metadata?.name).toBe(`checkout-${revision}`);
    expect(rs.spec?.selector.matchLabels).toEqual({ app: 'checkout', [REVISION_LABEL]: revision });
    expect(rs.spec?.template?.metadata?.labels).toEqual({ app: 'checkout', [REVISION_LABEL]: revision });
    expect(rs.metadata?.ownerReferences?.[0]).toMatchObject({
      kind: 'Rollout',
      uid: 'u-1',
      controller: true,
    });
    expect(rs.spec?.replicas).toBe(2);
  });

  it('keep the template verbatim, so undo brings back the same revision, not a defaulted copy', () => {
    const defaulted = structuredClone(rs) as typeof rs & {
      metadata: { annotations: Record<string, string> };
    };
    (defaulted.spec?.template?.spec?.containers[0] as { imagePullPolicy?: string }).imagePullPolicy =
      'IfNotPresent';
    const undone = templateForUndo(defaulted as never);
    expect(revisionOf(undone as never)).toBe(revision);
    expect(defaulted.metadata.annotations[POD_TEMPLATE_ANNOTATION]).toBeDefined();
  });

  it('leave room in names for the pod suffix', () => {
    const long = replicaSetName('x'.repeat(300), 'abcde');
    expect(long.length).toBeLessThanOrEqual(253 - 6);
    expect(long.endsWith('-abcde')).toBe(true);
  });

  it('count as ready only when the controller caught up and every replica is available', () => {
    const at = (status: Omit<V1ReplicaSetStatus, 'replicas'>, generation = 1): V1ReplicaSet => ({
      ...rs,
      metadata: { ...rs.metadata, generation },
      status: { replicas: 2, ...status },
    });
    expect(replicaSetReady(at({ observedGeneration: 1, availableReplicas: 2 }), 2)).toBe(true);
    expect(replicaSetReady(at({ observedGeneration: 1, availableReplicas: 1 }), 2)).toBe(false);
    expect(replicaSetReady(at({ observedGeneration: 0, availableReplicas: 2 }), 2)).toBe(false);
    expect(replicaSetReady(undefined, 0)).toBe(true);
  });

  it('point Services with a patch touching only Sluice’s selector key', () => {
    expect(serviceSelectorPatch('abc')).toEqual({ spec: { selector: { [REVISION_LABEL]: 'abc' } } });
  });
});

describe('roleMetadataPatch', () => {
  it('sets the new role keys, removes the old role-only ones, and gives back what the template had', () => {
    const patch = roleMetadataPatch(
      { labels: { role: 'stable' } },
      { labels: { role: 'canary', track: 'new', team: 'x' }, annotations: { dash: 'canary' } },
      { labels: { app: 'web', team: 'payments' } },
    );
    expect(patch).toEqual({
      labels: { role: 'stable', track: null, team: 'payments' },
      annotations: { dash: null },
    });
  });
});
