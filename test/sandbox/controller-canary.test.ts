import { describe, expect, it } from 'vitest';
import { startController } from '../harness/controller.ts';
import { freshNamespace } from '../harness/namespace.ts';
import {
  apply,
  canaryApp,
  getVirtualService,
  recordWeights,
  setImage,
  waitForRollout,
} from '../support/apps.ts';

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
  });
});
