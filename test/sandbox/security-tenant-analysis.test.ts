import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { AnalysisRun, Rollout } from '../../crds/index.ts';
import { startController } from '../harness/controller.ts';
import { sandbox } from '../harness/env.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { setLoad, setProfile } from '../harness/traffic.ts';
import { waitFor } from '../harness/wait.ts';
import { analysisRuns, createObject, hostOf, stepAnalysisRelease } from '../support/analysis.ts';
import { apply, canaryApp, condition, setImage, waitForRollout } from '../support/apps.ts';
import { silentServer } from '../support/silent-server.ts';

// Tenant input that tries to take the analysis runner's time, memory or network reach: each
// attack as a namespace tenant would write it, against the real API server and Prometheus, with
// the controller under deploy/'s ServiceAccount.

const templates = (ns: string) => `/apis/sluice.dev/v1alpha1/namespaces/${ns}/analysistemplates`;
const INSTANCE_LABEL = 'sluice.dev/controller-instance';
/** deploy/deployment.yaml: `limits: {memory: 512Mi}`. */
const MEMORY_LIMIT_BYTES = 512 * 1024 * 1024;

const closeWhenDone = (server: Server) =>
  onTestFinished(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

/** A loopback HTTP server answering every request with `answer`; counts requests. */
async function httpServer(
  answer: (res: import('node:http').ServerResponse) => void,
): Promise<{ url: string; hits: () => number }> {
  let hits = 0;
  const server = createHttpServer((_req, res) => {
    hits++;
    answer(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closeWhenDone(server);
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, hits: () => hits };
}

const withInstance = (objects: KubernetesObject[], instance: string) =>
  objects.map((o) =>
    o.kind === 'Rollout' ? { ...o, metadata: { ...o.metadata, labels: { [INSTANCE_LABEL]: instance } } } : o,
  );

/** The controller's peak resident memory (VmHWM), from the kernel's own account of the process. */
function peakRssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmHWM:'));
  return Number(line?.match(/(\d+)\s*kB/)?.[1] ?? Number.NaN) * 1024;
}

const template = (name: string, metric: Record<string, unknown>) => ({
  apiVersion: 'sluice.dev/v1alpha1',
  kind: 'AnalysisTemplate',
  metadata: { name },
  spec: { metrics: [{ name, ...metric }] },
});

describe('a tenant cannot starve, flood or aim the analysis runner (real API server)', () => {
  it("tenant A's hostile gates leave tenant B's failed canary rolled back within its interval + 5 s", async () => {
    const a = await freshNamespace('sec-an-a');
    const b = await freshNamespace('sec-an-b');
    // One controller for both tenants (fairness is between namespaces), cluster-wide but owning
    // only Rollouts (and so runs) with this instance label: other tests share the sandbox.
    const instance = `sec-an-${randomBytes(4).toString('hex')}`;
    const silent = await silentServer();
    // Stand-in for a Prometheus holding 100,000 series: the sandbox's real one holds no such data.
    const manySeries = JSON.stringify({
      status: 'success',
      data: {
        resultType: 'vector',
        result: Array.from({ length: 100_000 }, (_, i) => ({ metric: { i: String(i) }, value: [1, '1'] })),
      },
    });
    const huge = await httpServer((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(manySeries);
    });

    // Tenant A's four templates.
    const waits = { interval: '5s', consecutiveErrorLimit: 1000, successCondition: 'result >= 0.0' };
    await createObject(
      templates(a),
      template('silent', {
        ...waits,
        provider: { prometheus: { address: silent.url, timeout: '30s', query: 'up' } },
      }),
    );
    const hotLoop = await createObject(
      templates(a),
      template('hot-loop', { interval: '0s', provider: { prometheus: { query: 'up' } } }),
    ).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(`${(hotLoop as Error)?.message} ${JSON.stringify((hotLoop as { body?: unknown })?.body)}`).toMatch(
      /spec\.metrics\[0\]\.interval.*must be at least 1s/,
    );
    await createObject(
      templates(a),
      template('everything', {
        ...waits,
        provider: { prometheus: { address: huge.url, query: '{__name__=~".+"}' } },
      }),
    );
    await createObject(
      templates(a),
      template('quadratic', {
        ...waits,
        successCondition: 'result.all(x, x in result)',
        provider: { prometheus: { query: 'up' } },
      }),
    );

    // Four Rollouts gated on the silent address (as many as there are analysis workers), one
    // each on the huge answer and the quadratic condition; tenant B's one.
    const gated = (name: string, templateName: string) =>
      withInstance(
        canaryApp(a, {
          name,
          image: `shop/${a}-${name}:1`,
          replicas: 1,
          steps: [{ setWeight: 20 }, { pause: {} }] as never,
          canary: { analysis: { templates: [{ templateName }] } as never },
        }),
        instance,
      );
    const tenantA = ['s1', 's2', 's3', 's4'].map((n) => gated(n, 'silent'));
    tenantA.push(gated('everything', 'everything'), gated('quadratic', 'quadratic'));
    for (const objects of tenantA) await apply(objects);
    const bInterval = 5_000;
    await apply(
      withInstance(
        canaryApp(b, {
          image: `shop/${b}:1`,
          replicas: 1,
          steps: [{ setWeight: 50 }, { pause: { duration: '5m' } }] as never,
          canary: {
            // inconclusiveLimit: a first window without data (pods still starting) pauses nothing.
            analysis: {
              interval: '5s',
              initialDelay: '6s',
              inconclusiveLimit: 20,
              successRate: { min: 95 },
            } as never,
          },
        }),
        instance,
      ),
    );
    await setLoad(hostOf('web', b), 60);

    const controller = await startController(a, {
      args: [
        '--namespace',
        '',
        '--instance-id',
        instance,
        '--prometheus-url',
        sandbox().PROMETHEUS_URL,
        '--prometheus-allowed-urls',
        `${silent.url},${huge.url}`,
      ],
    });
    const names = ['s1', 's2', 's3', 's4', 'everything', 'quadratic'];
    for (const name of names) {
      await waitForRollout(a, (r) => r.status?.phase === 'Healthy', `tenant A's ${name} to be stable`, {
        name,
      });
    }
    await waitForRollout(b, (r) => r.status?.phase === 'Healthy', "tenant B's first revision");

    // Tenant A releases the flood and the quadratic condition first: once its silent gates hold
    // its share of the workers, its own other gates wait behind them (its problem, by design).
    for (const name of ['everything', 'quadratic']) await setImage(a, `shop/${a}-${name}:2`, name);
    // Tenant A's other gates: the huge answer is refused by the series cap, the quadratic
    // condition before anything is measured.
    const runsA = async () => (await analysisRuns(a)).filter((r) => r.spec.gate === 'background');
    const byRollout = async (name: string) =>
      (await runsA()).find((r: AnalysisRun) => r.spec.rollout === name && r.status?.metricResults?.length);
    const flooded = await waitFor(
      async () => {
        const r = await byRollout('everything');
        return r?.status?.metricResults?.[0]?.measurements.at(-1)?.message ? r : undefined;
      },
      { description: 'the huge answer to be measured', timeout: 60_000 },
    );
    expect(flooded.status?.metricResults?.[0]?.measurements.at(-1)?.message).toMatch(
      /query returned 100000 series, more than the limit of 10000/,
    );
    expect(huge.hits()).toBeGreaterThan(0);
    const quadratic = await waitFor(
      async () => (await runsA()).find((r) => r.spec.rollout === 'quadratic' && r.status?.phase === 'Error'),
      { description: 'the quadratic condition to be refused', timeout: 30_000 },
    );
    expect(quadratic.status?.reason).toBe('InvalidAnalysis');
    expect(quadratic.status?.message).toMatch(/metric quadratic.*result\.all\(x, x in result\).*not allowed/);
    // Only tenant A's own release stops, and says why.
    await waitForRollout(
      a,
      (r: Rollout) =>
        r.status?.pause?.reason === 'AnalysisError' && condition(r, 'Stalled')?.status === 'True',
      "tenant A's quadratic release to stall on its refused condition",
      { name: 'quadratic' },
    );

    // Then the silent gates: they start waiting on the silent address.
    for (const name of ['s1', 's2', 's3', 's4']) await setImage(a, `shop/${a}-${name}:2`, name);
    await waitFor(() => silent.open() >= 2, {
      description: "tenant A's silent gates to be waiting on the silent address",
      timeout: 60_000,
    });

    // Tenant B releases a version answering half its requests with 503.
    await setProfile(`shop/${b}:2`, { errorRate: 0.5 });
    await setImage(b, `shop/${b}:2`);
    const aborted = await waitForRollout(
      b,
      (r) => r.status?.phase === 'Degraded' && r.status.abort === true,
      "tenant B's failed canary to be rolled back",
      { timeout: 90_000 },
    );
    const abortedAt = Date.now();
    // How late the verdict came: from when the failing measurement was due (the run's start plus
    // initialDelay for the first, else the previous one's end plus the interval) to the rollback
    // seen here. A starved runner takes the measurement late, so this is what starvation shows.
    // (creationTimestamp has second precision, rounded down: the figure errs long, never short.)
    const run = (await analysisRuns(b)).find((r) => r.spec.gate === 'background');
    const measurements =
      run?.status?.metricResults?.find((m) => m.name === 'success-rate')?.measurements ?? [];
    const failing = measurements.findIndex((m) => m.phase === 'Failed');
    expect(failing).toBeGreaterThanOrEqual(0);
    const previous = measurements[failing - 1];
    const dueAt = previous
      ? Date.parse(previous.finishedAt ?? previous.startedAt) + bInterval
      : Date.parse(run?.metadata.creationTimestamp ?? '') + 6_000;
    const lateMs = abortedAt - dueAt;
    console.log(
      `tenant B rolled back ${lateMs} ms after its failing measurement was due (bound ${bInterval + 5000} ms; measurement ${failing + 1})`,
    );
    expect(aborted.status?.message).toMatch(/success-rate failed/);
    expect(lateMs).toBeLessThan(bInterval + 5_000);
    // Tenant A never held more than half of the four analysis workers on the silent address.
    expect(silent.mostOpen()).toBeLessThanOrEqual(2);

    // All of it in the controller's memory limit.
    const peak = peakRssBytes(controller.proc.pid as number);
    console.log(
      `controller peak RSS ${(peak / 1024 / 1024).toFixed(0)} MiB (limit ${MEMORY_LIMIT_BYTES / 1024 / 1024} MiB)`,
    );
    expect(peak).toBeLessThan(MEMORY_LIMIT_BYTES);
  }, 300_000);

  it('a redirect is not followed, and an address outside the allowlist is never asked', async () => {
    const target = await httpServer((res) =>
      res.end('{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}'),
    );
    const redirector = await httpServer((res) => {
      res.writeHead(302, { location: `${target.url}/api/v1/query?query=up` });
      res.end();
    });
    const { ns } = await stepAnalysisRelease(
      'sec-an-redir',
      { name: 'probe', interval: '1s', provider: { prometheus: { address: redirector.url, query: 'up' } } },
      { SLUICE_PROMETHEUS_URL: sandbox().PROMETHEUS_URL, SLUICE_PROMETHEUS_ALLOWED_URLS: redirector.url },
    );
    const measured = await waitFor(
      async () => (await analysisRuns(ns)).find((r) => r.status?.metricResults?.[0]?.measurements.length),
      { description: 'the redirecting address to be measured', timeout: 60_000 },
    );
    expect(measured.status?.metricResults?.[0]?.measurements[0]?.message).toBe(
      `Prometheus at ${redirector.url} answered HTTP 302: redirects are not followed`,
    );
    expect(redirector.hits()).toBeGreaterThan(0);
    expect(target.hits()).toBe(0);

    const recorder = await httpServer((res) => res.end('{}'));
    const refused = await stepAnalysisRelease(
      'sec-an-deny',
      { name: 'probe', interval: '1s', provider: { prometheus: { address: recorder.url, query: 'up' } } },
      { SLUICE_PROMETHEUS_URL: sandbox().PROMETHEUS_URL },
    );
    const run = await waitFor(
      async () => (await analysisRuns(refused.ns)).find((r) => r.status?.phase === 'Error'),
      { description: 'the run naming a foreign address to fail at start', timeout: 60_000 },
    );
    expect(run.status?.reason).toBe('InvalidAnalysis');
    expect(run.status?.message).toMatch(
      /metric probe \(template probe\): provider\.prometheus\.address http:\/\/127\.0\.0\.1:\d+ is not allowed: .*--prometheus-url.*--prometheus-allowed-urls \(none are listed\)/,
    );
    expect(recorder.hits()).toBe(0);
  }, 180_000);
});
