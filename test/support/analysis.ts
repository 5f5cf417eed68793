import { expect, onTestFinished } from 'vitest';
import { requestJson } from '../../controller/kube/client.ts';
import type { AnalysisRun, Rollout } from '../../crds/index.ts';
import { stopDaemon } from '../../sandbox/proc.ts';
import { ensurePrometheus, prometheusUrl } from '../../sandbox/prometheus.ts';
import { startController } from '../harness/controller.ts';
import { sandbox } from '../harness/env.ts';
import { kube } from '../harness/kube.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { setLoad, setProfile } from '../harness/traffic.ts';
import { waitFor } from '../harness/wait.ts';
import { apply, canaryApp, canaryWeight, condition, setImage, waitForRollout } from './apps.ts';

/** The controller under test, pointed at the sandbox's real Prometheus. */
export function startAnalysisController(namespace: string) {
  return startController(namespace, { args: ['--prometheus-url', sandbox().PROMETHEUS_URL] });
}

/** The in-cluster name the traffic simulator resolves through the namespace's VirtualService. */
export const hostOf = (name: string, namespace: string) => `${name}.${namespace}.svc.cluster.local`;

export async function analysisRuns(namespace: string): Promise<AnalysisRun[]> {
  const list = await requestJson<{ items: AnalysisRun[] }>(kube().kc, {
    method: 'GET',
    path: `/apis/sluice.dev/v1alpha1/namespaces/${namespace}/analysisruns`,
  });
  return list.items;
}

export async function analysisRun(namespace: string, name: string): Promise<AnalysisRun> {
  return requestJson<AnalysisRun>(kube().kc, {
    method: 'GET',
    path: `/apis/sluice.dev/v1alpha1/namespaces/${namespace}/analysisruns/${name}`,
  });
}

/** The run a Rollout's status names for a gate (`analysis` or `backgroundAnalysis`). */
export async function runOf(
  namespace: string,
  rollout: Rollout,
  which: 'analysis' | 'backgroundAnalysis',
): Promise<AnalysisRun | undefined> {
  const ref = rollout.status?.[which];
  return ref ? analysisRun(namespace, ref.name) : undefined;
}

export async function createObject(path: string, body: unknown): Promise<void> {
  await requestJson(kube().kc, { method: 'POST', path, body });
}

/**
 * Stops the sandbox's shared Prometheus; it is started again when the test ends, whatever
 * happens (other engineers' tests use it too). Returns a function that starts it earlier.
 */
export async function stopPrometheus(): Promise<() => Promise<void>> {
  onTestFinished(() => ensurePrometheus());
  await stopDaemon('prometheus');
  await waitFor(
    async () => {
      try {
        await fetch(`${prometheusUrl()}/-/ready`);
        return false;
      } catch {
        return true;
      }
    },
    { description: 'Prometheus to stop answering', timeout: 20_000 },
  );
  return () => ensurePrometheus();
}

/**
 * A canary with one analysis step running `metric` (template `probe`), released from its first
 * revision to the second; the controller gets `env` (e.g. SLUICE_PROMETHEUS_URL). Returns once
 * the second revision is applied.
 */
export async function stepAnalysisRelease(
  prefix: string,
  metric: Record<string, unknown>,
  env: Record<string, string>,
) {
  const ns = await freshNamespace(prefix);
  await createObject(`/apis/sluice.dev/v1alpha1/namespaces/${ns}/analysistemplates`, {
    apiVersion: 'sluice.dev/v1alpha1',
    kind: 'AnalysisTemplate',
    metadata: { name: 'probe' },
    spec: { metrics: [metric] },
  });
  await apply(
    canaryApp(ns, {
      image: `shop/${ns}:1`,
      replicas: 1,
      steps: [
        { setWeight: 20 },
        { analysis: { templates: [{ templateName: 'probe' }] } },
        { pause: {} },
      ] as never,
    }),
  );
  const controller = await startController(ns, { env });
  await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision to be stable');
  await setImage(ns, `shop/${ns}:2`);
  return { ns, controller };
}

/**
 * Under load from the simulator, with the controller `start` runs: the first revision (image
 * `shop/NS:1`) made stable, then `shop/NS:2` released and promoted, which `what` describes.
 */
export async function promoteSecond(
  ns: string,
  start: () => Promise<unknown>,
  what: string,
  timeout: number,
): Promise<Rollout> {
  await setLoad(hostOf('web', ns), 60);
  await start();
  const first = await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');
  await setImage(ns, `shop/${ns}:2`);
  const promoted = await waitForRollout(
    ns,
    (r) => r.status?.phase === 'Healthy' && r.status.stableRevision !== first.status?.stableRevision,
    what,
    { timeout },
  );
  expect(promoted.status?.history?.at(-1)?.outcome).toBe('Promoted');
  return promoted;
}

/**
 * The third revision (`shop/NS:3`) made to answer `errorRate` of its requests with 5xx, released,
 * and rolled back by its gate (`what`): the stable stays `stableRevision`.
 */
export async function rollBackFailingThird(
  ns: string,
  errorRate: number,
  stableRevision: string | undefined,
  what: string,
  timeout: number,
): Promise<Rollout> {
  await setProfile(`shop/${ns}:3`, { errorRate });
  await setImage(ns, `shop/${ns}:3`);
  const aborted = await waitForRollout(
    ns,
    (r) => r.status?.phase === 'Degraded' && r.status.abort === true,
    what,
    { timeout },
  );
  expect(aborted.status?.stableRevision).toBe(stableRevision);
  return aborted;
}

/**
 * The second revision released behind a step gate that cannot run: the release stalls paused
 * on it (`what`), and the gate's run is in Error. Returns the Rollout and the run.
 */
export async function stallOnInvalidGate(ns: string, what: string) {
  await startAnalysisController(ns);
  await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');
  await setImage(ns, `shop/${ns}:2`);
  const stalled = await waitForRollout(
    ns,
    (r) => r.status?.pause?.reason === 'AnalysisError' && condition(r, 'Stalled')?.status === 'True',
    what,
  );
  const run = await runOf(ns, stalled, 'analysis');
  expect(run?.status).toMatchObject({ phase: 'Error', reason: 'InvalidAnalysis' });
  return { stalled, run };
}

/**
 * A canary with a background success-rate gate, released to its second revision by whatever
 * `start` runs (the sources, the bundle, the chart's Deployment): returns once that revision is
 * promoted, after checking the gate really measured through Prometheus.
 */
export async function promoteGatedCanary(
  ns: string,
  start: () => Promise<unknown>,
  who: string,
): Promise<Rollout> {
  await apply(
    canaryApp(ns, {
      // Long enough for measurements with canary data: the simulator routes by a new weight
      // within seconds, and a run that ends with no data holds the release (rightly).
      steps: [{ setWeight: 50 }, { pause: { duration: '15s' } }],
      canary: { analysis: { interval: '3s', initialDelay: '5s', successRate: { min: 90 } } },
    }),
  );
  const promoted = await promoteSecond(ns, start, `${who} to promote the second revision`, 120_000);
  expect(await canaryWeight(ns)).toBe(0);
  const bg = (await analysisRuns(ns)).find((r) => r.spec.gate === 'background');
  expect(bg?.status?.metricResults?.find((m) => m.name === 'success-rate')?.successful).toBeGreaterThan(0);
  return promoted;
}
