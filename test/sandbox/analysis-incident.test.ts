import { describe, expect, it } from 'vitest';
import { freshNamespace } from '../harness/namespace.ts';
import { setLoad, setProfile } from '../harness/traffic.ts';
import { waitFor } from '../harness/wait.ts';
import { analysisRun, hostOf, startAnalysisController } from '../support/analysis.ts';
import { apply, canaryApp, recordWeights, setImage, waitForEvent, waitForRollout } from '../support/apps.ts';

// A shared incident: stable and canary both fail 8% of requests. The builtin's threshold (99%)
// is broken by both with confidence (200 rps, 4 s windows: ~400 requests a look each), so the
// release holds instead of rolling back, and carries on by itself once the incident is over.
describe('shared incident on the sandbox', () => {
  it('holds a release whose stable fails as much as its canary, then promotes it once the incident ends', async () => {
    const ns = await freshNamespace('an-incident');
    const image = (v: number) => `shop/${ns}:${v}`;
    await apply(
      canaryApp(ns, {
        image: image(1),
        steps: [{ setWeight: 50 }, { pause: { duration: '6s' } }] as never,
        canary: { analysis: { interval: '4s', initialDelay: '4s', successRate: { min: 99 } } as never },
      }),
    );
    await setLoad(hostOf('web', ns), 200);
    await startAnalysisController(ns);
    const first = await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');
    const weights = await recordWeights(ns);

    // The incident is on before the canary gets traffic, and hurts both versions alike.
    await setProfile(image(1), { errorRate: 0.08 });
    await setProfile(image(2), { errorRate: 0.08 });
    await setImage(ns, image(2));
    const held = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Paused' && r.status.pause?.reason === 'SharedIncident',
      'the release to hold for the shared incident',
      { timeout: 60_000 },
    );
    expect(held.status?.pause?.message).toMatch(
      /shared incident: the stable breaks min 99% too \(stable success rate .*; canary success rate /,
    );
    expect(held.status?.canary?.weight).toBe(50);
    expect((await waitForEvent(ns, 'SharedIncident')).note).toMatch(/held, not rolled back/);

    // Held through several looks of the incident (~15 s), not rolled back.
    const run = held.status?.backgroundAnalysis?.name ?? '';
    await waitFor(
      async () => {
        const r = await analysisRun(ns, run);
        return (r.status?.metricResults?.[0]?.incidents ?? 0) >= 3 ? r : undefined;
      },
      { description: 'three looks that found the shared incident', timeout: 60_000 },
    );

    // The incident ends for both versions: the next passing look resumes the release by itself.
    await setProfile(image(1), { errorRate: 0 });
    await setProfile(image(2), { errorRate: 0 });
    const done = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy' && r.status.stableRevision !== first.status?.stableRevision,
      'the release to resume and be promoted once the incident is over',
      { timeout: 60_000 },
    );
    expect(done.status?.history?.at(-1)?.outcome).toBe('Promoted');
    expect(done.status?.history?.some((h) => h.outcome === 'Aborted')).toBe(false);
    expect((await waitForEvent(ns, 'IncidentEnded')).note).toMatch(/resumed by itself/);
    // What traffic saw: the canary kept its 50% through the hold until promotion moved it all.
    const seen = weights();
    expect(seen.slice(seen.indexOf(50), seen.lastIndexOf(0))).not.toContain(0);
    expect(done.status?.abort).toBeUndefined();
  });
});
