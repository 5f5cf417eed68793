import { randomBytes } from 'node:crypto';
import { describe, expect, it, onTestFinished } from 'vitest';
import { judgeAbsoluteSamples } from '../../analysis/absolute-look.ts';
import { PrometheusProvider } from '../../analysis/provider.ts';
import { resolveGate, templateKey } from '../../analysis/resolve.ts';
import { ScrapeIntervalCache } from '../../analysis/scrape-interval.ts';
import { up } from '../../sandbox/lifecycle.ts';
import { sandbox } from '../harness/env.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { setLoad } from '../harness/traffic.ts';
import { waitFor } from '../harness/wait.ts';
import { analysisRuns, hostOf, startAnalysisController } from '../support/analysis.ts';
import { apply, canaryApp, setImage, waitForEvent, waitForRollout } from '../support/apps.ts';

// A builtin gate's window against the real Prometheus at a real setup's 15 s scrape: the window
// the user wrote (5 s) finds no series however much traffic there is; the one Sluice widens it
// to (two scrapes) finds it. The sandbox is brought back to its 1 s default at the end, whatever
// happens, for the other tests sharing it.
describe('a gate window shorter than two scrapes (real Prometheus)', () => {
  it('interval 5s at a 15 s scrape: widened to 30s, which sees the traffic the 5 s window cannot', async () => {
    // No Service behind the host: the simulator answers 503 for it, as Envoy would, and
    // reports the requests under this Service name: series enough for the builtin's query.
    const ns = `window-${randomBytes(3).toString('hex')}`;
    await setLoad(`web-canary.${ns}.svc.cluster.local`, 20);
    onTestFinished(async () => {
      await up({ flux: true });
    });
    await up({ flux: true, scrapeInterval: '15s' });

    const scrapeMs = await new ScrapeIntervalCache().get(sandbox().PROMETHEUS_URL);
    expect(scrapeMs).toBe(15_000);
    const { metrics, notes } = resolveGate({
      gates: { interval: '5s', successRate: { min: 95 } },
      gate: 'background',
      namespace: ns,
      service: 'web-canary',
      templates: new Map(),
      scrapeIntervals: new Map([['', scrapeMs as number]]),
    });
    expect(notes).toEqual([
      "successRate: rate window widened from 5s (the gate's interval 5s) to 30s: Prometheus scrapes every 15s and a rate needs 2 scrapes in its window",
    ]);
    const widened = metrics[0]?.provider.prometheus?.query as string;
    expect(widened).toContain('[30s]');

    // Until every sample in the last 30 s was taken at 15 s, the 1 s samples from before the
    // reload would still fill a short window. Both windows are then read at that same instant.
    const prom = new PrometheusProvider({ address: sandbox().PROMETHEUS_URL, timeoutMs: 5000 });
    const at = await waitFor(
      async () => {
        const t = new Date();
        const n = await prom.query('count_over_time(up{job="traffic-simulator"}[30s])', {
          at: t,
          expect: 'scalar',
        });
        return n.kind === 'value' && n.value === 2 ? t : undefined;
      },
      { description: 'an instant whose last 30 s hold only 15 s scrapes', timeout: 60_000, interval: 1000 },
    );
    // The builtin counts the window's requests. As written: at most one sample, so no increase
    // and no series, at every instant: no data.
    const gate = metrics[0] as (typeof metrics)[number];
    const asWritten = widened.replaceAll('[30s]', '[5s]');
    expect(await prom.series(asWritten, { at })).toEqual([]);
    expect(judgeAbsoluteSamples(gate, []).message).toMatch(/^no data/);
    // Widened: requests to judge (every request here is a 503: 0 %).
    const look = judgeAbsoluteSamples(gate, await prom.series(widened, { at }));
    expect(look.absolute.canary.requests).toBeGreaterThan(0);
    expect(look.value).toBe('0');

    // A template's own range is widened the same way, and the query Prometheus then runs finds
    // the series the one as written cannot. The label value holding `[5s]` is text, left alone.
    const selector = `reporter="destination",destination_service_namespace="${ns}",destination_service_name="web-canary",request_protocol!="[5s]"`;
    const templated = resolveGate({
      gates: { interval: '5s', templates: [{ templateName: 'rate' }] },
      gate: 'step',
      namespace: ns,
      templates: new Map([
        [
          templateKey({ templateName: 'rate' }),
          {
            metrics: [
              {
                name: 'requests',
                successCondition: 'result > 0.0',
                provider: { prometheus: { query: `sum(rate(istio_requests_total{${selector}}[5s]))` } },
              },
            ],
          },
        ],
      ]),
      scrapeIntervals: new Map([['', scrapeMs as number]]),
    });
    const run = templated.metrics[0]?.provider.prometheus?.query as string;
    expect(run).toBe(`sum(rate(istio_requests_total{${selector}}[30s]))`);
    expect(templated.notes).toEqual([
      'metric requests (template rate): query range [5s] widened to [30s]: Prometheus scrapes every 15s and a rate needs 2 scrapes in its window',
    ]);
    expect(await prom.series(`sum(rate(istio_requests_total{${selector}}[5s]))`, { at })).toEqual([]);
    expect((await prom.series(run, { at }))[0]?.value).toBeGreaterThan(0);

    // Back at the 1 s default, the same gate is left as written.
    await up({ flux: true });
    const again = await new ScrapeIntervalCache().get(sandbox().PROMETHEUS_URL);
    expect(again).toBe(1000);
    const plain = resolveGate({
      gates: { interval: '5s', successRate: { min: 95 } },
      gate: 'background',
      namespace: ns,
      service: 'web-canary',
      templates: new Map(),
      scrapeIntervals: new Map([['', again as number]]),
    });
    expect(plain.notes).toEqual([]);
    expect(plain.metrics[0]?.provider.prometheus?.query).toContain('[5s]');
  });

  it('the controller widens a 1s gate at the 1 s default scrape to 2s, says so in an Event, and the release is promoted', async () => {
    const ns = await freshNamespace('an-window');
    await apply(
      canaryApp(ns, {
        image: `shop/${ns}:1`,
        steps: [{ setWeight: 50 }, { pause: { duration: '8s' } }] as never,
        // initialDelay: the canary's pods take a few seconds to serve, and a first look
        // before that finds no data (issue 20's "first look waits for traffic" is not built yet).
        canary: { analysis: { interval: '1s', initialDelay: '6s', successRate: { min: 95 } } as never },
      }),
    );
    await setLoad(hostOf('web', ns), 40);
    await startAnalysisController(ns);
    const first = await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');
    await setImage(ns, `shop/${ns}:2`);

    const event = await waitForEvent(ns, 'AnalysisWindow');
    expect(event.type).toBe('Warning');
    expect(event.note).toMatch(
      /^analysis \S+: successRate: rate window widened from 1s \(the gate's interval 1s\) to 2s: Prometheus scrapes every 1s/,
    );
    const run = await waitFor(
      async () => (await analysisRuns(ns)).find((r) => r.spec.gate === 'background'),
      {
        description: 'the background AnalysisRun',
      },
    );
    expect(run.spec.metrics[0]?.provider.prometheus?.query).toContain('[2s]');
    expect(run.spec.metrics[0]?.interval).toBe('1s');
    expect(run.spec.metrics[0]?.initialDelay).toBe('6s'); // the user's, kept
    expect(run.metadata.annotations?.['sluice.dev/analysis-window']).toContain('widened from 1s');

    const done = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy' && r.status.stableRevision !== first.status?.stableRevision,
      'the release to be promoted with the widened gate measuring',
      { timeout: 90_000 },
    );
    expect(done.status?.history?.at(-1)?.outcome).toBe('Promoted');
  });
});
