import { describe, expect, it } from 'vitest';
import { restore, statusOf, step } from '../../../analysis/run-state.ts';
import { analysisRunFor, WATCH_INCONCLUSIVE_LIMIT } from '../../../controller/analysis/runs.ts';
import type { AnalysisRun, Rollout } from '../../../crds/index.ts';
import type { AnalysisRunEvent } from '../../../machines/analysis-run.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');

const rollout = (analysis: unknown): Rollout =>
  ({
    apiVersion: 'sluice.dev/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'web', namespace: 'shop', uid: 'u1' },
    spec: {
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'a', image: 'x' }] } },
      strategy: { canary: { stableService: 'web-stable', canaryService: 'web-canary', analysis, steps: [] } },
    },
  }) as unknown as Rollout;

const start = (watch?: boolean) => ({
  gate: 'background' as const,
  name: 'web-abc-bg-a0-r1',
  revision: 'abc',
  ...(watch ? { watch } : {}),
});

/** Feeds looks through the runner's own bookkeeping (analysis/run-state.ts) and returns the run's status. */
function measure(run: AnalysisRun, phases: AnalysisRunEvent[]): AnalysisRun {
  const snapshot = step(restore(run), phases);
  return { ...run, status: statusOf(run, snapshot) };
}
const look = (
  metric: string,
  phase: 'Inconclusive' | 'Failed' | 'Successful',
  i: number,
): AnalysisRunEvent => ({
  type: 'MEASURE',
  now: T0 + i * 1000,
  metric,
  phase,
  ...(phase === 'Failed' ? { value: '71.4' } : {}),
});

describe('a background gate run again as a watch while the release is paused', () => {
  const gates = { successRate: { min: 99 }, inconclusiveLimit: 1 };

  it('tolerates undecided looks for as long as the pause lasts; the plain run keeps its limit', () => {
    const watch = analysisRunFor(rollout(gates), start(true));
    const plain = analysisRunFor(rollout(gates), start());
    expect(watch.spec.metrics.map((m) => m.inconclusiveLimit)).toEqual([WATCH_INCONCLUSIVE_LIMIT]);
    expect(plain.spec.metrics.map((m) => m.inconclusiveLimit)).toEqual([1]);
    const metric = watch.spec.metrics[0]?.name ?? '';
    const noData = Array.from({ length: 50 }, (_, i) => look(metric, 'Inconclusive', i));
    expect(measure(plain, noData).status?.phase).toBe('Inconclusive');
    expect(measure(watch, noData).status?.phase).toBe('Pending');
  });

  it('a failing look after the undecided ones fails the watch, naming the metric', () => {
    const watch = analysisRunFor(rollout(gates), start(true));
    const metric = watch.spec.metrics[0]?.name ?? '';
    const looks = [
      ...Array.from({ length: 20 }, (_, i) => look(metric, 'Inconclusive', i)),
      look(metric, 'Failed', 21),
    ];
    const ended = measure(watch, looks);
    expect(ended.status?.phase).toBe('Failed');
    expect(ended.status?.message).toContain(metric);
  });
});
