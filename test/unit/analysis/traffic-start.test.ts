import { describe, expect, it } from 'vitest';
import { evidenceSinceFor, evidenceStart, nextDueAt } from '../../../analysis/measure.ts';
import {
  TRAFFIC_RECHECK_MS,
  type TrafficSeen,
  trafficStart,
  trafficStep,
  waitingFor,
  weightAtStep,
} from '../../../analysis/traffic-start.ts';
import type { AnalysisRun, RunMetric } from '../../../crds/index.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const DEADLINE = 600_000;
const iso = (t: number) => new Date(t).toISOString();

const metric: RunMetric = {
  name: 'success-rate',
  interval: '10s',
  initialDelay: '10s',
  provider: { prometheus: { query: 'up' } },
};

const runOf = (status?: AnalysisRun['status'], name = 'web-abc-bg-a0'): AnalysisRun => ({
  apiVersion: 'sluice.dev/v1alpha1',
  kind: 'AnalysisRun',
  metadata: { name, namespace: 'ns', creationTimestamp: iso(T0) },
  spec: { rollout: 'web', revision: 'abc', gate: 'background', metrics: [metric] },
  ...(status ? { status } : {}),
});

const flowing: TrafficSeen = { readyPods: 2, weight: 10, routedBy: 'VirtualService web' };

describe('what a run waits for', () => {
  it('traffic flows only with a weight above 0 and a ready pod', () => {
    expect(waitingFor(flowing)).toBeUndefined();
    expect(waitingFor({ readyPods: 2 })).toBeUndefined(); // no VirtualService: the Service is the route
    expect(waitingFor({ ...flowing, weight: 0 })).toBe(
      'waiting for canary traffic (weight 0 in VirtualService web)',
    );
    expect(waitingFor({ ...flowing, readyPods: 0 })).toBe('waiting for canary traffic (no ready pods)');
    expect(waitingFor({ readyPods: 0, weight: 0, routedBy: 'VirtualService web' })).toMatch(
      /weight 0 .*, no ready pods/,
    );
    expect(waitingFor({ readyPods: 1, selected: false })).toMatch(/does not select it/);
    expect(waitingFor({ readyPods: 1, selected: true })).toBeUndefined();
  });
});

describe("a run's first look waits for the canary's first traffic", () => {
  it('before traffic: no look is due, the run says why and looks again within a second', () => {
    const step = trafficStep(runOf(), T0, { ...flowing, weight: 0 }, T0 + 5_000, DEADLINE);
    expect(step).toEqual({
      kind: 'waiting',
      message: 'waiting for canary traffic (weight 0 in VirtualService web)',
      recheckAt: T0 + 5_000 + TRAFFIC_RECHECK_MS,
    });
  });

  it('traffic arriving late starts the clock then: the first look is due initialDelay after it, not after the run start', () => {
    const arrives = T0 + 45_000;
    const step = trafficStep(runOf(), T0, flowing, arrives, DEADLINE);
    expect(step).toEqual({ kind: 'flowing', since: arrives, record: true });
    if (step.kind !== 'flowing') return;
    // Without the wait the first look would have been due at T0 + 10 s, on a canary nobody could reach.
    expect(nextDueAt(metric, undefined, T0)).toBe(T0 + 10_000);
    expect(nextDueAt(metric, undefined, step.since)).toBe(arrives + 10_000);
  });

  it('once recorded, the moment stays: a later pass (or a restarted controller) reads it from status', () => {
    const since = T0 + 45_000;
    const run = runOf({ phase: 'Pending', trafficSince: iso(since) });
    expect(trafficStart(run, T0)).toBe(since);
    // Even if the canary loses its weight again (a pause at 0): its clock has started.
    expect(trafficStep(run, T0, { ...flowing, weight: 0 }, T0 + 90_000, DEADLINE)).toEqual({
      kind: 'flowing',
      since,
      record: false,
    });
  });

  it('a run an older controller already measured counts from its start, as it did', () => {
    const measured = runOf({
      phase: 'Running',
      metricResults: [
        {
          name: 'success-rate',
          phase: 'Running',
          count: 1,
          successful: 1,
          failed: 0,
          inconclusive: 0,
          error: 0,
          consecutiveError: 0,
          measurements: [{ phase: 'Successful', startedAt: iso(T0 + 10_000), finishedAt: iso(T0 + 10_000) }],
        },
      ],
    } as AnalysisRun['status']);
    expect(trafficStep(measured, T0, { ...flowing, weight: 0 }, T0 + 20_000, DEADLINE)).toEqual({
      kind: 'flowing',
      since: T0,
      record: false,
    });
  });

  it('without a way to observe traffic, a run counts from its start (no change for such callers)', () => {
    expect(trafficStep(runOf(), T0, undefined, T0 + 1_000, DEADLINE)).toEqual({
      kind: 'flowing',
      since: T0,
      record: false,
    });
  });

  it('a canary that never gets traffic does not wait silently: the run gives up at the progress deadline, saying what it waited for', () => {
    const before = trafficStep(runOf(), T0, { readyPods: 0 }, T0 + DEADLINE - 400, DEADLINE);
    expect(before.kind).toBe('waiting');
    if (before.kind === 'waiting') expect(before.recheckAt).toBe(T0 + DEADLINE); // not a second past it
    const after = trafficStep(runOf(), T0, { readyPods: 0 }, T0 + DEADLINE, DEADLINE);
    expect(after).toEqual({
      kind: 'gaveUp',
      message:
        "no canary traffic within 600s (progressDeadlineSeconds) of the run's start: (no ready pods); no look was taken",
    });
  });
});

describe('a wait the release itself causes', () => {
  it('has no deadline while the release has not given the canary weight yet (a long bake at 0 is not a hang)', () => {
    const planned = { ...flowing, weight: 0, weightPlanned: true };
    expect(trafficStep(runOf(), T0, planned, T0 + 3 * DEADLINE, DEADLINE)).toEqual({
      kind: 'waiting',
      message: 'waiting for canary traffic (weight 0 in VirtualService web)',
      recheckAt: T0 + 3 * DEADLINE + TRAFFIC_RECHECK_MS,
    });
  });

  it('the weight at a step is the last setWeight before it; none: 0 (a step gate then checks before traffic)', () => {
    const steps = [{ analysis: {} }, { setWeight: 20 }, { pause: {} }, { analysis: {} }, { setWeight: 50 }];
    expect(weightAtStep(steps, 0)).toBe(0);
    expect(weightAtStep(steps, 3)).toBe(20);
    expect(weightAtStep(steps, 5)).toBe(50);
    expect(weightAtStep([], 0)).toBe(0);
  });
});

describe('compareToStable counts from the first traffic too', () => {
  it("a first run's evidence starts at its traffic, not its creation", () => {
    const since = T0 + 30_000;
    expect(evidenceStart(runOf())).toBe(T0);
    expect(evidenceStart(runOf({ phase: 'Pending', trafficSince: iso(since) }))).toBe(since);
  });

  it("a re-run (a watch while paused) carries the first run's evidence, from that run's traffic", () => {
    const since = T0 + 30_000;
    const first = runOf({ phase: 'Inconclusive', trafficSince: iso(since) });
    expect(evidenceSinceFor('web-abc-bg-a0-r1', [first])).toBe(iso(since));
  });
});
