import { describe, expect, it } from 'vitest';
import { PrometheusProvider } from '../../analysis/provider.ts';
import { selector } from '../../analysis/queries.ts';
import { sandbox } from '../harness/env.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { setLoad, setProfile } from '../harness/traffic.ts';
import { waitFor } from '../harness/wait.ts';
import { analysisRuns, hostOf, startAnalysisController } from '../support/analysis.ts';
import { apply, canaryApp, canaryWeight, kubectlSluice, setImage, waitForRollout } from '../support/apps.ts';

// compareToStable against the real Prometheus and the simulator's per-image error profiles.
// High load (the simulator samples in aggregate, so 600 requests/s cost little) gives the
// sequential test enough requests within a minute; 5 s looks over a 1 s scrape interval.
const LONG_STEPS = [{ setWeight: 50 }, { pause: { duration: '150s' } }];

async function release(
  ns: string,
  name: string,
  analysis: Record<string, unknown>,
  steps: unknown[],
  rps: number,
) {
  await apply(
    canaryApp(ns, {
      name,
      image: `shop/${ns}:1`,
      steps: steps as never,
      canary: { analysis: analysis as never },
    }),
  );
  await setLoad(hostOf(name, ns), rps);
}

/**
 * The first revision Healthy, and the simulator serving it: until the simulator sees its pods
 * ready it answers 503, and a comparison rightly counts those against stable. The test wants
 * the canary compared with a stable that serves at its profile's error rate.
 */
async function stableOf(ns: string, name: string) {
  const healthy = await waitForRollout(
    ns,
    (r) => r.status?.phase === 'Healthy',
    `${name}'s first revision to be stable`,
    {
      name,
    },
  );
  const prom = new PrometheusProvider({ address: sandbox().PROMETHEUS_URL });
  const stable = selector({ service: `${name}-stable`, namespace: ns });
  await waitFor(
    async () => {
      const [unavailable] = await prom.series(
        `sum(rate(istio_requests_total{${stable},response_code="503"}[3s])) or vector(0)`,
      );
      const [served] = await prom.series(
        `sum(rate(istio_requests_total{${stable},response_code!="503"}[3s]))`,
      );
      return unavailable?.value === 0 && (served?.value ?? 0) > 0;
    },
    { description: `the simulator to serve ${name}-stable without 503s`, timeout: 60_000 },
  );
  return healthy;
}

describe('compareToStable against the real Prometheus', () => {
  it('rolls back a canary at 99.5% success when stable is at 99.95%, which a 99% floor passes', async () => {
    const ns = await freshNamespace('cmp-small');
    await setProfile(`shop/${ns}:1`, { errorRate: 0.0005 });
    await setProfile(`shop/${ns}:2`, { errorRate: 0.005 });
    await release(
      ns,
      'web',
      {
        interval: '5s',
        // The canary's warm-up (the simulator noticing its pods) is neither gate's evidence.
        initialDelay: '10s',
        // 5 s looks: allow up to 30 without a verdict before pausing (the default is 10).
        inconclusiveLimit: 30,
        // A 99% floor over 5 s windows of ~1,500 canary requests at 0.5% errors dips below 99%
        // now and then by chance (the noise issue 8 is about); two strikes, as a user would allow.
        failureLimit: 2,
        successRate: { min: 99 },
        compareToStable: { errors: { maxIncreasePoints: 0.1 }, confidence: 0.99, minRequests: 200 },
      },
      LONG_STEPS,
      600,
    );
    await startAnalysisController(ns);
    const first = await stableOf(ns, 'web');
    await setImage(ns, `shop/${ns}:2`);
    const aborted = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Degraded' && r.status.abort === true,
      'the slightly worse canary to be rolled back',
      { timeout: 170_000 },
    );
    expect(aborted.status?.stableRevision).toBe(first.status?.stableRevision);
    // The numbers behind the verdict reach the Rollout's status, hence `kubectl sluice status`.
    expect(aborted.status?.message).toMatch(
      /compare-errors failed: canary worse than stable: error increase [\d.]+ points, between [\d.]+ and [\d.]+ with confidence 0\.99; allowed 0\.1 \(confidence reached [\d.]+; canary \d+ requests, stable \d+\)/,
    );
    expect(await canaryWeight(ns)).toBe(0);

    const bg = (await analysisRuns(ns)).find((r) => r.spec.gate === 'background');
    expect(bg?.status?.phase).toBe('Failed');
    const results = new Map((bg?.status?.metricResults ?? []).map((m) => [m.name, m]));
    // The absolute floor saw nothing wrong: it passed (within its failure limit) throughout.
    const floor = results.get('success-rate');
    expect(floor?.phase).not.toBe('Failed');
    expect(floor?.failed).toBeLessThanOrEqual(2);
    expect(floor?.successful).toBeGreaterThan(floor?.failed ?? 0);
    const compare = results.get('compare-errors');
    expect(compare?.phase).toBe('Failed');
    const last = compare?.measurements.at(-1);
    expect(last?.phase).toBe('Failed');
    const c = last?.comparison;
    expect(c?.verdict).toBe('worse');
    expect(c?.test).toBe('errors');
    expect(c?.lower).toBeGreaterThan(c?.margin ?? Number.POSITIVE_INFINITY);
    expect(c?.confidence).toBeGreaterThanOrEqual(c?.required ?? 1);
    expect(c?.canary.requests).toBeGreaterThan(1000);
    expect(c?.stable.requests).toBeGreaterThan(1000);
    expect(c?.canary.value).toBeGreaterThan(0.2);
    expect(c?.canary.value).toBeLessThan(1.2);
    expect(c?.stable.value).toBeLessThan(0.3);
    expect(last?.message).toMatch(/canary worse than stable/);
  }, 200_000);

  it('a shared incident (both at 5% errors) holds an absolute gate and does not fail compareToStable', async () => {
    const ns = await freshNamespace('cmp-incident');
    await setProfile(`shop/${ns}:1`, { errorRate: 0.05 });
    await setProfile(`shop/${ns}:2`, { errorRate: 0.05 });
    const steps = [{ setWeight: 50 }, { pause: { duration: '20s' } }];
    await release(ns, 'abs', { interval: '5s', successRate: { min: 99 } }, steps, 100);
    await release(
      ns,
      'cmp',
      {
        interval: '5s',
        inconclusiveLimit: 30,
        compareToStable: { errors: { maxIncreasePoints: 2 }, confidence: 0.99 },
      },
      steps,
      400,
    );
    await startAnalysisController(ns);
    const before = await stableOf(ns, 'cmp');
    await stableOf(ns, 'abs');
    await setImage(ns, `shop/${ns}:2`, 'abs');
    await setImage(ns, `shop/${ns}:2`, 'cmp');

    // The absolute floor sees the stable break it too: a shared incident, held, not blamed.
    const held = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Paused' && r.status.pause?.reason === 'SharedIncident',
      'the absolute gate to hold for the incident rather than blame the canary',
      { name: 'abs', timeout: 90_000 },
    );
    expect(held.status?.pause?.message).toMatch(/success-rate/);

    const promoted = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy' && r.status.stableRevision !== before.status?.stableRevision,
      'compareToStable to promote the healthy canary despite the incident',
      { name: 'cmp', timeout: 150_000 },
    );
    expect(promoted.status?.history?.at(-1)?.outcome).toBe('Promoted');
    const bg = (await analysisRuns(ns)).find((r) => r.spec.rollout === 'cmp' && r.spec.gate === 'background');
    const compare = bg?.status?.metricResults?.find((m) => m.name === 'compare-errors');
    expect(compare?.failed).toBe(0);
    expect(compare?.successful).toBeGreaterThan(0);
    const passed = compare?.measurements.find((m) => m.phase === 'Successful')?.comparison;
    expect(passed?.verdict).toBe('notWorse');
    // Passed on its bounds or on its power, whichever came first; either says why in numbers.
    const onBounds = (passed?.upper ?? Number.POSITIVE_INFINITY) < (passed?.margin ?? 0);
    const onPower = (passed?.power ?? 0) >= (passed?.powerRequired ?? 1);
    expect(onBounds || onPower).toBe(true);
    // Both arms really were in the incident.
    expect(passed?.canary.value).toBeGreaterThan(3);
    expect(passed?.stable.value).toBeGreaterThan(3);
  });

  it('a healthy canary at 20 requests/s is promoted by compareToStable without a person', async () => {
    const ns = await freshNamespace('cmp-20rps');
    await setProfile(`shop/${ns}:1`, { errorRate: 0.01 });
    await setProfile(`shop/${ns}:2`, { errorRate: 0.01 });
    await release(
      ns,
      'web',
      {
        interval: '5s',
        initialDelay: '10s',
        inconclusiveLimit: 30,
        // Allowed +3 points; a regression of +6 is what the default power (0.9) is stated against.
        compareToStable: { errors: { maxIncreasePoints: 3 } },
      },
      [{ setWeight: 50 }, { pause: { duration: '10s' } }],
      20,
    );
    await startAnalysisController(ns);
    const before = await stableOf(ns, 'web');
    await setImage(ns, `shop/${ns}:2`);
    // Nobody resumes or promotes here: Healthy on the new revision means the gate passed by itself.
    const promoted = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy' && r.status.stableRevision !== before.status?.stableRevision,
      'compareToStable to promote the healthy canary at 20 requests/s',
      { timeout: 150_000 },
    );
    expect(promoted.status?.history?.at(-1)?.outcome).toBe('Promoted');
    const bg = (await analysisRuns(ns)).find((r) => r.spec.gate === 'background');
    const compare = bg?.status?.metricResults?.find((m) => m.name === 'compare-errors');
    expect(compare?.failed).toBe(0);
    const pass = compare?.measurements.find((m) => m.phase === 'Successful');
    const c = pass?.comparison;
    expect(c?.verdict).toBe('notWorse');
    // 20 requests/s split in two: a few thousand requests at most, not the tens of thousands
    // the other tests use.
    expect(c?.canary.requests).toBeLessThan(4000);
    expect(c?.canary.requests).toBeGreaterThanOrEqual(100);
    expect(c?.powerRequired).toBe(0.9);
    expect(c?.regression).toBeGreaterThan(5.5);
    // It passed on its power or, sooner at this low error ratio, on its bounds; the message says which.
    if ((c?.power ?? 0) >= 0.9) {
      expect(pass?.message).toMatch(
        /a regression of 6 points would have been caught with probability [\d.]+ \(need 0\.9\)/,
      );
    } else {
      expect(c?.upper).toBeLessThan(c?.margin ?? 0);
      expect(pass?.message).toMatch(
        /canary not worse than stable: error increase .* allowed 3 \(confidence reached/,
      );
    }
  }, 200_000);

  it('a comparison resumed after an undecided pause keeps the evidence gathered before it', async () => {
    const ns = await freshNamespace('cmp-resume');
    // Same error rate on both sides and a tight effect: looks stay undecided for minutes, far
    // past the stated budget of two 5 s looks.
    await setProfile(`shop/${ns}:1`, { errorRate: 0.01 });
    await setProfile(`shop/${ns}:2`, { errorRate: 0.01 });
    await release(
      ns,
      'web',
      {
        interval: '5s',
        compareToStable: { errors: { maxIncreasePoints: 0.1 }, confidence: 0.99, maxDuration: '10s' },
      },
      LONG_STEPS,
      200,
    );
    await startAnalysisController(ns);
    await stableOf(ns, 'web');
    await setImage(ns, `shop/${ns}:2`);
    const held = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Paused' && r.status.pause?.reason === 'Inconclusive',
      'the undecided comparison to hold the release',
      { timeout: 90_000 },
    );
    expect(held.status?.pause?.message).toContain('no verdict after 2 looks (maxDuration 10s)');
    // Held, the gate already runs again as a watch (-r1); the first run is the undecided one.
    const first = (await analysisRuns(ns)).find(
      (r) => `${r.metadata.name}-r1` === held.status?.backgroundAnalysis?.name,
    );
    const before = first?.status?.metricResults?.[0]?.measurements.at(-1)?.comparison;
    expect(before?.verdict).toBe('undecided');

    expect((await kubectlSluice(ns, 'resume', 'web')).code).toBe(0);
    const rerunName = `${first?.metadata.name}-r2`;
    const rerun = await waitFor(
      async () => {
        const run = (await analysisRuns(ns)).find((r) => r.metadata.name === rerunName);
        return run?.status?.metricResults?.[0]?.measurements.length ? run : undefined;
      },
      { description: `the re-run ${rerunName} to take its first look`, timeout: 60_000 },
    );
    // The first run counted from the canary's first traffic (or, without it, its creation).
    expect(Date.parse(rerun.spec.evidenceSince ?? '')).toBe(
      Date.parse(first?.status?.trafficSince ?? String(first?.metadata.creationTimestamp)),
    );
    // Its first look already counts everything the first run saw, and more.
    const after = rerun.status?.metricResults?.[0]?.measurements[0]?.comparison;
    expect(after?.canary.requests).toBeGreaterThan(before?.canary.requests ?? Number.POSITIVE_INFINITY);
    expect(after?.stable.requests).toBeGreaterThan(before?.stable.requests ?? Number.POSITIVE_INFINITY);
  }, 200_000);
});
