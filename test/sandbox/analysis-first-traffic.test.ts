import { describe, expect, it } from 'vitest';
import { freshNamespace } from '../harness/namespace.ts';
import { setLoad } from '../harness/traffic.ts';
import { waitFor } from '../harness/wait.ts';
import { analysisRun, hostOf, startAnalysisController } from '../support/analysis.ts';
import { apply, canaryApp, canaryWeight, recordWeights, setImage, waitForRollout } from '../support/apps.ts';

// A gate's first look waits for the canary's first traffic. Here the release opens with a timed
// pause at weight 0, so the background gate starts well before anything can reach the canary:
// looked at on the run's own clock, its first window (3 s) would find no canary series, end the
// run Inconclusive and pause a healthy release for a person.
const PAUSE_S = 12;

describe("a gate's first look waits for the canary's first traffic", () => {
  it('no look before the weight arrives, then judged on traffic and promoted', async () => {
    const ns = await freshNamespace('an-first');
    const image = (v: number) => `shop/${ns}:${v}`;
    await apply(
      canaryApp(ns, {
        image: image(1),
        steps: [
          { pause: { duration: `${PAUSE_S}s` } },
          { setWeight: 50 },
          { pause: { duration: '8s' } },
        ] as never,
        canary: { analysis: { interval: '3s', successRate: { min: 95 } } as never },
      }),
    );
    await setLoad(hostOf('web', ns), 60);
    await startAnalysisController(ns);
    const first = await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');
    const weights = await recordWeights(ns);
    await setImage(ns, image(2));

    // While the canary is at weight 0 the run waits, says so, and has taken no look.
    const started = await waitForRollout(
      ns,
      (r) => r.status?.backgroundAnalysis !== undefined,
      'the background gate to start',
    );
    const name = started.status?.backgroundAnalysis?.name ?? '';
    const waiting = await waitFor(
      async () => {
        const run = await analysisRun(ns, name);
        return /^waiting for canary traffic \(weight 0 in VirtualService web\)/.test(
          run.status?.message ?? '',
        )
          ? run
          : undefined;
      },
      { description: `run ${name} to say it waits for canary traffic`, timeout: 20_000 },
    );
    expect(await canaryWeight(ns)).toBe(0);
    expect(waiting.status?.phase).toBe('Pending');
    expect(waiting.status?.trafficSince).toBeUndefined();
    expect(waiting.status?.metricResults?.flatMap((m) => m.measurements)).toEqual([]);

    const done = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy' && r.status.stableRevision !== first.status?.stableRevision,
      'the release to be promoted on its gate',
      { timeout: 60_000 },
    );
    expect(done.status?.history?.at(-1)?.outcome).toBe('Promoted');
    expect(weights()).toContain(50);

    const run = await analysisRun(ns, name);
    expect(run.status?.phase).toBe('Successful');
    const created = Date.parse(run.metadata.creationTimestamp ?? '');
    const since = Date.parse(run.status?.trafficSince ?? '');
    // The clock started when the weight came, after the pause (creation has second precision).
    expect(since - created).toBeGreaterThanOrEqual((PAUSE_S - 1) * 1000);
    const looks = run.status?.metricResults?.find((m) => m.name === 'success-rate')?.measurements ?? [];
    expect(looks.length).toBeGreaterThan(0);
    // No undecided look at all, and none before one window of traffic (initialDelay = interval).
    expect(looks.map((m) => m.phase)).not.toContain('Inconclusive');
    for (const look of looks) expect(Date.parse(look.startedAt)).toBeGreaterThanOrEqual(since + 3000);
  });
});
