import { describe, expect, it } from 'vitest';
import { freshNamespace } from '../harness/namespace.ts';
import { promScalar } from '../harness/prometheus.ts';
import { setLoad, setProfile } from '../harness/traffic.ts';
import {
  analysisRuns,
  createObject,
  hostOf,
  rollBackFailingThird,
  stallOnInvalidGate,
  startAnalysisController,
  stopPrometheus,
} from '../support/analysis.ts';
import {
  apply,
  blueGreenApp,
  canaryApp,
  canaryWeight,
  condition,
  selectedRevision,
  setImage,
  waitForRollout,
} from '../support/apps.ts';

const templatesPath = (ns: string) => `/apis/sluice.dev/v1alpha1/namespaces/${ns}/analysistemplates`;

describe('analysis gates on the sandbox', () => {
  it('Prometheus stopped mid-analysis: paused with an error, not promoted; started again: the release continues', async () => {
    const ns = await freshNamespace('an-prom');
    await apply(
      canaryApp(ns, {
        image: `shop/${ns}:1`,
        steps: [{ setWeight: 50 }, { pause: { duration: '40s' } }] as never,
        canary: {
          analysis: {
            interval: '2s',
            initialDelay: '6s',
            consecutiveErrorLimit: 1,
            successRate: { min: 95 },
          } as never,
        },
      }),
    );
    await setLoad(hostOf('web', ns), 60);
    await startAnalysisController(ns);
    const first = await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');
    await setImage(ns, `shop/${ns}:2`);
    await waitForRollout(
      ns,
      (r) => r.status?.backgroundAnalysis?.phase === 'Running',
      'background analysis to be measuring',
    );

    const startAgain = await stopPrometheus();
    const paused = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Paused' && r.status.pause?.reason === 'AnalysisError',
      'the release to pause on the analysis error',
      { timeout: 60_000 },
    );
    expect(paused.status?.pause?.message).toMatch(
      /Prometheus at http:\/\/127\.0\.0\.1:\d+ cannot be reached/,
    );
    expect(paused.status?.stableRevision).toBe(first.status?.stableRevision);
    expect(await canaryWeight(ns)).toBe(50); // paused, not aborted: traffic stays where it was

    await startAgain();
    const done = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy' && r.status.stableRevision !== first.status?.stableRevision,
      'the release to continue and be promoted once Prometheus is back',
      { timeout: 90_000 },
    );
    expect(done.status?.history?.at(-1)?.outcome).toBe('Promoted');
  });

  it('a custom AnalysisTemplate with a CEL condition gates an analysis step', async () => {
    const ns = await freshNamespace('an-tpl');
    await createObject(templatesPath(ns), {
      apiVersion: 'sluice.dev/v1alpha1',
      kind: 'AnalysisTemplate',
      metadata: { name: 'error-budget', namespace: ns },
      spec: {
        args: [{ name: 'service' }, { name: 'namespace' }],
        metrics: [
          {
            name: 'error-ratio',
            interval: '2s',
            count: 2,
            successCondition: 'result < 0.02',
            failureCondition: 'result >= 0.02',
            provider: {
              prometheus: {
                // `or on() vector(0)`: with no 5xx at all the numerator has no series.
                query:
                  '(sum(rate(istio_requests_total{destination_service_namespace="{{args.namespace}}",destination_service_name="{{args.service}}",response_code=~"5.."}[4s])) or on() vector(0)) / sum(rate(istio_requests_total{destination_service_namespace="{{args.namespace}}",destination_service_name="{{args.service}}"}[4s]))',
              },
            },
          },
        ],
      },
    });
    const step = {
      analysis: {
        initialDelay: '4s',
        templates: [{ templateName: 'error-budget' }],
        args: [
          { name: 'service', value: 'web-canary' },
          { name: 'namespace', value: ns },
        ],
      },
    };
    await apply(
      canaryApp(ns, { image: `shop/${ns}:1`, steps: [{ setWeight: 50 }, step, { setWeight: 100 }] as never }),
    );
    await setLoad(hostOf('web', ns), 60);
    await startAnalysisController(ns);
    const first = await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');

    // A healthy version passes the step...
    await setImage(ns, `shop/${ns}:2`);
    const promoted = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy' && r.status.stableRevision !== first.status?.stableRevision,
      'the step gate to pass and the release to finish',
      { timeout: 60_000 },
    );
    const passed = (await analysisRuns(ns)).find((r) => r.spec.gate === 'step');
    expect(passed?.status?.phase).toBe('Successful');
    expect(passed?.spec.metrics[0]?.provider.prometheus?.query).toContain(
      `destination_service_name="web-canary"`,
    );
    expect(passed?.status?.metricResults?.[0]?.count).toBe(2);

    // ...a version answering 30% errors fails it and is rolled back.
    const aborted = await rollBackFailingThird(
      ns,
      0.3,
      promoted.status?.stableRevision,
      'the step gate to fail and roll back',
      60_000,
    );
    expect(aborted.status?.message).toMatch(
      /error-ratio failed: value 0\.\d+ met failure condition "result >= 0.02"/,
    );
    expect(await canaryWeight(ns)).toBe(0);
  });

  it('a gate naming a missing template: run Error, Rollout paused and Stalled, traffic unchanged', async () => {
    const ns = await freshNamespace('an-miss');
    await apply(
      canaryApp(ns, {
        image: `shop/${ns}:1`,
        steps: [{ setWeight: 30 }, { analysis: { templates: [{ templateName: 'nope' }] } }] as never,
      }),
    );
    const { stalled } = await stallOnInvalidGate(ns, 'the release to stall on the missing template');
    expect(condition(stalled, 'Stalled')?.message).toMatch(
      /cannot proceed: AnalysisTemplate an-miss-\w+\/nope not found/,
    );
    expect(await canaryWeight(ns)).toBe(30);
  });

  it('blue-green whose pre-promotion gate fails keeps the active Service on the old version', async () => {
    const ns = await freshNamespace('an-bg');
    await apply(
      blueGreenApp(ns, {
        image: `shop/${ns}:1`,
        blueGreen: {
          autoPromotionEnabled: true,
          prePromotionAnalysis: { interval: '3s', initialDelay: '4s', successRate: { min: 95 } },
        } as never,
      }),
    );
    await setLoad(hostOf('web-active', ns), 30);
    await setLoad(hostOf('web-preview', ns), 30);
    await startAnalysisController(ns);
    const first = await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');
    const stable = first.status?.stableRevision;
    await setProfile(`shop/${ns}:2`, { errorRate: 0.5 });
    await setImage(ns, `shop/${ns}:2`);
    const aborted = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Degraded' && r.status.abort === true,
      'the pre-promotion gate to fail',
      { timeout: 60_000 },
    );
    expect(aborted.status?.stableRevision).toBe(stable);
    expect(aborted.status?.message).toMatch(/success-rate failed/);
    expect(await selectedRevision(ns, 'web-active')).toBe(stable);
    const run = (await analysisRuns(ns)).find((r) => r.spec.gate === 'prePromotion');
    expect(run?.spec.metrics[0]?.provider.prometheus?.query).toContain(
      'destination_service_name="web-preview"',
    );
    // Before the switch the users' version is behind the active Service: the gate's reference.
    expect(run?.spec.metrics[0]?.absolute).toMatchObject({
      canaryService: 'web-preview',
      stableService: 'web-active',
    });
    // The controller's own metrics are scraped by nobody here; Prometheus saw the simulator's.
    expect(
      await promScalar(`sum(istio_requests_total{destination_service_namespace="${ns}"})`),
    ).toBeGreaterThan(0);
  });
});
