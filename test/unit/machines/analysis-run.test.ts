import { describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import {
  type AnalysisRunEvent,
  type AnalysisRunSnapshot,
  analysisRunMachine,
  type MeasurementPhase,
  type MetricLimits,
  toRunStatus,
} from '../../../machines/analysis-run.ts';
import { T0 } from './fixtures.ts';

function run(metrics: MetricLimits[], ...events: AnalysisRunEvent[]): AnalysisRunSnapshot {
  let [snapshot] = initialTransition(analysisRunMachine, { metrics });
  for (const event of events) [snapshot] = transition(analysisRunMachine, snapshot, event);
  return snapshot;
}
const measure = (metric: string, phase: MeasurementPhase, now = T0): AnalysisRunEvent => ({
  type: 'MEASURE',
  now,
  metric,
  phase,
  value: '99.5',
});

describe('analysis run bookkeeping', () => {
  const rate = { name: 'rate', count: 3 };

  it('is Pending until every gating metric has measured, then Running', () => {
    const metrics = [rate, { name: 'p99', count: 3 }];
    expect(toRunStatus(run(metrics)).phase).toBe('Pending');
    expect(toRunStatus(run(metrics, measure('rate', 'Successful'))).phase).toBe('Pending');
    const both = run(metrics, measure('rate', 'Successful'), measure('p99', 'Successful', T0 + 1));
    expect(toRunStatus(both)).toMatchObject({ phase: 'Running', startedAt: new Date(T0).toISOString() });
  });

  it('succeeds after count passing measurements', () => {
    const s = run(
      [rate],
      measure('rate', 'Successful'),
      measure('rate', 'Successful'),
      measure('rate', 'Successful', T0 + 9),
    );
    expect(toRunStatus(s)).toMatchObject({ phase: 'Successful', finishedAt: new Date(T0 + 9).toISOString() });
    expect(s.context.results[0]).toMatchObject({ count: 3, successful: 3, phase: 'Successful' });
    expect(s.context.results[0]?.measurements[0]).toMatchObject({ phase: 'Successful', value: '99.5' });
  });

  // Found building the Prometheus-outage chaos scenario: a step gate (count 1) met by one
  // "Prometheus cannot be reached" measurement passed, and the release went on with no data.
  it('never succeeds on count alone: errors do not count, inconclusive answers are not passes', () => {
    const once = { name: 'rate', count: 1 };
    expect(toRunStatus(run([once], measure('rate', 'Error'))).phase).toBe('Pending');
    const recovered = run([once], measure('rate', 'Error'), measure('rate', 'Successful'));
    expect(toRunStatus(recovered).phase).toBe('Successful');
    const outage = Array.from({ length: 5 }, () => measure('rate', 'Error'));
    expect(toRunStatus(run([once], ...outage)).phase).toBe('Error');
    const tolerant = { name: 'rate', count: 2, inconclusiveLimit: 2 };
    const twice = run([tolerant], measure('rate', 'Inconclusive'), measure('rate', 'Inconclusive'));
    expect(toRunStatus(twice).phase).toBe('Inconclusive');
    const mixed = run([tolerant], measure('rate', 'Inconclusive'), measure('rate', 'Successful'));
    expect(toRunStatus(mixed).phase).toBe('Successful');
  });

  it('a run stopped with only errors or inconclusive results measured is Inconclusive, not Successful', () => {
    const background = { name: 'rate', count: 0, inconclusiveLimit: 3 };
    const stop = { type: 'TERMINATE', now: T0 + 5 } as const;
    expect(toRunStatus(run([background], measure('rate', 'Inconclusive'), stop)).phase).toBe('Inconclusive');
    expect(toRunStatus(run([background], measure('rate', 'Error'), stop)).phase).toBe('Inconclusive');
    const passed = run([background], measure('rate', 'Inconclusive'), measure('rate', 'Successful'), stop);
    expect(toRunStatus(passed).phase).toBe('Successful');
  });

  it('fails once failures exceed failureLimit', () => {
    const tolerant = { ...rate, failureLimit: 1 };
    expect(toRunStatus(run([tolerant], measure('rate', 'Failed'))).phase).toBe('Pending');
    expect(toRunStatus(run([tolerant], measure('rate', 'Failed'), measure('rate', 'Failed'))).phase).toBe(
      'Failed',
    );
  });

  it('is Inconclusive past inconclusiveLimit and Error past consecutiveErrorLimit', () => {
    expect(toRunStatus(run([rate], measure('rate', 'Inconclusive'))).phase).toBe('Inconclusive');
    const errors = Array.from({ length: 5 }, () => measure('rate', 'Error'));
    expect(toRunStatus(run([{ ...rate, count: 0 }], ...errors)).phase).toBe('Error');
    const recovering = [...errors.slice(0, 4), measure('rate', 'Successful'), ...errors.slice(0, 4)];
    expect(toRunStatus(run([{ name: 'rate' }], ...recovering)).phase).toBe('Running');
  });

  it('dry-run metrics are measured but never gate', () => {
    const s = run(
      [rate, { name: 'shadow', dryRun: true }],
      measure('shadow', 'Failed'),
      measure('rate', 'Successful'),
    );
    expect(toRunStatus(s).phase).toBe('Running');
    expect(s.context.results[1]).toMatchObject({ dryRun: true, phase: 'Failed' });
    expect(toRunStatus(run([{ name: 'shadow', dryRun: true }])).phase).toBe('Successful');
  });

  it('terminating keeps what was measured: passing data succeeds, no data is inconclusive', () => {
    const stop: AnalysisRunEvent = { type: 'TERMINATE', now: T0 + 5 };
    expect(toRunStatus(run([{ name: 'rate' }], measure('rate', 'Successful'), stop)).phase).toBe(
      'Successful',
    );
    expect(toRunStatus(run([{ name: 'rate' }], stop))).toMatchObject({
      phase: 'Inconclusive',
      finishedAt: new Date(T0 + 5).toISOString(),
    });
  });

  it('keeps the last ten measurements and ignores measurements after a verdict', () => {
    const many = Array.from({ length: 12 }, (_, i) => measure('rate', 'Successful', T0 + i));
    const s = run([{ name: 'rate' }], ...many);
    expect(s.context.results[0]?.measurements).toHaveLength(10);
    expect(s.context.results[0]?.count).toBe(12);
    const done = run([{ name: 'rate', count: 1 }], measure('rate', 'Successful'), measure('rate', 'Failed'));
    expect(done.context.results[0]).toMatchObject({ count: 1, failed: 0 });
  });

  it('ignores measurements for unknown metrics', () => {
    const s = run([rate], measure('other', 'Failed'));
    expect(toRunStatus(s).phase).toBe('Pending');
  });
});

describe('undecided looks of an absolute builtin: neither a strike nor a pass', () => {
  const undecided = (now = T0): AnalysisRunEvent => ({
    type: 'MEASURE',
    now,
    metric: 'rate',
    phase: 'Inconclusive',
    value: '80',
    absolute: {
      verdict: 'undecided',
      threshold: 90,
      canary: { requests: 15, value: 80, lower: 40, upper: 97 },
      confidence: 0.99,
      minRequests: 10,
    },
  });
  const background = { name: 'rate', inconclusiveLimit: 0 };

  it('is no strike: a background gate with inconclusiveLimit 0 keeps looking, Pending', () => {
    const s = run([background], undecided(), undecided(T0 + 1), undecided(T0 + 2));
    expect(toRunStatus(s).phase).toBe('Pending');
    expect(s.context.results[0]).toMatchObject({ count: 3, inconclusive: 0, successful: 0 });
    expect(toRunStatus(s).metricResults[0]?.measurements.at(-1)?.phase).toBe('Inconclusive');
  });

  it('takes a passing gate back to Pending until a look passes again, and stopping then is no pass', () => {
    const passed = run([background], measure('rate', 'Successful'));
    expect(toRunStatus(passed).phase).toBe('Running');
    const doubt = transition(analysisRunMachine, passed, undecided(T0 + 1))[0];
    expect(toRunStatus(doubt).phase).toBe('Pending');
    const stopped = transition(analysisRunMachine, doubt, { type: 'TERMINATE', now: T0 + 2 })[0];
    expect(toRunStatus(stopped).phase).toBe('Inconclusive');
    const again = transition(analysisRunMachine, doubt, measure('rate', 'Successful', T0 + 2))[0];
    expect(toRunStatus(again).phase).toBe('Running');
  });

  it("counts towards a step gate's looks: it ends Successful only if its newest answer passed", () => {
    const step = { name: 'rate', count: 2 };
    expect(toRunStatus(run([step], undecided(), measure('rate', 'Successful', T0 + 1))).phase).toBe(
      'Successful',
    );
    expect(toRunStatus(run([step], measure('rate', 'Successful'), undecided(T0 + 1))).phase).toBe(
      'Inconclusive',
    );
    expect(toRunStatus(run([step], undecided(), undecided(T0 + 1))).phase).toBe('Inconclusive');
  });
});
