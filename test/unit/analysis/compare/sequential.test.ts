import { describe, expect, it } from 'vitest';
import { judgeSamples } from '../../../../analysis/compare/measure.ts';
import { WINDOW, withWindow } from '../../../../analysis/compare/queries.ts';
import { evidenceWindowMs } from '../../../../analysis/measure.ts';
import type { Sample } from '../../../../analysis/provider.ts';
import { InvalidAnalysis, resolveMetrics } from '../../../../analysis/resolve.ts';
import { restore, statusOf, step } from '../../../../analysis/run-state.ts';
import type { AnalysisRun, RunMetric } from '../../../../crds/index.ts';
import type { AnalysisRunEvent } from '../../../../machines/analysis-run.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');

const resolve = (
  gate: 'background' | 'step' | 'postPromotion',
  extra: Record<string, unknown> = {},
  compare: Record<string, unknown> = {},
  progressDeadlineSeconds?: number,
) =>
  resolveMetrics({
    gates: {
      interval: '10s',
      compareToStable: {
        errors: { maxIncreasePoints: 0.5 },
        latencyP99: { maxIncreasePercent: 20 },
        latencyDistribution: { maxShiftPoints: 5 },
        ...compare,
      },
      ...extra,
    },
    gate,
    namespace: 'shop',
    service: 'web-canary',
    stableService: gate === 'postPromotion' ? undefined : 'web-stable',
    templates: new Map(),
    ...(progressDeadlineSeconds === undefined ? {} : { progressDeadlineSeconds }),
  });

const counts = (service: string, ok: number, errors: number): Sample[] => [
  { labels: { destination_service_name: service, response_code: '200' }, value: ok },
  { labels: { destination_service_name: service, response_code: '503' }, value: errors },
  { labels: { destination_service_name: service, response_code: '404' }, value: 7 },
];

describe('compareToStable resolved into sequential metrics', () => {
  it('one metric per check, canary and stable in one query, the window filled in at each look', () => {
    const metrics = resolve('background');
    expect(metrics.map((m) => [m.name, m.builtin, m.count])).toEqual([
      ['compare-errors', 'compareErrors', undefined],
      ['compare-latency-p99', 'compareLatencyP99', undefined],
      ['compare-latency-distribution', 'compareLatencyDistribution', undefined],
    ]);
    const [errors] = metrics as [RunMetric];
    expect(errors.compare).toEqual({
      canaryService: 'web-canary',
      stableService: 'web-stable',
      confidence: 0.99,
      power: 0.9,
      minRequests: 100,
      maxIncreasePoints: 0.5,
      budget: 'the progress deadline, 600s',
    });
    const query = errors.provider.prometheus?.query ?? '';
    expect(query).toContain('destination_service_name="web-canary"');
    expect(query).toContain('destination_service_name="web-stable"');
    expect(query).toContain(`[${WINDOW}]`);
    expect(withWindow(query, 95_000)).toContain('increase(istio_requests_total{');
    expect(withWindow(query, 95_000)).toContain('[95s]');
    expect(withWindow(query, 95_000)).not.toContain(WINDOW);
  });

  it('steps look for their budget: maxDuration, else the progress deadline, in looks of the interval; a count wins', () => {
    const first = (metrics: RunMetric[]) => [metrics[0]?.count, metrics[0]?.compare?.budget];
    // 600 s by default at 10 s looks.
    expect(first(resolve('step'))).toEqual([60, 'the progress deadline, 600s']);
    expect(first(resolve('step', {}, {}, 95))).toEqual([10, 'the progress deadline, 95s']);
    expect(first(resolve('step', {}, { maxDuration: '1m' }, 95))).toEqual([6, 'maxDuration 1m']);
    // Rounded up: the last look may end after the budget, never before it.
    expect(first(resolve('step', {}, { maxDuration: '61s' }))).toEqual([7, 'maxDuration 61s']);
    expect(first(resolve('step', {}, { maxDuration: '1s' }))).toEqual([1, 'maxDuration 1s']);
    expect(first(resolve('step', { count: 3 }, { maxDuration: '1h' }))).toEqual([3, 'count 3']);
  });

  it('background: undecided looks allowed are the budget less the first, unless inconclusiveLimit says', () => {
    const limits = (metrics: RunMetric[]) => [metrics[0]?.inconclusiveLimit, metrics[0]?.compare?.budget];
    expect(limits(resolve('background'))).toEqual([59, 'the progress deadline, 600s']);
    expect(limits(resolve('background', {}, { maxDuration: '5m' }, 120))).toEqual([29, 'maxDuration 5m']);
    expect(limits(resolve('background', { inconclusiveLimit: 4 }, { maxDuration: '5m' }))).toEqual([
      4,
      'inconclusiveLimit 4',
    ]);
    expect(resolve('background')[0]?.count).toBeUndefined();
  });

  it('post-promotion has nothing to compare with; an errors check needs an effect', () => {
    expect(() => resolve('postPromotion')).toThrow(InvalidAnalysis);
    expect(() => resolve('postPromotion')).toThrow(/old revision no longer receives traffic/);
    expect(() =>
      resolveMetrics({
        gates: { compareToStable: { errors: {} } },
        gate: 'step',
        namespace: 'shop',
        service: 'a',
        stableService: 'b',
        templates: new Map(),
      }),
    ).toThrow(/maxIncreasePoints or maxIncreasePercent/);
  });

  it('judges labelled samples: 5xx are errors, other codes are requests, other Services are ignored', () => {
    const [errors] = resolve('background') as [RunMetric];
    const look = judgeSamples(errors, [
      ...counts('web-canary', 19_000, 1000),
      ...counts('web-stable', 19_990, 10),
      ...counts('other', 0, 5000),
      // A bucket series in the same answer is not a request count.
      { labels: { destination_service_name: 'web-canary', le: '+Inf' }, value: 20_000 },
    ]);
    expect(look.phase).toBe('Failed');
    expect(look.comparison.canary.requests).toBe(20_007);
    expect(look.comparison.stable.value).toBeCloseTo((100 * 10) / 20_007, 3);
    expect(look.value).toMatch(/^canary 4\.99\d*% vs stable 0\.0\d+% errors$/);
    expect(look.message).toMatch(/^canary worse than stable: error increase/);
    // Against a fresh baseline the other side is called what it is.
    const baseline = { ...errors, compare: { ...errors.compare, baseline: true } } as RunMetric;
    const judged = judgeSamples(baseline, [
      ...counts('web-canary', 19_000, 1000),
      ...counts('web-stable', 19_990, 10),
    ]);
    expect(judged.value).toMatch(/^canary 4\.99\d*% vs baseline 0\.0\d+% errors$/);
    expect(judged.message).toMatch(/^canary worse than baseline: .*canary 20007 requests, baseline 20007\)$/);
    const early = judgeSamples(errors, [...counts('web-canary', 30, 1), ...counts('web-stable', 30, 0)]);
    expect(early.phase).toBe('Inconclusive');
    expect(early.message).toMatch(/too few requests to judge yet .*need 100 each/);
  });

  it('latency metrics read the buckets of each Service', () => {
    const [, p99] = resolve('background') as [RunMetric, RunMetric];
    const buckets = (service: string, slow: number): Sample[] =>
      [
        ['50', 10_000 - slow],
        ['100', 10_000 - slow / 2],
        ['+Inf', 10_000],
      ].map(([le, value]) => ({
        labels: { destination_service_name: service, le: String(le) },
        value: Number(value),
      }));
    const look = judgeSamples(p99, [...buckets('web-canary', 4000), ...buckets('web-stable', 50)]);
    expect(look.comparison.test).toBe('latencyP99');
    expect(look.phase).toBe('Failed');
    expect(look.value).toMatch(/^p99 canary [\d.]+ ms vs stable [\d.]+ ms$/);
  });
});

const runOf = (metrics: RunMetric[]): AnalysisRun => ({
  apiVersion: 'sluice.dev/v1alpha1',
  kind: 'AnalysisRun',
  metadata: { name: 'r', namespace: 'ns', creationTimestamp: '2026-01-01T00:00:00Z' },
  spec: { rollout: 'web', revision: 'abc', gate: 'step', metrics },
});

function passes(run: AnalysisRun, ...batches: AnalysisRunEvent[][]): AnalysisRun {
  let current = run;
  for (const batch of batches)
    current = { ...current, status: statusOf(current, step(restore(current), batch)) };
  return current;
}

const look = (phase: 'Successful' | 'Failed' | 'Inconclusive', at: number): AnalysisRunEvent => ({
  type: 'MEASURE',
  now: at,
  metric: 'compare-errors',
  phase,
  message: `look ${phase}`,
});

describe('the evidence window of a look', () => {
  it('counts from the end of initialDelay, not from the run start, and spans at least one interval', () => {
    const [delayed] = resolve('background', { initialDelay: '30s' }) as [RunMetric];
    // Warm-up excluded: 100 s after the run started, 70 s of evidence.
    expect(evidenceWindowMs(delayed, T0, T0 + 100_000)).toBe(70_000);
    // The first look, right when the delay ends, still sees a whole interval.
    expect(evidenceWindowMs(delayed, T0, T0 + 30_000)).toBe(10_000);
    // Builtins default initialDelay to the interval (10 s here).
    const [plain] = resolve('background') as [RunMetric];
    expect(evidenceWindowMs(plain, T0, T0 + 100_000)).toBe(90_000);
  });
});

describe('sequential bookkeeping: undecided looks are not strikes', () => {
  const [stepMetric] = resolve('step', { count: 3 }) as [RunMetric];
  const [bgMetric] = resolve('background') as [RunMetric];

  it('a step keeps looking while undecided, passes at the first confident look', () => {
    const undecided = passes(runOf([stepMetric]), [look('Inconclusive', T0)], [look('Inconclusive', T0 + 1)]);
    expect(undecided.status?.phase).toBe('Pending');
    expect(undecided.status?.message).toBe('compare-errors undecided after 2 looks: look Inconclusive');
    const passed = passes(undecided, [look('Successful', T0 + 2)]);
    expect(passed.status?.phase).toBe('Successful');
  });

  it('a step whose looks run out undecided is Inconclusive, saying so', () => {
    const run = passes(
      runOf([stepMetric]),
      [look('Inconclusive', T0)],
      [look('Inconclusive', T0 + 1)],
      [look('Inconclusive', T0 + 2)],
    );
    expect(run.status?.phase).toBe('Inconclusive');
    expect(run.status?.message).toBe(
      'metric compare-errors: no verdict after 3 looks (count 3): look Inconclusive',
    );
  });

  it('a budget from maxDuration that runs out names it', () => {
    const [metric] = resolve('step', {}, { maxDuration: '20s' }) as [RunMetric];
    const run = passes(runOf([metric]), [look('Inconclusive', T0)], [look('Inconclusive', T0 + 1)]);
    expect(run.status?.phase).toBe('Inconclusive');
    expect(run.status?.message).toBe(
      'metric compare-errors: no verdict after 2 looks (maxDuration 20s): look Inconclusive',
    );
  });

  it('a confident "worse" fails at once, the comparison kept in the measurement', () => {
    const comparison = {
      test: 'errors' as const,
      verdict: 'worse' as const,
      canary: { requests: 1000, value: 5 },
      stable: { requests: 1000, value: 0.1 },
      estimate: 4.9,
      lower: 2,
      upper: 7.8,
      margin: 0.5,
      statistic: 6,
      confidence: 0.999,
      required: 0.99,
    };
    const run = passes(runOf([stepMetric]), [{ ...look('Failed', T0), comparison } as AnalysisRunEvent]);
    expect(run.status?.phase).toBe('Failed');
    expect(run.status?.metricResults?.[0]?.measurements[0]?.comparison).toEqual(comparison);
  });

  it('background: Pending (holding promotion) until a look says not worse, then keeps watching', () => {
    expect(bgMetric.inconclusiveLimit).toBe(59);
    const undecided = passes(runOf([bgMetric]), [look('Inconclusive', T0)]);
    expect(undecided.status?.phase).toBe('Pending');
    const passed = passes(undecided, [look('Successful', T0 + 1)], [look('Inconclusive', T0 + 2)]);
    expect(passed.status?.phase).toBe('Running');
    expect(passes(passed, [look('Failed', T0 + 3)]).status?.phase).toBe('Failed');
  });

  it('background: undecided for more looks than inconclusiveLimit pauses rather than waiting for the deadline', () => {
    const [limited] = resolve('background', { inconclusiveLimit: 1 }) as [RunMetric];
    const once = passes(runOf([limited]), [look('Inconclusive', T0)]);
    expect(once.status?.phase).toBe('Pending');
    const twice = passes(once, [look('Inconclusive', T0 + 1)]);
    expect(twice.status?.phase).toBe('Inconclusive');
    expect(twice.status?.message).toBe(
      'metric compare-errors: no verdict after 2 looks (inconclusiveLimit 1): look Inconclusive',
    );
  });
});
