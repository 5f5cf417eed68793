import { describe, expect, it } from 'vitest';
import type { Rollout } from '../../crds/index.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { waitFor } from '../harness/wait.ts';
import { startAnalysisController, stopPrometheus } from '../support/analysis.ts';
import { getRollout } from '../support/apps.ts';
import { ReleaseChecker } from './checker.ts';
import { deployFleet, FIRST_WEIGHT, firstRevisions, type Member, releaseFleet } from './fleet.ts';
import { COUNTS, recordFigures } from './profile.ts';

async function allRollouts(ns: string, members: Member[]): Promise<Rollout[]> {
  return Promise.all(members.map((m) => getRollout(ns, m.name)));
}

describe('Prometheus goes away during analysis', () => {
  it(`stopped for ${COUNTS.prometheusOutageMs / 1000} s: nothing promoted, paused with an error, the releases continue when it returns`, async () => {
    const ns = await freshNamespace('chaos-prom');
    const checker = new ReleaseChecker(ns);
    await checker.start();
    // Background gates whose hold outlasts the time it takes to stop Prometheus and for the
    // gates to give up, and step gates that are still counting measurements when it goes.
    const background = await deployFleet(ns, {
      promote: 2,
      abort: 0,
      manual: 0,
      gate: 'background',
      holdSeconds: 60,
      prefix: 'bg-',
    });
    // 20 looks of 3 s: the step gates are still counting a minute after the release starts, however
    // long the background gates take to start; with 3 they could pass before Prometheus stops.
    const stepped = await deployFleet(ns, {
      promote: 2,
      abort: 0,
      manual: 0,
      prefix: 'step-',
      stepLooks: 20,
    });
    const members = [...background, ...stepped];
    await startAnalysisController(ns);
    const stable = await firstRevisions(ns, members);
    await releaseFleet(ns, members, stable, checker, { hold: true });
    await waitFor(
      async () =>
        (await allRollouts(ns, members)).every(
          (r) => r.status?.backgroundAnalysis?.phase === 'Running' || r.status?.analysis !== undefined,
        ),
      { description: 'every gate to be measuring', timeout: 90_000 },
    );

    const startAgain = await stopPrometheus();
    const stoppedAt = Date.now();
    const paused = await waitFor(
      async () => {
        const all = await allRollouts(ns, members);
        return all.every((r) => r.status?.phase === 'Paused' && r.status.pause?.reason === 'AnalysisError')
          ? all
          : undefined;
      },
      { description: 'every release to pause on the analysis error', timeout: COUNTS.prometheusOutageMs },
    );
    const pausedWithinMs = Date.now() - stoppedAt;
    for (const r of paused) {
      expect(r.status?.pause?.message).toMatch(/Prometheus at http:\/\/127\.0\.0\.1:\d+ cannot be reached/);
      expect(r.status?.canary?.weight).toBe(FIRST_WEIGHT);
    }
    // The rest of the outage: the checker fails the test on any promotion or weight change.
    await waitFor(() => Date.now() - stoppedAt >= COUNTS.prometheusOutageMs, {
      description: 'the outage to last its full length',
      timeout: COUNTS.prometheusOutageMs + 5_000,
      interval: 1000,
    });
    for (const r of await allRollouts(ns, members)) expect(r.status?.phase).toBe('Paused');

    // From the moment Prometheus starts answering the releases may go on: allowed before it starts.
    for (const m of members) checker.allowPromotion(m.name);
    await startAgain();
    const returnedAt = Date.now();
    const breaches = await checker.settle(180_000);
    recordFigures('prometheus-outage', {
      outageMs: returnedAt - stoppedAt,
      pausedWithinMs,
      finishedAfterReturnMs: Date.now() - returnedAt,
      ...checker.figures(),
    });
    expect(breaches).toEqual([]);
  });
});
