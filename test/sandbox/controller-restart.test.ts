// Restarts on the real API server, the controller run under deploy/'s ClusterRole: `kubectl
// sluice restart` (a signal in status) and spec.restartAt (Argo's field, as git would hold it)
// each replace every pod created before the restart time, through the Eviction API, never with
// more than one of the Rollout's pods missing, and record status.restartedAt and Events.
import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { MERGE_PATCH } from '../../cli/kube.ts';
import { startController } from '../harness/controller.ts';
import { kube } from '../harness/kube.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { waitFor } from '../harness/wait.ts';
import { apply, canaryApp, events, getRollout, kubectlSluice, waitForRollout } from '../support/apps.ts';

const REPLICAS = 3;

const created = (p: V1Pod) => new Date(p.metadata?.creationTimestamp as unknown as string).getTime();
const ready = (p: V1Pod) =>
  p.metadata?.deletionTimestamp === undefined &&
  (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

async function pods(namespace: string): Promise<V1Pod[]> {
  return (await kube().core.listNamespacedPod({ namespace, labelSelector: 'app=web' })).items;
}

/** Samples the pods every 50 ms until stopped: the fewest ready at once, and every pod seen. */
function watchAvailability(namespace: string) {
  let fewest = Number.POSITIVE_INFINITY;
  let running = true;
  const seen = new Set<string>();
  const loop = (async () => {
    while (running) {
      const now = await pods(namespace);
      for (const p of now) seen.add(p.metadata?.name ?? '');
      fewest = Math.min(fewest, now.filter(ready).length);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { fewest, seen };
    },
  };
}

/** A canary app with REPLICAS pods, stable and ready, its controller running. */
async function healthyApp(prefix: string) {
  const ns = await freshNamespace(prefix);
  await apply(canaryApp(ns, { replicas: REPLICAS }));
  await startController(ns);
  await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision to be stable');
  await waitFor(async () => (await pods(ns)).filter(ready).length === REPLICAS, {
    description: `${REPLICAS} ready pods`,
    timeout: 60_000,
  });
  return ns;
}

/** Waits for the restart at `after` or later to be recorded; checks what it did. */
async function expectRestarted(ns: string, before: V1Pod[], restartedAfter: number) {
  const done = await waitForRollout(
    ns,
    (r) => r.status?.restartedAt !== undefined && Date.parse(r.status.restartedAt) >= restartedAfter,
    'status.restartedAt to record the restart',
    { timeout: 120_000 },
  );
  const restartedAt = Date.parse(done.status?.restartedAt ?? '');
  const after = (await pods(ns)).filter((p) => p.metadata?.deletionTimestamp === undefined);
  expect(after).toHaveLength(REPLICAS);
  const oldNames = new Set(before.map((p) => p.metadata?.name));
  for (const p of after) {
    expect(oldNames.has(p.metadata?.name), `${p.metadata?.name} was replaced`).toBe(false);
    expect(created(p)).toBeGreaterThanOrEqual(restartedAt);
  }
  return done;
}

describe('restarts on the real API server', () => {
  it('kubectl sluice restart replaces every pod one at a time, never two missing, and says so', async () => {
    const ns = await healthyApp('restart');
    const before = await pods(ns);
    const availability = watchAvailability(ns);
    // Pods are stamped in whole seconds: ask in a later second than the last was made.
    await new Promise((r) => setTimeout(r, 1_100));
    const asked = Math.floor(Date.now() / 1000) * 1000;
    const run = await kubectlSluice(ns, 'restart', 'web');
    expect(run).toMatchObject({ code: 0, err: '' });
    expect(run.out).toMatch(/restart requested/);

    const done = await expectRestarted(ns, before, asked);
    const { fewest, seen } = await availability.stop();
    expect(fewest, 'the fewest pods ready at once').toBeGreaterThanOrEqual(REPLICAS - 1);
    // Each old pod replaced once: three old, three new, nothing replaced twice.
    expect(seen.size).toBe(2 * REPLICAS);
    expect(done.status?.signals).toBeUndefined();
    expect(Date.parse(done.status?.restartRequestedAt ?? '')).toBeGreaterThanOrEqual(asked);

    const told = (await events(ns)).filter((e) => e.regarding?.kind === 'Rollout');
    expect(told.filter((e) => e.reason === 'PodRestarted')).toHaveLength(REPLICAS);
    expect(told.filter((e) => e.reason === 'RestartCompleted')).toHaveLength(1);
    const tree = await kubectlSluice(ns, 'get', 'rollout', 'web');
    expect(tree.out).toContain(`Restarted: every pod created after ${done.status?.restartedAt}`);
  });

  it('spec.restartAt, as Argo Rollouts writes it, restarts once its time has come', async () => {
    const ns = await healthyApp('restart-at');
    const before = await pods(ns);
    const at = new Date(Math.ceil((Date.now() + 3_000) / 1000) * 1000).toISOString().replace('.000Z', 'Z');
    await kube().custom.patchNamespacedCustomObject(
      {
        group: 'sluice.dev',
        version: 'v1alpha1',
        plural: 'rollouts',
        namespace: ns,
        name: 'web',
        body: { spec: { restartAt: at } },
      },
      MERGE_PATCH,
    );
    // Not before its time: the pods are still the old ones a moment before it.
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(at) - Date.now() - 1_000)));
    expect((await pods(ns)).map((p) => p.metadata?.name).sort()).toEqual(
      before.map((p) => p.metadata?.name).sort(),
    );
    const availability = watchAvailability(ns);
    const done = await expectRestarted(ns, before, Date.parse(at));
    expect(done.status?.restartedAt).toBe(at);
    expect((await availability.stop()).fewest).toBeGreaterThanOrEqual(REPLICAS - 1);
    // Done is done: the same restartAt read again replaces nothing.
    const settled = (await pods(ns)).map((p) => p.metadata?.name).sort();
    await new Promise((r) => setTimeout(r, 3_000));
    expect((await pods(ns)).map((p) => p.metadata?.name).sort()).toEqual(settled);
    expect((await getRollout(ns)).status?.restartedAt).toBe(at);
  });

  it('refuses a restartAt that is not a time, naming the field', async () => {
    const ns = await freshNamespace('restart-bad');
    const [rollout] = canaryApp(ns).filter((o) => o.kind === 'Rollout') as { spec: object }[];
    await expect(
      kube().custom.createNamespacedCustomObject({
        group: 'sluice.dev',
        version: 'v1alpha1',
        plural: 'rollouts',
        namespace: ns,
        body: { ...rollout, spec: { ...rollout!.spec, restartAt: 'tomorrow' } },
      }),
    ).rejects.toThrow(/spec\.restartAt/);
  });
});
