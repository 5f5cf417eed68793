import { describe, expect, it } from 'vitest';
import { freshNamespace } from '../harness/namespace.ts';
import { setProfile } from '../harness/traffic.ts';
import { waitFor } from '../harness/wait.ts';
import { analysisRuns, runOf, startAnalysisController } from '../support/analysis.ts';
import { getRollout, kubectlSluice } from '../support/apps.ts';
import { ReleaseChecker } from './checker.ts';
import { deployFleet, firstRevisions, passedOnce, releaseFleet } from './fleet.ts';
import { recordFigures } from './profile.ts';

describe("the simulator's metrics turn to NaN or vanish mid-analysis", () => {
  it('inconclusive, never success: the releases pause, and continue once metrics are back', async () => {
    const ns = await freshNamespace('chaos-nan');
    const checker = new ReleaseChecker(ns);
    await checker.start();
    const members = await deployFleet(ns, {
      promote: 4,
      abort: 0,
      manual: 0,
      gate: 'background',
      holdSeconds: 90,
    });
    await startAnalysisController(ns);
    const stable = await firstRevisions(ns, members);
    // Held: none of these may be promoted while its metrics are broken.
    await releaseFleet(ns, members, stable, checker, { hold: true });

    // Each gate first sees real data, then its revision's series go bad: NaN for half, gone for half.
    const mode = (i: number) => (i % 2 === 0 ? 'nan' : 'absent');
    const broken = new Set<string>();
    await waitFor(
      async () => {
        for (const [i, m] of members.entries()) {
          if (broken.has(m.name)) continue;
          const run = await runOf(ns, await getRollout(ns, m.name), 'backgroundAnalysis');
          if (!passedOnce(run)) continue;
          await setProfile(m.image(2), { metrics: mode(i) });
          broken.add(m.name);
        }
        return broken.size === members.length ? true : undefined;
      },
      { description: 'every gate to pass a measurement before its metrics break', timeout: 120_000 },
    );
    const brokenAt = Date.now();
    const held = await waitFor(
      async () => {
        const all = await Promise.all(members.map((m) => getRollout(ns, m.name)));
        return all.every((r) => r.status?.phase === 'Paused' && r.status.pause?.reason === 'Inconclusive')
          ? all
          : undefined;
      },
      { description: 'every release to pause as inconclusive', timeout: 90_000 },
    );
    const pausedWithinMs = Date.now() - brokenAt;
    for (const r of held) {
      expect(r.status?.pause?.message).toMatch(/no data/);
      expect(r.status?.stableRevision).toBe(stable.get(r.metadata.name ?? ''));
      // The run that found no data ended; the gate runs again as a watch while the release is
      // paused (a failing look would still roll it back: test/sandbox/analysis-paused.test.ts).
      const watch = await runOf(ns, r, 'backgroundAnalysis');
      const ended = (await analysisRuns(ns)).find(
        (x) => x.spec.gate === 'background' && `${x.metadata.name}-r1` === watch?.metadata.name,
      );
      expect(ended?.status?.phase).toBe('Inconclusive');
    }
    // No measurement taken on broken metrics counted as a success.
    for (const run of await analysisRuns(ns)) {
      for (const m of run.status?.metricResults ?? []) {
        for (const x of m.measurements) {
          if (x.phase === 'Successful') expect(Number.isFinite(Number(x.value))).toBe(true);
        }
      }
    }

    // Metrics come back; a person resumes; each release goes on to promotion.
    for (const m of members) {
      await setProfile(m.image(2), { metrics: 'ok' });
      checker.allowPromotion(m.name);
      const run = await kubectlSluice(ns, 'resume', m.name);
      expect(run, run.err).toMatchObject({ code: 0 });
    }
    const breaches = await checker.settle(180_000);
    recordFigures('metrics-vanish', { pausedWithinMs, ...checker.figures() });
    expect(breaches).toEqual([]);
  });
});
