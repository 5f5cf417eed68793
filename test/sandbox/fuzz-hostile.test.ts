import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startController } from '../harness/controller.ts';
import { kube } from '../harness/kube.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { analysisRuns, stepAnalysisRelease } from '../support/analysis.ts';
import { apply, canaryApp, condition, getVirtualService, setImage, waitForRollout } from '../support/apps.ts';

// Valid but hostile input: the biggest objects the API allows and answers far larger than
// usual. Each must be handled in bounded time with a clear outcome.

/**
 * A Prometheus that answers every query with `series` series. A stand-in because the sandbox's
 * Prometheus only holds the simulator's few series, and ingesting 10,000 would cost every
 * other test on the shared machine.
 */
async function manySeriesPrometheus(series: number) {
  const result = Array.from({ length: series }, (_, i) => ({
    metric: { pod: `pod-${i}` },
    value: [Date.now() / 1000, String((i % 100) / 1000)],
  }));
  const body = JSON.stringify({ status: 'success', data: { resultType: 'vector', result } });
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('hostile but valid input', () => {
  it('a query returning 10,000 series is judged, and the measurement shown in bounded size', async () => {
    const url = await manySeriesPrometheus(10_000);
    const { ns } = await stepAnalysisRelease(
      'many-series',
      {
        name: 'per-pod-errors',
        successCondition: 'result.all(x, x < 1.0)',
        provider: { prometheus: { query: 'sum by (pod) (rate(errors[1m]))' } },
      },
      { SLUICE_PROMETHEUS_URL: url },
    );
    await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Paused' && r.status.currentStepIndex === 2,
      'the 10,000-series gate to pass',
    );
    const [run] = await analysisRuns(ns);
    const measurement = run?.status?.metricResults?.[0]?.measurements?.[0];
    expect(measurement?.phase).toBe('Successful');
    expect(measurement?.value).toMatch(/^\[0,0\.001,.*… 10000 values\]$/);
    expect((measurement?.value ?? '').length).toBeLessThan(400);
  });

  it('200 steps against a VirtualService of 300 routes: only the named route moves', async () => {
    const ns = await freshNamespace('huge');
    const steps = Array.from({ length: 200 }, (_, i) =>
      i % 2 === 0 ? { setWeight: 1 + (i % 99) } : { pause: {} },
    );
    const objects = canaryApp(ns, { replicas: 1, steps: steps as never });
    const vs = objects.find((o) => o.kind === 'VirtualService') as KubernetesObject & {
      spec: { http: { name: string; route: { destination: { host: string }; weight: number }[] }[] };
    };
    const primary = vs.spec.http[0] as (typeof vs.spec.http)[number];
    // 299 other routes, each split between its own two hosts: none of them is Sluice's to touch.
    vs.spec.http = [
      ...Array.from({ length: 150 }, (_, i) => ({
        name: `other-${i}`,
        route: [
          { destination: { host: `other-${i}-a` }, weight: 70 },
          { destination: { host: `other-${i}-b` }, weight: 30 },
        ],
      })),
      primary,
      ...Array.from({ length: 149 }, (_, i) => ({
        name: `more-${i}`,
        route: [{ destination: { host: `more-${i}` }, weight: 100 }],
      })),
    ];
    await apply(objects);
    await startController(ns);
    await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision to be stable');
    await setImage(ns, 'web:2');
    const paused = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Paused' && r.status.canary?.weight === 1,
      'the release to rest at the first step',
    );
    expect(paused.status?.currentStepIndex).toBe(1);
    const after = await getVirtualService(ns);
    const http = after.spec.http ?? [];
    expect(http).toHaveLength(300);
    for (const route of http) {
      const weights = route.route?.map((d) => d.weight);
      if (route.name === 'primary') expect(weights).toEqual([99, 1]);
      else if (route.name?.startsWith('other-')) expect(weights).toEqual([70, 30]);
      else expect(weights).toEqual([100]);
    }
  });

  it('a 253-character name is accepted by the API but cannot label its pods: Stalled saying so, nothing created', async () => {
    const ns = await freshNamespace('longname');
    const name = 'n'.repeat(253);
    const [rollout, ...rest] = canaryApp(ns, { replicas: 1 }).reverse();
    await apply([...rest, { ...(rollout as KubernetesObject), metadata: { name, namespace: ns } }]);
    await startController(ns);
    const stalled = await waitForRollout(
      ns,
      (r) => condition(r, 'Stalled')?.status === 'True',
      'the Rollout with a 253-character name to stall',
      { name },
    );
    expect(stalled.status?.message).toMatch(/Rollout name is 253 characters.*at most 63: rename the Rollout/);
    expect((await kube().apps.listNamespacedReplicaSet({ namespace: ns })).items).toEqual([]);
  });
});
