import { describe, expect, it } from 'vitest';
import { nextDueAt } from '../../../analysis/measure.ts';
import { restore, statusOf, step } from '../../../analysis/run-state.ts';
import type { AnalysisRun, RunMetric } from '../../../crds/index.ts';
import type { AnalysisRunEvent } from '../../../machines/analysis-run.ts';

const metric = (name: string, extra: Partial<RunMetric> = {}): RunMetric => ({
  name,
  interval: '5s',
  provider: { prometheus: { query: 'up' } },
  ...extra,
});

const runOf = (metrics: RunMetric[], status?: AnalysisRun['status']): AnalysisRun => ({
  apiVersion: 'sluice.dev/v1alpha1',
  kind: 'AnalysisRun',
  metadata: { name: 'r', namespace: 'ns', creationTimestamp: '2026-01-01T00:00:00Z' },
  spec: { rollout: 'web', revision: 'abc', gate: 'background', metrics },
  ...(status ? { status } : {}),
});

const T0 = Date.parse('2026-01-01T00:00:00Z');
type Measure = Extract<AnalysisRunEvent, { type: 'MEASURE' }>;
const m = (metric: string, phase: Measure['phase'], at: number, value?: string): Measure => ({
  type: 'MEASURE',
  now: at,
  metric,
  phase,
  ...(value ? { value } : {}),
});

/** Feeds events one pass at a time, writing status back and restoring from it, as the runner does. */
function passes(run: AnalysisRun, ...batches: AnalysisRunEvent[][]): AnalysisRun {
  let current = run;
  for (const batch of batches) {
    const status = statusOf(
      current,
      step(restore(current), batch),
      batch.some((e) => e.type === 'TERMINATE'),
    );
    current = { ...current, status };
  }
  return current;
}

describe('AnalysisRun bookkeeping through status', () => {
  it('is Pending until every gating metric is measured, then Running', () => {
    const run = runOf([metric('a'), metric('b')]);
    const one = passes(run, [m('a', 'Successful', T0)]);
    expect(one.status?.phase).toBe('Pending');
    expect(one.status?.message).toBe('waiting for a first measurement of b');
    const both = passes(one, [m('b', 'Successful', T0 + 1)]);
    expect(both.status?.phase).toBe('Running');
  });

  it('fails past failureLimit, naming the metric, the value and the condition', () => {
    const run = runOf([metric('success-rate', { failureLimit: 1 })]);
    const failedOnce = passes(run, [
      {
        ...m('success-rate', 'Failed', T0, '91.2'),
        message: 'value 91.2 met failure condition "result < 95.0"',
      },
    ]);
    // Within the limit, but not passing now: Pending (a release never finishes on it).
    expect(failedOnce.status?.phase).toBe('Pending');
    const failed = passes(failedOnce, [
      {
        ...m('success-rate', 'Failed', T0 + 5000, '90'),
        message: 'value 90 met failure condition "result < 95.0"',
      },
    ]);
    expect(failed.status?.phase).toBe('Failed');
    expect(failed.status?.reason).toBe('Failed');
    expect(failed.status?.message).toBe(
      'metric success-rate failed: value 90 met failure condition "result < 95.0" (2 failed, limit 1)',
    );
  });

  it('Error after more than consecutiveErrorLimit errors in a row; a success resets the streak', () => {
    const run = runOf([metric('a', { consecutiveErrorLimit: 1 })]);
    const err = (at: number) => ({
      ...m('a', 'Error', at),
      message: 'Prometheus at http://p cannot be reached: ECONNREFUSED',
    });
    const afterReset = passes(run, [err(T0)], [m('a', 'Successful', T0 + 1)], [err(T0 + 2)]);
    expect(afterReset.status?.phase).toBe('Running');
    const broken = passes(afterReset, [err(T0 + 3)]);
    expect(broken.status?.phase).toBe('Error');
    expect(broken.status?.reason).toBe('PrometheusUnreachable');
    expect(broken.status?.message).toMatch(/2 consecutive errors \(limit 1\).*cannot be reached/);
  });

  it('inconclusive beyond the limit ends the run Inconclusive', () => {
    const run = runOf([metric('a', { inconclusiveLimit: 1 })]);
    const r = passes(run, [m('a', 'Inconclusive', T0)], [m('a', 'Inconclusive', T0 + 1)]);
    expect(r.status?.phase).toBe('Inconclusive');
  });

  it('count reached: Successful', () => {
    const run = runOf([metric('a', { count: 2 })]);
    expect(passes(run, [m('a', 'Successful', T0)], [m('a', 'Successful', T0 + 1)]).status?.phase).toBe(
      'Successful',
    );
  });

  it('dry-run metrics are measured and shown but never gate', () => {
    const run = runOf([metric('gate', { count: 1 }), metric('dry', { dryRun: true })]);
    const r = passes(run, [m('dry', 'Failed', T0), m('gate', 'Successful', T0)]);
    expect(r.status?.phase).toBe('Successful');
    expect(r.status?.metricResults?.find((x) => x.name === 'dry')).toMatchObject({
      phase: 'Failed',
      dryRun: true,
    });
  });

  it('terminated: Successful when measured and passing, Inconclusive without data', () => {
    const run = runOf([metric('a')]);
    const measured = passes(run, [m('a', 'Successful', T0)], [{ type: 'TERMINATE', now: T0 + 1 }]);
    expect(measured.status?.phase).toBe('Successful');
    const empty = passes(run, [{ type: 'TERMINATE', now: T0 + 1 }]);
    expect(empty.status?.phase).toBe('Inconclusive');
    expect(empty.status?.message).toBe('stopped before a had a measurement');
  });

  it('keeps the last 10 measurements per metric but counts them all', () => {
    const run = runOf([metric('a')]);
    const batches = Array.from({ length: 14 }, (_, i) => [m('a', 'Successful', T0 + i * 1000, String(i))]);
    const r = passes(run, ...batches);
    const result = r.status?.metricResults?.[0];
    expect(result?.count).toBe(14);
    expect(result?.measurements).toHaveLength(10);
    expect(result?.measurements[0]?.value).toBe('4');
  });
});

describe('when a metric is next due', () => {
  it('waits initialDelay from the run start, then an interval after each measurement; none after count', () => {
    const a = metric('a', { initialDelay: '3s', count: 2 });
    expect(nextDueAt(a, undefined, T0)).toBe(T0 + 3000);
    const result = {
      name: 'a',
      phase: 'Running' as const,
      count: 1,
      successful: 1,
      failed: 0,
      inconclusive: 0,
      error: 0,
      consecutiveError: 0,
      measurements: [
        {
          phase: 'Successful' as const,
          startedAt: '2026-01-01T00:00:04.000Z',
          finishedAt: '2026-01-01T00:00:04.250Z',
        },
      ],
    };
    expect(nextDueAt(a, result, T0)).toBe(T0 + 4250 + 5000);
    expect(nextDueAt(a, { ...result, count: 2 }, T0)).toBeUndefined();
    // Found by the Prometheus-outage chaos scenario: errored queries used up the count and the
    // gate stopped measuring, Running forever. They are retried until an answer or the error limit.
    expect(nextDueAt(a, { ...result, count: 2, error: 1, consecutiveError: 1 }, T0)).toBe(T0 + 4250 + 5000);
    expect(nextDueAt(a, { ...result, phase: 'Failed' }, T0)).toBeUndefined();
  });
});

describe('a run without metrics', () => {
  it('never passes on its own', () => {
    const run = runOf([]);
    expect(statusOf(run, restore(run)).phase).toBe('Pending');
    expect(passes(run, [{ type: 'TERMINATE', now: T0 }]).status?.phase).toBe('Inconclusive');
  });
});

describe('looks whose window held no canary request', () => {
  const noData = (at: number): Measure => ({
    ...m('success-rate', 'Error', at),
    message: 'no data: no requests to web-canary in the window',
    absolute: {
      verdict: 'tooFewRequests',
      threshold: 95,
      canary: { requests: 0, lower: 0, upper: 100 },
      confidence: 0.99,
      minRequests: 10,
    },
  });
  const looks = (n: number, from = 0) =>
    Array.from({ length: n }, (_, i) => [noData(T0 + (from + i) * 5000)]);

  it('one late scrape is tolerated: no answer, no strike; the metric passes on', () => {
    const run = runOf([metric('success-rate')]);
    expect(passes(run, ...looks(1)).status?.phase).toBe('Pending');
    const gap = passes(run, [m('success-rate', 'Successful', T0)], ...looks(1, 1));
    expect(gap.status?.phase).toBe('Running');
    const back = passes(gap, [m('success-rate', 'Successful', T0 + 10_000)]);
    expect(back.status?.phase).toBe('Running');
    expect(back.status?.metricResults?.[0]).toMatchObject({ inconclusive: 0, error: 1, consecutiveError: 0 });
  });

  it('more in a row than consecutiveErrorLimit is one inconclusive look that says "no data", not Error', () => {
    const run = runOf([metric('success-rate', { consecutiveErrorLimit: 2 })]);
    expect(passes(run, ...looks(2)).status?.phase).toBe('Pending');
    const idle = passes(run, ...looks(3));
    expect(idle.status).toMatchObject({
      phase: 'Inconclusive',
      reason: 'Inconclusive',
      message:
        'metric success-rate inconclusive: no data: no requests to web-canary in the window (3 looks in a row, consecutiveErrorLimit 2)',
    });
    // A watch (inconclusiveLimit without end) keeps watching through it.
    const watch = runOf([
      metric('success-rate', { consecutiveErrorLimit: 2, inconclusiveLimit: 2 ** 31 - 1 }),
    ]);
    expect(passes(watch, ...looks(8)).status?.phase).toBe('Pending');
  });

  it('each look past consecutiveErrorLimit is one more strike, so inconclusiveLimit > 0 still ends the gate', () => {
    // The chaos metrics-vanish suite: inconclusiveLimit 2 with the streak counted once never paused.
    const run = runOf([metric('success-rate', { consecutiveErrorLimit: 2, inconclusiveLimit: 2 })]);
    expect(passes(run, ...looks(4)).status?.phase).toBe('Pending'); // strikes at looks 3 and 4
    expect(passes(run, ...looks(5)).status?.phase).toBe('Inconclusive'); // a third: past the limit
  });

  it('an unreachable Prometheus is still Error past the limit', () => {
    const run = runOf([metric('success-rate', { consecutiveErrorLimit: 1 })]);
    const down = passes(run, [noData(T0)], [m('success-rate', 'Error', T0 + 5000)]);
    expect(down.status?.phase).toBe('Error');
  });
});
