import { describe, expect, it } from 'vitest';
import { freshNamespace } from '../harness/namespace.ts';
import { waitFor } from '../harness/wait.ts';
import { analysisRuns, createObject, startAnalysisController } from '../support/analysis.ts';

const runsPath = (ns: string) => `/apis/sluice.dev/v1alpha1/namespaces/${ns}/analysisruns`;

const run = (
  ns: string,
  name: string,
  metric: Record<string, unknown>,
  extra: Record<string, unknown> = {},
) => ({
  apiVersion: 'sluice.dev/v1alpha1',
  kind: 'AnalysisRun',
  metadata: { name, namespace: ns, labels: { 'sluice.dev/rollout': 'web' } },
  spec: {
    rollout: 'web',
    revision: 'abc',
    gate: 'step',
    metrics: [{ name: 'm', count: 1, provider: { prometheus: { query: 'vector(1)' } }, ...metric }],
    ...extra,
  },
});

describe('the analysis runner on the real API server and Prometheus', () => {
  it('measures runs to their end and keeps the last 5 successful and 5 unsuccessful per Rollout', async () => {
    const ns = await freshNamespace('an-prune');
    await startAnalysisController(ns);
    for (let i = 0; i < 7; i++) {
      await createObject(runsPath(ns), run(ns, `ok-${i}`, { successCondition: 'result == 1' }));
      await createObject(runsPath(ns), run(ns, `bad-${i}`, { failureCondition: 'result == 1' }));
    }
    // A dry-run metric failing does not gate; the gating one passes.
    await createObject(runsPath(ns), {
      ...run(ns, 'dry', { successCondition: 'result == 1' }),
      spec: {
        ...run(ns, 'dry', {}).spec,
        rollout: 'other',
        metrics: [
          {
            name: 'gate',
            count: 1,
            successCondition: 'result == 1',
            provider: { prometheus: { query: 'vector(1)' } },
          },
          {
            name: 'shadow',
            count: 1,
            dryRun: true,
            failureCondition: 'result == 1',
            provider: { prometheus: { query: 'vector(1)' } },
          },
        ],
      },
    });
    const left = await waitFor(
      async () => {
        const runs = (await analysisRuns(ns)).filter((r) => r.spec.rollout === 'web');
        const phases = runs.map((r) => r.status?.phase);
        return runs.length === 10 && phases.every((p) => p === 'Successful' || p === 'Failed')
          ? runs
          : undefined;
      },
      { description: '14 runs measured and pruned to 10', timeout: 60_000 },
    );
    expect(left.filter((r) => r.status?.phase === 'Successful')).toHaveLength(5);
    const failed = left.filter((r) => r.status?.phase === 'Failed');
    expect(failed).toHaveLength(5);
    expect(failed[0]?.status?.message).toBe(
      'metric m failed: value 1 met failure condition "result == 1" (1 failed, limit 0)',
    );
    const measurement = failed[0]?.status?.metricResults?.[0]?.measurements[0];
    expect(measurement).toMatchObject({ phase: 'Failed', value: '1' });
    expect(Date.parse(measurement?.finishedAt ?? '')).toBeGreaterThanOrEqual(
      Date.parse(measurement?.startedAt ?? ''),
    );
    const dry = (await analysisRuns(ns)).find((r) => r.metadata.name === 'dry');
    expect(dry?.status?.phase).toBe('Successful');
    expect(dry?.status?.metricResults?.find((m) => m.name === 'shadow')).toMatchObject({
      phase: 'Failed',
      dryRun: true,
    });
  });

  it('a run whose gate could not be resolved ends in Error with the problem as its message', async () => {
    const ns = await freshNamespace('an-inv');
    await startAnalysisController(ns);
    await createObject(runsPath(ns), {
      ...run(ns, 'broken', {}),
      spec: {
        ...run(ns, 'broken', {}).spec,
        metrics: [],
        error: 'cannot proceed: metric m: invalid CEL "result >"',
      },
    });
    const done = await waitFor(
      async () => (await analysisRuns(ns)).find((r) => r.status?.phase === 'Error'),
      { description: 'the invalid run to end in Error' },
    );
    expect(done.status).toMatchObject({
      reason: 'InvalidAnalysis',
      message: 'cannot proceed: metric m: invalid CEL "result >"',
    });
  });
});
