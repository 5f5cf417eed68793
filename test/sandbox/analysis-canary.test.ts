import { describe, expect, it } from 'vitest';
import { freshNamespace } from '../harness/namespace.ts';
import { setLoad, setProfile } from '../harness/traffic.ts';
import { analysisRuns, hostOf, runOf, startAnalysisController } from '../support/analysis.ts';
import { apply, canaryApp, canaryWeight, recordWeights, setImage, waitForRollout } from '../support/apps.ts';

// Short intervals keep the suite quick: 3 s windows over a 1 s scrape interval. initialDelay
// lets the canary receive a window's worth of traffic before the first measurement.
const gates = (extra: Record<string, unknown> = {}) => ({
  interval: '3s',
  initialDelay: '4s',
  successRate: { min: 95 },
  latencyP99: { maxMs: 500 },
  ...extra,
});

async function canaryRelease(prefix: string, analysis: Record<string, unknown>, steps?: unknown[]) {
  const ns = await freshNamespace(prefix);
  const image = (v: number) => `shop/${ns}:${v}`;
  await apply(
    canaryApp(ns, {
      image: image(1),
      steps: (steps ?? [
        { setWeight: 50 },
        { pause: { duration: '10s' } },
        { setWeight: 80 },
        { pause: { duration: '4s' } },
      ]) as never,
      canary: { analysis: analysis as never },
    }),
  );
  await setLoad(hostOf('web', ns), 60);
  const controller = await startAnalysisController(ns);
  const first = await waitForRollout(
    ns,
    (r) => r.status?.phase === 'Healthy',
    'the first revision to be stable',
  );
  return { ns, image, stable: first.status?.stableRevision, controller };
}

describe('canary analysis against the real Prometheus', () => {
  it('promotes a healthy release with the background gates passing', async () => {
    const { ns, image, stable } = await canaryRelease('an-ok', gates());
    await setImage(ns, image(2));
    const done = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy' && r.status.stableRevision !== stable,
      'the healthy release to be promoted',
      { timeout: 90_000 },
    );
    const runs = await analysisRuns(ns);
    const bg = runs.find((r) => r.spec.gate === 'background');
    expect(bg?.spec.metrics.map((m) => m.name)).toEqual(['success-rate', 'latency-p99']);
    expect(bg?.status?.phase).toBe('Successful');
    const success = bg?.status?.metricResults?.find((m) => m.name === 'success-rate');
    expect(success?.successful).toBeGreaterThan(0);
    expect(Number(success?.measurements.at(-1)?.value)).toBeGreaterThanOrEqual(95);
    expect(done.status?.history?.at(-1)?.outcome).toBe('Promoted');
  });

  it('rolls back a canary answering 30% errors, canary weight 0 in the VirtualService', async () => {
    const { ns, image, stable, controller } = await canaryRelease('an-err', gates({ latencyP99: undefined }));
    // ~90 canary requests a window: enough for the bound to rule out 95% at 30% errors (8%,
    // as this test once used, is within what 90 requests cannot tell from 5%).
    await setProfile(image(2), { errorRate: 0.3 });
    const weights = await recordWeights(ns);
    await setImage(ns, image(2));
    const aborted = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Degraded' && r.status.abort === true,
      'the failing canary to be rolled back',
      { timeout: 90_000 },
    );
    expect(aborted.status?.stableRevision).toBe(stable);
    expect(aborted.status?.message).toMatch(/success-rate/);
    expect(await canaryWeight(ns)).toBe(0);
    expect(weights().at(-1)).toBe(0);
    expect(weights()).toContain(50);
    const run = await runOf(
      ns,
      { ...aborted, status: { ...aborted.status, backgroundAnalysis: undefined } },
      'analysis',
    );
    expect(run).toBeUndefined(); // the gate that failed is the background one
    const bg = (await analysisRuns(ns)).find((r) => r.spec.gate === 'background');
    expect(bg?.status?.phase).toBe('Failed');
    const exported = await (await fetch(`http://127.0.0.1:${await controller.metricsPort()}/metrics`)).text();
    // Each series names its Rollout, so an alert says which release rolled back.
    expect(exported).toContain(
      `sluice_rollbacks_total{namespace="${ns}",name="web",reason="AnalysisFailed"} 1`,
    );
    expect(exported).toContain(
      `sluice_analysis_measurements_total{namespace="${ns}",name="web",metric="success-rate",phase="Failed"} 1`,
    );
    expect(exported).toMatch(
      new RegExp(`sluice_analysis_metric_value\\{namespace="${ns}",name="web",metric="success-rate"\\} \\d`),
    );
    expect(bg?.status?.message).toMatch(
      /success-rate failed: success rate \d+(\.\d+)?% \(between [\d.]+% and [\d.]+% over \d+ requests\): past min 95% at confidence 0\.99; stable success rate 100%/,
    );
  });

  it('rolls back a canary whose p99 is 2 s', async () => {
    const { ns, image } = await canaryRelease('an-p99', gates({ successRate: undefined }));
    await setProfile(image(2), { latencyMs: { p50: 800, p99: 2000 } });
    await setImage(ns, image(2));
    const aborted = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Degraded' && r.status.abort === true,
      'the slow canary to be rolled back',
      { timeout: 90_000 },
    );
    expect(aborted.status?.message).toMatch(/latency-p99/);
    expect(await canaryWeight(ns)).toBe(0);
  });

  it('pauses a canary that receives no traffic as inconclusive and does not promote it', async () => {
    const ns = await freshNamespace('an-idle');
    await apply(
      canaryApp(ns, {
        image: `shop/${ns}:1`,
        steps: [{ setWeight: 50 }, { pause: { duration: '2s' } }] as never,
        canary: { analysis: gates() as never },
      }),
    );
    // No load at all for this host.
    await startAnalysisController(ns);
    const first = await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');
    await setImage(ns, `shop/${ns}:2`);
    const paused = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Paused' && r.status.pause?.reason === 'Inconclusive',
      'the idle canary to pause inconclusive',
      { timeout: 60_000 },
    );
    expect(paused.status?.stableRevision).toBe(first.status?.stableRevision);
    expect(paused.status?.pause?.message).toMatch(/no data/);
    // The run that found no data ended; the gate runs again as a watch while the release is
    // paused (test/sandbox/analysis-paused.test.ts shows the watch rolling a bad canary back).
    const watch = await runOf(ns, paused, 'backgroundAnalysis');
    const ended = (await analysisRuns(ns)).find(
      (r) => r.spec.gate === 'background' && `${r.metadata.name}-r1` === watch?.metadata.name,
    );
    expect(ended?.status?.phase).toBe('Inconclusive');
  });
});
