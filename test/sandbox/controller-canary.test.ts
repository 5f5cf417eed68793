import { describe, expect, it } from 'vitest';
import { REVISION_LABEL } from '../../controller/revision.ts';
import type { Rollout } from '../../crds/index.ts';
import { startController } from '../harness/controller.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { waitFor } from '../harness/wait.ts';
import {
  apply,
  type CanaryAppOptions,
  canaryApp,
  canaryWeight,
  condition,
  getService,
  getVirtualService,
  kubectlSluice,
  recordWeights,
  replicasOfRevision,
  selectedRevision,
  setImage,
  waitForEvent,
  waitForRollout,
} from '../support/apps.ts';

const INDEFINITE = [{ setWeight: 20 }, { pause: {} }, { setWeight: 50 }, { pause: {} }];

const pausedAt = (weight: number) => (r: Rollout) =>
  r.status?.phase === 'Paused' && r.status.pause?.reason === 'Step' && r.status.canary?.weight === weight;

/**
 * A canary app whose first revision is stable, then `web:2` released until the Rollout rests
 * at its first pause (weight 20). Returns the stable revision and the Rollout paused there.
 */
async function releaseToFirstPause(prefix: string, o: CanaryAppOptions = {}) {
  const ns = await freshNamespace(prefix);
  await apply(canaryApp(ns, { steps: INDEFINITE, ...o }));
  const controller = await startController(ns);
  const first = await waitForRollout(
    ns,
    (r) => r.status?.phase === 'Healthy',
    'the first revision to be stable',
  );
  const stable = first.status?.stableRevision as string;
  const weights = await recordWeights(ns);
  await setImage(ns, 'web:2');
  const paused = await waitForRollout(
    ns,
    (r) => pausedAt(20)(r) && r.status?.currentRevision !== stable,
    'the release of web:2 to rest at its first pause with weight 20',
  );
  const canary = paused.status?.currentRevision as string;
  return { ns, controller, stable, canary, paused, weights };
}

describe('canary releases on the real API server', () => {
  it('walks every step, with the weights traffic saw read from the VirtualService', async () => {
    const ns = await freshNamespace('canary');
    // A pause after each weight: consecutive steps with nothing to wait for are taken in one
    // reconcile, and traffic only ever sees the last weight of such a run.
    const steps = [
      { setWeight: 20 },
      { pause: { duration: '1s' } },
      { setWeight: 50 },
      { pause: { duration: '1s' } },
    ];
    await apply(canaryApp(ns, { steps }));
    await startController(ns);
    const first = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy',
      'the first revision to become stable',
    );
    const weights = await recordWeights(ns);

    await setImage(ns, 'web:2');
    const done = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy' && r.status.stableRevision !== first.status?.stableRevision,
      'the second revision to be promoted',
    );
    expect(weights()).toEqual([0, 20, 50, 0]);
    expect(done.status?.history?.at(-1)).toMatchObject({
      revision: done.status?.stableRevision,
      outcome: 'Promoted',
    });
    const vs = await getVirtualService(ns);
    expect(vs.spec.http?.[0]?.retries).toEqual({ attempts: 2 }); // the user's fields are untouched
    // The stable Service selected the new revision before the canary weight fell to 0, so no
    // request went back to the old revision during the promotion. A resourceVersion is etcd's
    // revision here, one counter for every object: it orders the two last writes.
    const stableService = await getService(ns, 'web-stable');
    expect(stableService.spec?.selector?.[REVISION_LABEL]).toBe(done.status?.stableRevision);
    expect(Number(stableService.metadata?.resourceVersion)).toBeLessThan(
      Number(vs.metadata?.resourceVersion),
    );
  });

  it('holds an indefinite pause until `kubectl sluice promote`, then continues step by step', async () => {
    const { ns, stable, canary, paused, weights } = await releaseToFirstPause('promote');
    expect(paused.status?.pause?.resumeAt).toBeUndefined();
    expect(paused.status?.observedGeneration).toBe(paused.metadata.generation);
    for (const c of paused.status?.conditions ?? [])
      expect(c.observedGeneration).toBe(paused.metadata.generation);
    expect(condition(paused, 'Paused')?.status).toBe('True');
    expect(await canaryWeight(ns)).toBe(20);
    expect(await selectedRevision(ns, 'web-canary')).toBe(canary);
    expect(await selectedRevision(ns, 'web-stable')).toBe(stable);

    const first = await kubectlSluice(ns, 'promote', 'web');
    expect(first, first.err).toMatchObject({ code: 0 });
    await waitForRollout(ns, pausedAt(50), 'the release to move on to the next pause at weight 50');
    expect(weights()).toEqual([0, 20, 50]);

    const second = await kubectlSluice(ns, 'promote', 'web');
    expect(second, second.err).toMatchObject({ code: 0 });
    const done = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy' && r.status.stableRevision === canary,
      'web:2 to be promoted',
    );
    expect(weights()).toEqual([0, 20, 50, 0]);
    expect(done.status?.history?.at(-1)).toMatchObject({ revision: canary, outcome: 'Promoted' });
    expect(await selectedRevision(ns, 'web-stable')).toBe(canary);
    await waitForEvent(ns, 'StepSkipped');
    // The old stable goes after scaleDownDelaySeconds.
    await waitFor(async () => (await replicasOfRevision(ns, stable)) === 0, {
      description: 'the old stable ReplicaSet to be scaled to 0',
    });
  });

  it('promotes in full on `promote --full`, skipping the remaining steps, and records why', async () => {
    const { ns, canary, weights } = await releaseToFirstPause('full');
    const run = await kubectlSluice(ns, 'promote', 'web', '--full');
    expect(run, run.err).toMatchObject({ code: 0 });
    const done = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy' && r.status.stableRevision === canary,
      'web:2 to be promoted in full',
    );
    expect(weights()).toEqual([0, 20, 0]); // 50 was never applied
    expect(done.status?.history?.at(-1)).toMatchObject({ revision: canary, outcome: 'Promoted' });
    expect(done.status?.history?.at(-1)?.reason).toMatch(/in full/);
    expect(done.status?.currentStepIndex).toBe(INDEFINITE.length);
    const event = await waitForEvent(ns, 'PromoteFull');
    expect(event.type).toBe('Warning');
  });

  it('aborts: weight 0 at once, canary scaled down after abortScaleDownDelaySeconds, Degraded and Stalled', async () => {
    const delay = 4;
    const { ns, stable, canary, weights } = await releaseToFirstPause('abort', {
      canary: { abortScaleDownDelaySeconds: delay },
    });
    const run = await kubectlSluice(ns, 'abort', 'web');
    expect(run, run.err).toMatchObject({ code: 0 });
    const aborted = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Degraded',
      'the release to be aborted',
    );
    expect(await canaryWeight(ns)).toBe(0);
    expect(weights()).toEqual([0, 20, 0]);
    expect(aborted.status?.abort).toBe(true);
    expect(condition(aborted, 'Stalled')).toMatchObject({ status: 'True' });
    expect(condition(aborted, 'Ready')).toMatchObject({ status: 'False' });
    expect(aborted.status?.history?.at(-1)).toMatchObject({ revision: canary, outcome: 'Aborted' });
    expect(await selectedRevision(ns, 'web-canary')).toBe(stable);
    const abortedAt = Date.parse(aborted.status?.abortedAt ?? '');
    expect(Number.isNaN(abortedAt)).toBe(false);

    // The canary stays up until the delay passes, then goes to zero.
    expect(await replicasOfRevision(ns, canary)).toBe(2);
    await waitFor(async () => (await replicasOfRevision(ns, canary)) === 0, {
      description: 'the aborted canary ReplicaSet to be scaled to 0',
      timeout: 30_000,
    });
    expect(Date.now()).toBeGreaterThanOrEqual(abortedAt + delay * 1000);
    expect(await replicasOfRevision(ns, stable)).toBe(2);
    await waitForEvent(ns, 'ReleaseAborted');
  });

  it('retries an aborted release from the first step', async () => {
    const { ns, canary, weights } = await releaseToFirstPause('retry');
    expect((await kubectlSluice(ns, 'abort', 'web')).code).toBe(0);
    await waitForRollout(ns, (r) => r.status?.phase === 'Degraded', 'the release to be aborted');
    await waitFor(async () => (await replicasOfRevision(ns, canary)) === 0, {
      description: 'the aborted canary to be scaled to 0',
    });

    const run = await kubectlSluice(ns, 'retry', 'web');
    expect(run, run.err).toMatchObject({ code: 0 });
    const again = await waitForRollout(
      ns,
      (r) => pausedAt(20)(r) && r.status?.currentRevision === canary,
      'the retried release to reach its first pause again',
    );
    expect(again.status?.attempt).toBe(1);
    expect(condition(again, 'Stalled')?.status).toBe('False');
    expect(await replicasOfRevision(ns, canary)).toBe(2);
    expect(weights()).toEqual([0, 20, 0, 20]);
    await waitForEvent(ns, 'ReleaseRetried');

    expect((await kubectlSluice(ns, 'promote', 'web', '--full')).code).toBe(0);
    await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy' && r.status.stableRevision === canary,
      'the retried release to be promoted',
    );
  });

  it('restarts with a newer revision pushed mid-release; the superseded canary goes down', async () => {
    const { ns, stable, canary, weights } = await releaseToFirstPause('supersede');
    await setImage(ns, 'web:3');
    const restarted = await waitForRollout(
      ns,
      (r) => pausedAt(20)(r) && r.status?.currentRevision !== canary && r.status?.currentRevision !== stable,
      'web:3 to reach the first pause',
    );
    const newer = restarted.status?.currentRevision as string;
    expect(restarted.status?.stableRevision).toBe(stable);
    expect(restarted.status?.history?.at(-1)).toMatchObject({ revision: canary, outcome: 'Superseded' });
    expect(await selectedRevision(ns, 'web-canary')).toBe(newer);
    await waitFor(async () => (await replicasOfRevision(ns, canary)) === 0, {
      description: 'the superseded canary ReplicaSet to be scaled to 0',
    });
    expect(await replicasOfRevision(ns, newer)).toBe(2);
    expect(weights()).toEqual([0, 20, 0, 20]);

    expect((await kubectlSluice(ns, 'promote', 'web', '--full')).code).toBe(0);
    await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy' && r.status.stableRevision === newer,
      'web:3 to be promoted',
    );
  });

  it('rolls back at once when the template goes back to stable mid-release', async () => {
    const { ns, stable, canary, weights } = await releaseToFirstPause('revert');
    await setImage(ns, 'web:1');
    const back = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy' && r.status.currentRevision === stable,
      'the release to roll back to stable',
    );
    expect(back.status?.stableRevision).toBe(stable);
    expect(back.status?.canary?.weight).toBe(0);
    expect(back.status?.history?.at(-1)).toMatchObject({ revision: canary, outcome: 'RolledBack' });
    expect(await canaryWeight(ns)).toBe(0);
    expect(weights()).toEqual([0, 20, 0]);
    expect(await selectedRevision(ns, 'web-canary')).toBe(stable);
    await waitFor(async () => (await replicasOfRevision(ns, canary)) === 0, {
      description: 'the rolled-back canary ReplicaSet to be scaled to 0',
    });
    await waitForEvent(ns, 'RolledBack');
  });
});
