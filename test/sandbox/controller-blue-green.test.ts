import { describe, expect, it } from 'vitest';
import type { Rollout } from '../../crds/index.ts';
import { startController } from '../harness/controller.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { waitFor } from '../harness/wait.ts';
import {
  apply,
  type BlueGreenAppOptions,
  blueGreenApp,
  kubectlSluice,
  replicasOfRevision,
  selectedRevision,
  setImage,
  waitForRollout,
} from '../support/apps.ts';

/** A blue-green app with its first revision active; returns the namespace and that revision. */
async function activeApp(prefix: string, o: BlueGreenAppOptions) {
  const ns = await freshNamespace(prefix);
  await apply(blueGreenApp(ns, o));
  await startController(ns);
  const first = await waitForRollout(
    ns,
    (r) => r.status?.phase === 'Healthy',
    'the first revision to be active',
  );
  const blue = first.status?.stableRevision as string;
  expect(await selectedRevision(ns, 'web-active')).toBe(blue);
  expect(await selectedRevision(ns, 'web-preview')).toBe(blue);
  return { ns, blue };
}

const promotedTo = (stable: string) => (r: Rollout) =>
  r.status?.phase === 'Healthy' &&
  r.status.stableRevision !== undefined &&
  r.status.stableRevision !== stable;

describe('blue-green releases on the real API server', () => {
  it('switches the active Service after autoPromotionSeconds, then scales the old revision down', async () => {
    const auto = 3;
    const delay = 3;
    const { ns, blue } = await activeApp('bg-auto', {
      blueGreen: { autoPromotionSeconds: auto, scaleDownDelaySeconds: delay },
    });
    await setImage(ns, 'web:2');
    const waiting = await waitForRollout(
      ns,
      (r) => r.status?.blueGreen?.previewReadyAt !== undefined && r.status.currentRevision !== blue,
      'the preview to be ready and wait for auto-promotion',
    );
    const green = waiting.status?.currentRevision as string;
    const readyAt = Date.parse(waiting.status?.blueGreen?.previewReadyAt ?? '');
    expect(waiting.status?.pause?.reason).toBe('AwaitingPromotion');
    expect(Date.parse(waiting.status?.pause?.resumeAt ?? '')).toBe(readyAt + auto * 1000);
    expect(await selectedRevision(ns, 'web-preview')).toBe(green);

    const done = await waitForRollout(ns, promotedTo(blue), 'the preview to be promoted automatically');
    const switched = Date.now();
    expect(await selectedRevision(ns, 'web-active')).toBe(green);
    expect(switched).toBeGreaterThanOrEqual(readyAt + auto * 1000);
    expect(Date.parse(done.status?.blueGreen?.promotedAt ?? '')).toBeGreaterThanOrEqual(
      readyAt + auto * 1000,
    );
    expect(done.status?.history?.at(-1)).toMatchObject({ revision: green, outcome: 'Promoted' });

    // The old revision stays up for scaleDownDelaySeconds, then goes to zero.
    const promotedAt = Date.parse(done.status?.blueGreen?.promotedAt ?? '');
    await waitFor(async () => (await replicasOfRevision(ns, blue)) === 0, {
      description: 'the old revision to be scaled to 0',
    });
    expect(Date.now()).toBeGreaterThanOrEqual(promotedAt + delay * 1000);
    expect(await replicasOfRevision(ns, green)).toBe(2);
  });

  it('waits for `kubectl sluice promote` with autoPromotionEnabled: false', async () => {
    const { ns, blue } = await activeApp('bg-manual', {
      blueGreen: { autoPromotionEnabled: false, scaleDownDelaySeconds: 2 },
    });
    await setImage(ns, 'web:2');
    const waiting = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Paused' && r.status.currentRevision !== blue,
      'the preview to wait for promotion',
    );
    const green = waiting.status?.currentRevision as string;
    expect(waiting.status?.pause).toMatchObject({ reason: 'AwaitingPromotion' });
    expect(waiting.status?.pause?.resumeAt).toBeUndefined();
    expect(await selectedRevision(ns, 'web-active')).toBe(blue);
    expect(await selectedRevision(ns, 'web-preview')).toBe(green);
    await waitFor(async () => (await replicasOfRevision(ns, green)) === 2, {
      description: 'the preview ReplicaSet to run 2 replicas',
    });

    const run = await kubectlSluice(ns, 'promote', 'web');
    expect(run, run.err).toMatchObject({ code: 0 });
    const done = await waitForRollout(ns, promotedTo(blue), 'the preview to be promoted on request');
    expect(done.status?.stableRevision).toBe(green);
    expect(await selectedRevision(ns, 'web-active')).toBe(green);
    expect(done.status?.history?.at(-1)).toMatchObject({ revision: green, outcome: 'Promoted' });
    await waitFor(async () => (await replicasOfRevision(ns, blue)) === 0, {
      description: 'the old revision to be scaled to 0',
    });
    expect(await replicasOfRevision(ns, green)).toBe(2);
  });
});
