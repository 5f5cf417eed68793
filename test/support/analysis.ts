import { onTestFinished } from 'vitest';
import { requestJson } from '../../controller/kube/client.ts';
import type { AnalysisRun, Rollout } from '../../crds/index.ts';
import { stopDaemon } from '../../sandbox/proc.ts';
import { ensurePrometheus, prometheusUrl } from '../../sandbox/prometheus.ts';
import { startController } from '../harness/controller.ts';
import { sandbox } from '../harness/env.ts';
import { kube } from '../harness/kube.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { waitFor } from '../harness/wait.ts';
import { apply, canaryApp, setImage, waitForRollout } from './apps.ts';

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
