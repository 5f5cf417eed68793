import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { PrometheusProvider } from '../../analysis/provider.ts';
import { selector } from '../../analysis/queries.ts';
import { readTraffic } from '../../analysis/traffic-history.ts';
import { sandbox } from '../harness/env.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { promScalar } from '../harness/prometheus.ts';
import { setLoad, setProfile } from '../harness/traffic.ts';
import { waitFor } from '../harness/wait.ts';
import { hostOf, runOf, startAnalysisController } from '../support/analysis.ts';
import { apply, canaryApp, kubectlSluice, setImage, waitForEvent, waitForRollout } from '../support/apps.ts';

// A low-traffic Rollout: 1 request/s, 20% of it to the canary for one minute, judged by
// compareToStable with a 25% errors allowance and a p99 check. Twelve canary requests cannot
// show a 50% rise of a 10% error ratio, nor anything of their latency, and Sluice says so before the gate's first look: a Warning with the numbers, the
// same numbers on the AnalysisRun and in `kubectl sluice status`, and `kubectl sluice lint`
// against the sandbox's Prometheus prints them for the file.
describe('what a compareToStable gate can see', () => {
  it('a low-traffic Rollout is told its gate cannot see the configured effect, with the numbers', async () => {
    const ns = await freshNamespace('see');
    // 10% errors on the stable: at 1 request/s a few show up within seconds (binomial sampling).
    await setProfile(`shop/${ns}:1`, { errorRate: 0.1 });
    await setProfile(`shop/${ns}:2`, { errorRate: 0.1 });
    const objects = canaryApp(ns, {
      image: `shop/${ns}:1`,
      steps: [{ setWeight: 20 }, { pause: { duration: '1m' } }],
      canary: {
        analysis: {
          interval: '5s',
          compareToStable: { errors: { maxIncreasePercent: 25 }, latencyP99: { maxIncreasePercent: 20 } },
        },
      },
    });
    await apply(objects);
    await setLoad(hostOf('web', ns), 1);
    await startAnalysisController(ns);
    await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision to be stable');

    // The controller's own query against the real Prometheus, once the stable has half a minute
    // of history (its first seconds are too few for a rate) with some errors in it.
    const prom = new PrometheusProvider({ address: sandbox().PROMETHEUS_URL, timeoutMs: 5000 });
    const stable = selector({ namespace: ns, service: 'web-stable' });
    const history = await waitFor(
      async () => {
        if (((await promScalar(`sum(istio_requests_total{${stable}})`)) ?? 0) < 30) return undefined;
        const t = await readTraffic(
          prom,
          { namespace: ns, service: 'web-canary' },
          { namespace: ns, service: 'web-stable' },
        );
        return 'missing' in t || t.stableErrorRatio === 0 ? undefined : t;
      },
      { description: 'Prometheus to hold 30 s of traffic and some errors of web-stable', timeout: 90_000 },
    );
    // Divided by the time that had traffic, not by the hour: about 1 request/s.
    expect(history.requestsPerSecond).toBeGreaterThan(0.5);
    expect(history.requestsPerSecond).toBeLessThan(2);

    // lint, for the file, against the same Prometheus.
    const file = join(mkdtempSync(join(tmpdir(), 'sluice-see-')), 'rollout.yaml');
    writeFileSync(file, objects.map((o) => stringify(o)).join('---\n'));
    const lint = await kubectlSluice(ns, 'lint', '-f', file, '--prometheus', sandbox().PROMETHEUS_URL);
    expect(lint.code).toBe(1);
    expect(lint.out).toContain(
      `Rollout ${ns}/web (${file}, document ${objects.findIndex((o) => o.kind === 'Rollout') + 1}): the schema accepts it`,
    );
    expect(lint.out).toMatch(
      /background analysis \(compareToStable errors, latencyP99\): errors: cannot see the configured effect: no rise of the error ratio is caught with 90% power in 60s; the configured 50% \(25% allowed\) (needs \S+|is not caught within a day)\. p99 latency: cannot see the configured effect: no share of requests slower than 1\.2 × the stable's p99 is caught with 90% power in 60s; the configured 2% \(1% allowed\) (needs \S+|is not caught within a day)/,
    );
    expect(lint.out).toMatch(
      /assuming last hour: [\d.]+ requests\/s, [\d.]+% errors on stable; the release's timed steps: 60s at 20% on average/,
    );

    // The real Prometheus gave its scrape interval (1 s): a 5 s window holds two scrapes, and a
    // 1 s one would be widened as a run widens it.
    expect(lint.out).not.toMatch(/windows not checked|widened/);
    const short = canaryApp(ns, {
      image: `shop/${ns}:1`,
      steps: [{ setWeight: 20 }, { pause: { duration: '1m' } }],
      canary: { analysis: { interval: '1s', successRate: { min: 99 } } },
    });
    writeFileSync(file, short.map((o) => stringify(o)).join('---\n'));
    const widened = await kubectlSluice(ns, 'lint', '-f', file, '--prometheus', sandbox().PROMETHEUS_URL);
    expect(widened.out).toContain(
      "background analysis: successRate: rate window widened from 1s (the gate's interval 1s) to 2s: Prometheus scrapes every 1s and a rate needs 2 scrapes in its window",
    );

    // The release: the background gate's run says it before its first look.
    await setImage(ns, `shop/${ns}:2`);
    const warning = await waitForEvent(ns, 'GateCannotSee');
    expect(warning.type).toBe('Warning');
    expect(warning.note).toMatch(
      /^analysis web-\S+-bg-a0: errors: cannot see the configured effect: .*the configured 50% \(25% allowed\).*\. p99 latency: cannot see the configured effect: .* \(last hour: [\d.]+ requests\/s, [\d.]+% errors on stable; .*60s at 20% on average/,
    );
    const rollout = await waitForRollout(
      ns,
      (r) => r.status?.backgroundAnalysis !== undefined,
      'the background gate to start',
    );
    const run = await runOf(ns, rollout, 'backgroundAnalysis');
    expect(run?.status?.detectability).toMatchObject({
      outcome: 'CannotSee',
      canaryWeight: 20,
      allowedSeconds: 60,
      configuredPercent: 50,
      power: 0.9,
      latencyP99: { outcome: 'CannotSee', configuredPercent: 2 },
    });
    expect(run?.status?.detectability?.requestsPerSecond).toBeLessThan(2);
    expect(run?.status?.detectability?.detectablePercent).toBeUndefined();

    const status = await kubectlSluice(ns, 'get', 'rollout', 'web');
    expect(status.code).toBe(0);
    expect(status.out).toMatch(
      /What it can see: errors: cannot see the configured effect: .*\. p99 latency: cannot see the configured effect: /,
    );
  });
});
