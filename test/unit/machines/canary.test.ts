import { describe, expect, it } from 'vitest';
import { HISTORY_LIMIT } from '../../../machines/history.ts';
import {
  canarySpec,
  Driver,
  established,
  find,
  gate,
  MIN,
  observe,
  reasons,
  T0,
  trafficOf,
  types,
} from './fixtures.ts';

const spec = canarySpec(
  [{ setWeight: 10 }, { pause: { duration: '1m' } }, { setWeight: 50 }, { analysis: gate }, { pause: {} }],
  { analysis: gate, scaleDownDelaySeconds: 30, abortScaleDownDelaySeconds: 10 },
);

/** r1 stable, r2 released and its canary ready: at the timed pause, weight 10, background Running. */
function atTimedPause(): Driver {
  const d = established(spec);
  d.send(observe(T0 + 1000, 'r2'));
  d.send(observe(T0 + 2000, 'r2', { ready: true }));
  d.send(observe(T0 + 3000, 'r2', { gates: { background: { name: d.background, phase: 'Running' } } }));
  return d;
}

/** Continues to the analysis step (weight 50). */
function atAnalysisStep(): Driver {
  const d = atTimedPause();
  d.send(observe(T0 + 2000 + MIN, 'r2'));
  expect(d.status?.machineState).toBe('release.running.stepAnalysis');
  return d;
}

describe('canary: starting out', () => {
  it('makes the first revision stable at once', () => {
    const d = new Driver(spec);
    const actions = d.send(observe(T0, 'r1'));
    expect(types(actions)).toEqual(['emitEvent']);
    expect(d.writes).toEqual([
      { type: 'createReplicaSet', revision: 'r1', replicas: 4 },
      { type: 'pointService', service: 's', revision: 'r1' },
      { type: 'pointService', service: 'c', revision: 'r1' },
    ]);
    expect(d.status).toMatchObject({ phase: 'Healthy', stableRevision: 'r1', currentRevision: 'r1' });
    expect(d.status?.history?.[0]).toMatchObject({ revision: 'r1', outcome: 'Promoted' });
    expect(d.send(observe(T0 + 1, 'r1'))).toEqual([]);
  });

  it('starts a release for a new revision and waits for the canary before any traffic', () => {
    const d = established(spec);
    const actions = d.send(observe(T0 + 1000, 'r2'));
    expect(types(actions)).toEqual(['emitEvent']);
    // The canary runs at full size from the start; its Service selects it, but no weight before it is ready.
    expect(d.writes).toEqual([
      { type: 'createReplicaSet', revision: 'r2', replicas: 4 },
      { type: 'pointService', service: 'c', revision: 'r2' },
    ]);
    expect(d.status).toMatchObject({
      phase: 'Progressing',
      currentRevision: 'r2',
      currentStepIndex: 0,
      attempt: 0,
    });
    expect(d.status?.message).toMatch(/Waiting for canary r2 to be ready/);
    d.send(observe(T0 + 1500, 'r2', { ready: false }));
    expect(d.writes).toEqual([]);
    const ready = d.send(observe(T0 + 2000, 'r2', { ready: true }));
    expect(types(ready)).toEqual(['startAnalysis', 'emitEvent', 'emitEvent']);
    // The first step (setWeight 10) is done the moment its weight is; people see both.
    expect(find(ready, 'emitEvent').map((a) => a.params.message)).toEqual([
      'Step 1 of 5 (setWeight 10) completed for r2.',
      'Canary weight 0% → 10% after step 1 of 5.',
    ]);
    expect(find(ready, 'startAnalysis')[0]?.params).toEqual({
      gate: 'background',
      name: 'checkout-r2-bg-a0',
      revision: 'r2',
    });
    expect(d.writes).toEqual([{ type: 'setWeight', weight: 10 }]);
  });
});

describe('canary: steps', () => {
  it('holds a timed pause until its deadline, and says when to wake', () => {
    const d = atTimedPause();
    expect(d.status).toMatchObject({
      phase: 'Paused',
      pause: { reason: 'Step', resumeAt: new Date(T0 + 2000 + MIN).toISOString() },
    });
    expect(d.last.wakeAt).toBe(T0 + 2000 + MIN);
    expect(d.send(observe(T0 + 2000 + MIN - 1, 'r2'))).toEqual([]);
    const after = d.send(observe(T0 + 2000 + MIN, 'r2'));
    expect(types(after)).toEqual(['startAnalysis', 'emitEvent', 'emitEvent', 'emitEvent']);
    expect(reasons(after)).toEqual(['StepCompleted', 'StepCompleted', 'WeightChanged']);
    expect(d.writes).toEqual([{ type: 'setWeight', weight: 50 }]);
    expect(find(after, 'startAnalysis')[0]?.params).toMatchObject({
      gate: 'step',
      stepIndex: 3,
      name: 'checkout-r2-step-3-a0',
    });
  });

  it('a timed pause whose background gate has not passed a look keeps the canary at its share', () => {
    // The chaos leader-failover suite: three failovers in the 30 s pause left a 60%-error
    // canary's gate without a look, and the release moved it from 20% to 60%.
    const d = established(spec);
    d.send(observe(T0 + 1000, 'r2'));
    d.send(observe(T0 + 2000, 'r2', { ready: true }));
    const pending = { background: { name: d.background, phase: 'Pending' as const } };
    d.send(observe(T0 + 3000, 'r2', { gates: pending }));
    const end = T0 + 2000 + MIN;
    const overdue = end + 600_000;
    expect(d.last.wakeAt).toBe(overdue); // not the pause's end: the gate's answer wakes it
    expect(d.send(observe(end, 'r2', { gates: pending }))).toEqual([]);
    expect(d.writes).toEqual([]);
    expect(d.status).toMatchObject({ machineState: 'release.running.stepPause', phase: 'Paused' });
    expect(d.status?.message).toMatch(
      /then until background analysis checkout-r2-bg-a0 \(Pending\) passes a look/,
    );
    const passing = { background: { name: d.background, phase: 'Running' as const } };
    d.send(observe(end + 5000, 'r2', { gates: passing }));
    expect(d.writes).toEqual([{ type: 'setWeight', weight: 50 }]);
  });

  it('a timed pause at weight 0 ends on time: the gate waits for traffic, so it cannot pass first', () => {
    // The sandbox first-traffic suite: held for the gate, the release never gave it traffic.
    const d = established(canarySpec([{ pause: { duration: '1m' } }, { setWeight: 50 }], { analysis: gate }));
    d.send(observe(T0 + 1000, 'r2'));
    d.send(observe(T0 + 2000, 'r2', { ready: true }));
    const pending = { background: { name: d.background, phase: 'Pending' as const } };
    d.send(observe(T0 + 3000, 'r2', { gates: pending }));
    expect(d.last.wakeAt).toBe(T0 + 2000 + MIN);
    expect(d.status?.message).not.toMatch(/passes a look/);
    d.send(observe(T0 + 2000 + MIN, 'r2', { gates: pending }));
    expect(d.writes).toEqual([{ type: 'setWeight', weight: 50 }]);
  });

  it('a timed pause whose background gate never passes aborts a progress deadline after its end', () => {
    const d = established(spec);
    d.send(observe(T0 + 1000, 'r2'));
    d.send(observe(T0 + 2000, 'r2', { ready: true }));
    const pending = { background: { name: d.background, phase: 'Pending' as const } };
    const overdue = T0 + 2000 + MIN + 600_000;
    expect(d.send(observe(overdue - 1, 'r2', { gates: pending }))).toEqual([]);
    d.send(observe(overdue, 'r2', { gates: pending }));
    expect(trafficOf(d.writes)[0]).toEqual({ type: 'setWeight', weight: 0 });
    expect(d.status?.phase).toBe('Degraded');
    expect(d.status?.message).toMatch(/progressDeadlineSeconds/);
  });

  it('waits for a step analysis to succeed, stops it, then holds an indefinite pause until promoted', () => {
    const d = atAnalysisStep();
    expect(
      d.send(observe(T0 + 3 * MIN, 'r2', { gates: { step: { name: d.analysis, phase: 'Running' } } })),
    ).toEqual([]);
    const passed = d.send(
      observe(T0 + 4 * MIN, 'r2', { gates: { step: { name: d.analysis, phase: 'Successful' } } }),
    );
    expect(passed).toEqual([
      { type: 'stopAnalysis', params: { name: 'checkout-r2-step-3-a0' } },
      {
        type: 'emitEvent',
        params: {
          reason: 'StepCompleted',
          message: 'Step 4 of 5 (analysis) completed for r2.',
          type: 'Normal',
        },
      },
    ]);
    expect(d.status).toMatchObject({ phase: 'Paused', pause: { reason: 'Step' }, currentStepIndex: 4 });
    expect(d.status?.pause?.resumeAt).toBeUndefined();
    expect(d.last.wakeAt).toBeUndefined();
    expect(d.send(observe(T0 + 60 * MIN, 'r2'))).toEqual([]);
    const promoted = d.send({ type: 'PROMOTE', now: T0 + 61 * MIN });
    expect(types(promoted)).toEqual(['emitEvent', 'stopAnalysis', 'emitEvent']);
    // The stable Service moves to the new revision before the canary weight falls to 0.
    expect(trafficOf(d.writes)).toEqual([
      { type: 'pointService', service: 's', revision: 'r2' },
      { type: 'setWeight', weight: 0 },
    ]);
    expect(d.status).toMatchObject({ phase: 'Healthy', stableRevision: 'r2', canary: { weight: 0 } });
    expect(d.status?.history?.at(-1)).toMatchObject({
      revision: 'r2',
      outcome: 'Promoted',
      reason: 'every step and gate passed',
    });
  });

  it('scales the old revision down after scaleDownDelaySeconds', () => {
    const d = atAnalysisStep();
    d.send(observe(T0 + 4 * MIN, 'r2', { gates: { step: { name: d.analysis, phase: 'Successful' } } }));
    d.send({ type: 'PROMOTE', now: T0 + 5 * MIN });
    expect(d.status?.scaleDown).toEqual([
      { revision: 'r1', at: new Date(T0 + 5 * MIN + 30_000).toISOString() },
    ]);
    expect(d.last.wakeAt).toBe(T0 + 5 * MIN + 30_000);
    d.send(observe(T0 + 5 * MIN + 29_999, 'r2'));
    expect(d.writes).toEqual([]);
    d.send(observe(T0 + 5 * MIN + 30_000, 'r2'));
    expect(d.writes).toEqual([{ type: 'scaleReplicaSet', revision: 'r1', from: 4, to: 0 }]);
    expect(d.status?.scaleDown).toBeUndefined();
  });

  it('promotes straight after the canary is ready when there are no steps', () => {
    const d = established(canarySpec());
    d.send(observe(T0 + 1, 'r2'));
    const actions = d.send(observe(T0 + 2, 'r2', { ready: true }));
    expect(types(actions)).toEqual(['emitEvent']);
    expect(d.status).toMatchObject({ phase: 'Healthy', stableRevision: 'r2' });
    expect(trafficOf(d.writes)).toEqual([{ type: 'pointService', service: 's', revision: 'r2' }]);
  });

  it('with no steps but background gates, waits until the background run has measured', () => {
    const d = established(canarySpec([], { analysis: gate }));
    d.send(observe(T0 + 1, 'r2'));
    expect(types(d.send(observe(T0 + 2, 'r2', { ready: true })))).toEqual(['startAnalysis']);
    expect(d.status?.machineState).toBe('release.running.finalizing');
    expect(
      d.send(observe(T0 + 3, 'r2', { gates: { background: { name: d.background, phase: 'Pending' } } })),
    ).toEqual([]);
    d.send(observe(T0 + 4, 'r2', { gates: { background: { name: d.background, phase: 'Running' } } }));
    expect(d.status).toMatchObject({ phase: 'Healthy', stableRevision: 'r2' });
  });

  it('aborts when background gates never report before the progress deadline', () => {
    const d = established(canarySpec([], { analysis: gate }));
    d.send(observe(T0 + 1, 'r2'));
    d.send(observe(T0 + 2, 'r2', { ready: true }));
    expect(d.last.wakeAt).toBe(T0 + 2 + 600_000);
    const pending = { background: { name: d.background, phase: 'Pending' as const } };
    const actions = d.send(observe(T0 + 2 + 600_000, 'r2', { gates: pending }));
    expect(d.status?.stableRevision).toBe('r1');
    expect(trafficOf(d.writes)).toEqual([{ type: 'pointService', service: 'c', revision: 'r1' }]);
    expect(find(actions, 'markAborted')[0]?.params.kind).toBe('ProgressDeadline');
    expect(d.status?.phase).toBe('Degraded');
  });

  it('ignores gate results of runs it did not start (stale names)', () => {
    const d = atAnalysisStep();
    expect(
      d.send(observe(T0 + 4 * MIN, 'r2', { gates: { step: { name: 'someone-else', phase: 'Failed' } } })),
    ).toEqual([]);
    expect(d.status?.phase).toBe('Progressing');
  });
});

describe('canary: signals', () => {
  it('PROMOTE skips a timed pause to the next step', () => {
    const d = atTimedPause();
    d.send({ type: 'PROMOTE', now: T0 + 5000 });
    expect(d.writes).toEqual([{ type: 'setWeight', weight: 50 }]);
    expect(d.status?.currentStepIndex).toBe(3);
  });

  it('plain PROMOTE never skips a running gate', () => {
    const d = atAnalysisStep();
    const actions = d.send({ type: 'PROMOTE', now: T0 + 3 * MIN });
    expect(actions).toEqual([
      expect.objectContaining({
        type: 'emitEvent',
        params: expect.objectContaining({ reason: 'PromoteIgnored' }),
      }),
    ]);
    expect(d.status?.machineState).toBe('release.running.stepAnalysis');
  });

  it('PROMOTE full skips every step and gate, and is recorded', () => {
    const d = atAnalysisStep();
    d.send({ type: 'PROMOTE', now: T0 + 3 * MIN, full: true });
    expect(d.status?.promoteFull).toBe(true);
    const actions = d.send(observe(T0 + 3 * MIN + 1, 'r2', { ready: true }));
    expect(trafficOf(d.writes)).toEqual([
      { type: 'pointService', service: 's', revision: 'r2' },
      { type: 'setWeight', weight: 0 },
    ]);
    expect(d.status?.stableRevision).toBe('r2');
    expect(
      find(actions, 'stopAnalysis')
        .map((a) => a.params.name)
        .sort(),
    ).toEqual(['checkout-r2-bg-a0', 'checkout-r2-step-3-a0']);
    expect(d.status).toMatchObject({ phase: 'Healthy', promoteFull: true });
    expect(d.status?.history?.at(-1)?.reason).toMatch(/in full/);
  });

  it('ABORT routes all traffic to stable first, stops gates and scales the canary down later', () => {
    const d = atAnalysisStep();
    const actions = d.send({ type: 'ABORT', now: T0 + 3 * MIN, reason: 'bad smell' });
    expect(trafficOf(d.writes)).toEqual([
      { type: 'setWeight', weight: 0 },
      { type: 'pointService', service: 'c', revision: 'r1' },
    ]);
    expect(types(actions)).toEqual(['stopAnalysis', 'stopAnalysis', 'markAborted', 'emitEvent', 'emitEvent']);
    expect(find(actions, 'emitEvent')[1]?.params.message).toBe('Canary weight 50% → 0% (aborted).');
    expect(find(actions, 'markAborted')[0]?.params).toEqual({ reason: 'bad smell', kind: 'Requested' });
    expect(d.status).toMatchObject({ phase: 'Degraded', abort: true, canary: { weight: 0 } });
    expect(d.status?.message).toMatch(/bad smell/);
    expect(d.status?.history?.at(-1)).toMatchObject({
      revision: 'r2',
      outcome: 'Aborted',
      reason: 'bad smell',
    });
    expect(d.last.wakeAt).toBe(T0 + 3 * MIN + 10_000);
    expect(d.writes.filter((w) => w.type === 'scaleReplicaSet')).toEqual([]);
    d.send(observe(T0 + 3 * MIN + 10_000, 'r2'));
    expect(d.writes).toEqual([{ type: 'scaleReplicaSet', revision: 'r2', from: 4, to: 0 }]);
    expect(d.status?.phase).toBe('Degraded');
  });

  it('RETRY after abort restarts from step 0 with attempt + 1 and fresh run names', () => {
    const d = atAnalysisStep();
    d.send({ type: 'ABORT', now: T0 + 3 * MIN });
    d.send({ type: 'RETRY', now: T0 + 4 * MIN });
    // Its pods are still up (abortScaleDownDelaySeconds): the canary Service selects it again, at weight 0.
    expect(d.writes).toEqual([{ type: 'pointService', service: 'c', revision: 'r2' }]);
    expect(d.status).toMatchObject({ phase: 'Progressing', attempt: 1, currentStepIndex: 0 });
    expect(d.status?.scaleDown).toBeUndefined();
    const ready = d.send(observe(T0 + 5 * MIN, 'r2', { ready: true }));
    expect(find(ready, 'startAnalysis')[0]?.params.name).toBe('checkout-r2-bg-a1');
  });

  it('PAUSE holds the release and RESUME continues at the same step once the canary is ready', () => {
    const d = atTimedPause();
    d.send({ type: 'PAUSE', now: T0 + 5000 });
    expect(d.status).toMatchObject({ phase: 'Paused', pause: { reason: 'Manual' } });
    expect(d.send({ type: 'PAUSE', now: T0 + 5001 })).toEqual([]);
    expect(d.send(observe(T0 + 10 * MIN, 'r2', { ready: true }))).toEqual([]);
    d.send({ type: 'RESUME', now: T0 + 11 * MIN });
    expect(d.status?.machineState).toBe('release.running.awaitingCanary');
    d.send(observe(T0 + 11 * MIN + 1, 'r2', { ready: true }));
    // the pause step's deadline passed while paused: the release moves on
    expect(d.writes).toEqual([{ type: 'setWeight', weight: 50 }]);
  });

  it('signals with nothing to act on change nothing', () => {
    const d = established(spec);
    for (const type of ['PROMOTE', 'ABORT', 'RETRY', 'PAUSE', 'RESUME'] as const) {
      expect(d.send({ type, now: T0 + 1 })).toEqual([]);
    }
    expect(d.status?.phase).toBe('Healthy');
  });
});

describe('canary: gates decide', () => {
  it('a failed step analysis aborts, traffic to stable first', () => {
    const d = atAnalysisStep();
    const actions = d.send(
      observe(T0 + 3 * MIN, 'r2', {
        gates: { step: { name: d.analysis, phase: 'Failed', message: 'rate 91 < 99' } },
      }),
    );
    expect(find(actions, 'markAborted')).toHaveLength(1);
    expect(trafficOf(d.writes)[0]).toEqual({ type: 'setWeight', weight: 0 });
    expect(d.status?.phase).toBe('Degraded');
    expect(d.status?.history?.at(-1)?.reason).toMatch(/rate 91 < 99/);
  });

  it('a failed background analysis aborts from any step', () => {
    const d = atTimedPause();
    const actions = d.send(
      observe(T0 + 5000, 'r2', { gates: { background: { name: d.background, phase: 'Failed' } } }),
    );
    expect(trafficOf(d.writes)[0]).toEqual({ type: 'setWeight', weight: 0 });
    // The metric's label comes from the decision, not from reading its sentence.
    expect(find(actions, 'markAborted')[0]?.params.kind).toBe('AnalysisFailed');
    expect(d.status?.phase).toBe('Degraded');
  });

  it('an inconclusive step analysis pauses with reason Inconclusive; PROMOTE re-runs the gate', () => {
    const d = atAnalysisStep();
    d.send(observe(T0 + 3 * MIN, 'r2', { gates: { step: { name: d.analysis, phase: 'Inconclusive' } } }));
    expect(d.status).toMatchObject({ phase: 'Paused', pause: { reason: 'Inconclusive' } });
    d.send({ type: 'PROMOTE', now: T0 + 4 * MIN });
    const actions = d.send(observe(T0 + 4 * MIN + 1, 'r2', { ready: true }));
    expect(find(actions, 'startAnalysis').map((a) => a.params.name)).toEqual([
      'checkout-r2-bg-a0-r1',
      'checkout-r2-step-3-a0-r1',
    ]);
  });

  it('an analysis error pauses with reason AnalysisError', () => {
    const d = atAnalysisStep();
    d.send(observe(T0 + 3 * MIN, 'r2', { gates: { step: { name: d.analysis, phase: 'Error' } } }));
    expect(d.status).toMatchObject({ phase: 'Paused', pause: { reason: 'AnalysisError' } });
  });

  it('an inconclusive background analysis pauses once, not on every reconcile', () => {
    const d = atTimedPause();
    const seen = { background: { name: d.background, phase: 'Inconclusive' as const } };
    const events = find(d.send(observe(T0 + 5000, 'r2', { gates: seen })), 'emitEvent');
    expect(events.map((e) => e.params.reason)).toEqual(['PausedInconclusive', 'WatchingWhilePaused']);
    expect(d.send(observe(T0 + 6000, 'r2', { gates: seen }))).toEqual([]);
    expect(d.status?.pause?.reason).toBe('Inconclusive');
  });

  it('aborts at the progress deadline when the canary never becomes ready', () => {
    const d = established(spec);
    d.send(observe(T0 + 1000, 'r2'));
    expect(d.last.wakeAt).toBe(T0 + 1000 + 600_000);
    expect(d.send(observe(T0 + 1000 + 599_999, 'r2'))).toEqual([]);
    d.send(observe(T0 + 1000 + 600_000, 'r2'));
    // It never had a weight: its Service goes back to stable, and its pods after the delay.
    expect(d.writes).toEqual([{ type: 'pointService', service: 'c', revision: 'r1' }]);
    expect(d.status?.history?.at(-1)?.reason).toMatch(/progressDeadlineSeconds/);
  });
});

/** At the timed pause, then the background gate ended Inconclusive (no data): paused and watching. */
function watchingAfterInconclusive(): { d: Driver; watch: string } {
  const d = atTimedPause();
  const original = d.background;
  d.send(observe(T0 + 5000, 'r2', { gates: { background: { name: original, phase: 'Inconclusive' } } }));
  return { d, watch: d.background };
}

describe('canary: a pause keeps the background gate watching', () => {
  it('an undecided background gate pauses and runs again as a watch; traffic stays where it was', () => {
    const d = atTimedPause();
    const gates = {
      background: { name: d.background, phase: 'Inconclusive' as const, message: 'no data for success-rate' },
    };
    const actions = d.send(observe(T0 + 5000, 'r2', { gates }));
    expect(d.writes).toEqual([]);
    expect(find(actions, 'startAnalysis').map((a) => a.params)).toEqual([
      { gate: 'background', name: 'checkout-r2-bg-a0-r1', revision: 'r2', watch: true },
    ]);
    expect(d.status).toMatchObject({
      phase: 'Paused',
      machineState: 'release.paused.watching',
      gateRestarts: 1,
      canary: { weight: 10 },
      pause: { reason: 'Inconclusive', message: expect.stringContaining('no data for success-rate') },
      backgroundAnalysis: { name: 'checkout-r2-bg-a0-r1', phase: 'Pending' },
    });
    expect(d.status?.message).toMatch(/checkout-r2-bg-a0-r1 \(Pending\) keeps watching/);
  });

  it("the watch's Failed look aborts the paused release: traffic off the canary first, a Warning naming the metric", () => {
    const { d, watch } = watchingAfterInconclusive();
    const message = 'metric success-rate: 71.4 is below 99 (min)';
    d.send(observe(T0 + 6000, 'r2', { gates: { background: { name: watch, phase: 'Running' } } }));
    expect(d.status?.phase).toBe('Paused');
    const actions = d.send(
      observe(T0 + 7000, 'r2', { gates: { background: { name: watch, phase: 'Failed', message } } }),
    );
    expect(trafficOf(d.writes)[0]).toEqual({ type: 'setWeight', weight: 0 });
    expect(find(actions, 'stopAnalysis').map((a) => a.params.name)).toEqual([watch]);
    const warning = find(actions, 'emitEvent').find((e) => e.params.type === 'Warning');
    expect(warning?.params.message).toContain(message);
    expect(d.status).toMatchObject({ phase: 'Degraded', abort: true, canary: { weight: 0 } });
    expect(d.status?.history?.at(-1)).toMatchObject({
      outcome: 'Aborted',
      reason: expect.stringContaining(message),
    });
  });

  it('a passing watch does not move the release on: it still waits for a person', () => {
    const { d, watch } = watchingAfterInconclusive();
    const running = d.send(
      observe(T0 + 10 * MIN, 'r2', { ready: true, gates: { background: { name: watch, phase: 'Running' } } }),
    );
    expect(running).toEqual([]);
    expect(d.status?.machineState).toBe('release.paused.watching');
    d.send({ type: 'RESUME', now: T0 + 11 * MIN });
    const resumed = d.log.at(-1) ?? [];
    expect(find(resumed, 'stopAnalysis').map((a) => a.params.name)).toEqual([watch]);
    const next = d.send(observe(T0 + 11 * MIN + 1, 'r2', { ready: true }));
    // gates run again as after any gate pause: a plain background run, no longer a watch
    expect(find(next, 'startAnalysis')[0]?.params).toEqual({
      gate: 'background',
      name: 'checkout-r2-bg-a0-r2',
      revision: 'r2',
    });
  });

  it('a watch that itself ends is not started again: the pause says why, from when it began', () => {
    const { d, watch } = watchingAfterInconclusive();
    const startTime = d.status?.pause?.startTime;
    const gates = { background: { name: watch, phase: 'Error' as const, message: 'query failed 5 times' } };
    const actions = d.send(observe(T0 + 9 * MIN, 'r2', { gates }));
    expect(find(actions, 'startAnalysis')).toEqual([]);
    expect(find(actions, 'emitEvent').map((e) => e.params.reason)).toEqual(['WatchEnded']);
    expect(d.status).toMatchObject({
      machineState: 'release.paused.watching',
      pause: { reason: 'AnalysisError', startTime, message: expect.stringContaining('query failed 5 times') },
      backgroundAnalysis: { name: watch, phase: 'Error' },
    });
    expect(d.send(observe(T0 + 10 * MIN, 'r2', { gates }))).toEqual([]);
  });

  it('a gate that cannot measure again is not watched: invalid, or Prometheus unreachable (the runner resumes)', () => {
    for (const reason of ['InvalidAnalysis', 'PrometheusUnreachable']) {
      const d = atTimedPause();
      const gates = { background: { name: d.background, phase: 'Error' as const, reason } };
      const actions = d.send(observe(T0 + 5000, 'r2', { gates }));
      expect(find(actions, 'startAnalysis')).toEqual([]);
      expect(d.status).toMatchObject({
        machineState: 'release.paused.held',
        pause: { reason: 'AnalysisError' },
      });
      // the reason decides this look only; status keeps name, phase and message
      expect(d.status?.backgroundAnalysis).toEqual({ name: 'checkout-r2-bg-a0', phase: 'Error' });
    }
  });

  it('a background gate that errors for another reason is watched like an undecided one', () => {
    const d = atTimedPause();
    const gates = { background: { name: d.background, phase: 'Error' as const, reason: 'Error' } };
    expect(find(d.send(observe(T0 + 5000, 'r2', { gates })), 'startAnalysis')).toHaveLength(1);
    expect(d.status).toMatchObject({
      machineState: 'release.paused.watching',
      pause: { reason: 'AnalysisError' },
    });
  });

  it('a pause by a person keeps the running background gate, and its Failed look aborts', () => {
    const d = atTimedPause();
    const running = d.background;
    expect(d.send({ type: 'PAUSE', now: T0 + 5000 }).map((a) => a.type)).toEqual(['emitEvent']);
    expect(d.status).toMatchObject({ machineState: 'release.paused.held', pause: { reason: 'Manual' } });
    const actions = d.send(
      observe(T0 + 6000, 'r2', { gates: { background: { name: running, phase: 'Failed' } } }),
    );
    expect(find(actions, 'markAborted')).toHaveLength(1);
    expect(trafficOf(d.writes)[0]).toEqual({ type: 'setWeight', weight: 0 });
    expect(d.status?.phase).toBe('Degraded');
  });

  it('a pause by a person whose background gate then ends undecided starts the watch', () => {
    const d = atTimedPause();
    d.send({ type: 'PAUSE', now: T0 + 5000 });
    const gates = { background: { name: d.background, phase: 'Inconclusive' as const } };
    expect(find(d.send(observe(T0 + 6000, 'r2', { gates })), 'startAnalysis')[0]?.params.watch).toBe(true);
    expect(d.status).toMatchObject({
      machineState: 'release.paused.watching',
      pause: { reason: 'Inconclusive' },
    });
  });

  it('an indefinite pause step keeps the background gate, and its Failed look aborts', () => {
    const d = atAnalysisStep();
    d.send(observe(T0 + 3 * MIN, 'r2', { gates: { step: { name: d.analysis, phase: 'Successful' } } }));
    expect(d.status).toMatchObject({ machineState: 'release.running.stepPause', phase: 'Paused' });
    const actions = d.send(
      observe(T0 + 60 * MIN, 'r2', { gates: { background: { name: d.background, phase: 'Failed' } } }),
    );
    expect(find(actions, 'markAborted')).toHaveLength(1);
    expect(trafficOf(d.writes)[0]).toEqual({ type: 'setWeight', weight: 0 });
    expect(d.status).toMatchObject({ phase: 'Degraded', canary: { weight: 0 } });
  });

  it('a step gate held undecided leaves the background gate running; when it too ends undecided, it is watched', () => {
    const d = atAnalysisStep();
    const background = d.background;
    const held = d.send(
      observe(T0 + 3 * MIN, 'r2', { gates: { step: { name: d.analysis, phase: 'Inconclusive' } } }),
    );
    expect(find(held, 'stopAnalysis')).toEqual([]);
    expect(d.status).toMatchObject({
      machineState: 'release.paused.held',
      backgroundAnalysis: { name: background },
    });
    const gates = { background: { name: background, phase: 'Inconclusive' as const } };
    expect(find(d.send(observe(T0 + 4 * MIN, 'r2', { gates })), 'startAnalysis')).toHaveLength(1);
    expect(d.status?.machineState).toBe('release.paused.watching');
  });

  it("the runner's reasons are the ones the machine knows", async () => {
    const runner = await import('../../../analysis/run-state.ts');
    const release = await import('../../../machines/release.ts');
    expect([release.REASON_INVALID, release.REASON_UNREACHABLE]).toEqual([
      runner.REASON_INVALID,
      runner.REASON_UNREACHABLE,
    ]);
  });
});

describe('canary: the template changes mid-release', () => {
  it('a newer revision supersedes the canary and restarts with it', () => {
    const d = atAnalysisStep();
    const actions = d.send(observe(T0 + 3 * MIN, 'r3'));
    expect(types(actions)).toEqual(['stopAnalysis', 'stopAnalysis', 'emitEvent', 'emitEvent']);
    expect(reasons(actions)).toEqual(['ReleaseStarted', 'WeightChanged']);
    // The new canary is created, the old one's traffic goes back to stable, then it goes down.
    expect(d.writes).toEqual([
      { type: 'createReplicaSet', revision: 'r3', replicas: 4 },
      { type: 'setWeight', weight: 0 },
      { type: 'pointService', service: 'c', revision: 'r3' },
      { type: 'scaleReplicaSet', revision: 'r2', from: 4, to: 0 },
    ]);
    expect(d.status).toMatchObject({
      currentRevision: 'r3',
      stableRevision: 'r1',
      currentStepIndex: 0,
      phase: 'Progressing',
    });
    expect(d.status?.history?.at(-1)).toMatchObject({ revision: 'r2', outcome: 'Superseded' });
  });

  it('reverting to the stable revision rolls back at once', () => {
    const d = atAnalysisStep();
    d.send(observe(T0 + 3 * MIN, 'r1'));
    expect(d.writes).toEqual([
      { type: 'setWeight', weight: 0 },
      { type: 'pointService', service: 'c', revision: 'r1' },
      { type: 'scaleReplicaSet', revision: 'r2', from: 4, to: 0 },
    ]);
    expect(d.status).toMatchObject({ phase: 'Healthy', currentRevision: 'r1', stableRevision: 'r1' });
    expect(d.status?.history?.at(-1)).toMatchObject({ revision: 'r2', outcome: 'RolledBack' });
  });

  it('after an abort, reverting git settles on stable and a new revision starts a release', () => {
    const d = atAnalysisStep();
    d.send({ type: 'ABORT', now: T0 + 3 * MIN });
    d.send(observe(T0 + 4 * MIN, 'r1'));
    expect(d.status).toMatchObject({ phase: 'Healthy', currentRevision: 'r1' });
    const e = atAnalysisStep();
    e.send({ type: 'ABORT', now: T0 + 3 * MIN });
    e.send(observe(T0 + 4 * MIN, 'r3'));
    expect(e.status).toMatchObject({ phase: 'Progressing', currentRevision: 'r3' });
  });

  it('keeps only the last ten releases in history', () => {
    const d = established(canarySpec());
    for (let i = 2; i < 20; i++) {
      d.send(observe(T0 + i * 10, `r${i}`));
      d.send(observe(T0 + i * 10 + 1, `r${i}`, { ready: true }));
    }
    expect(d.status?.history).toHaveLength(HISTORY_LIMIT);
    expect(d.status?.history?.at(-1)?.revision).toBe('r19');
  });
});

describe('canary: defensive corners', () => {
  it('passes over a step that sets nothing', () => {
    const d = established(canarySpec([{}, { setWeight: 30 }]));
    d.send(observe(T0 + 1, 'r2'));
    d.send(observe(T0 + 2, 'r2', { ready: true }));
    // Past the empty step and the 30% step to promotion in one pass: the world ends promoted.
    expect(d.status).toMatchObject({ phase: 'Healthy', stableRevision: 'r2' });
    expect(trafficOf(d.writes)).toEqual([{ type: 'pointService', service: 's', revision: 'r2' }]);
  });
});

describe('promote --full after a background watch ended', () => {
  // Found by the property suite (seed 294584407): the ended watch stayed in status through the
  // full promotion, so a later pause showed a gate that no longer watched anything.
  it('forgets the ended background gate; a later pause shows none', async () => {
    const { decide } = await import('../../../machines/decide.ts');
    const spec = canarySpec([], { analysis: { successRate: { min: 99 } } });
    let status: Parameters<typeof decide>[1];
    const send = (e: Parameters<typeof decide>[2][number]) => {
      status = decide({ name: 'checkout', spec }, status, [e]).status;
      return status;
    };
    const bg = (phase: 'Inconclusive') => ({
      background: { name: status?.backgroundAnalysis?.name ?? '', phase },
    });
    send({ type: 'OBSERVE', now: T0, revision: 'r1' });
    send({ type: 'OBSERVE', now: T0 + 1, revision: 'r2', ready: { canary: true } });
    send({
      type: 'OBSERVE',
      now: T0 + 2,
      revision: 'r2',
      ready: { canary: true },
      gates: bg('Inconclusive'),
    });
    const watchEnded = send({
      type: 'OBSERVE',
      now: T0 + 3,
      revision: 'r2',
      ready: { canary: true },
      gates: bg('Inconclusive'),
    });
    expect(watchEnded.backgroundAnalysis?.phase).toBe('Inconclusive');
    expect(send({ type: 'PROMOTE', now: T0 + 4, full: true }).backgroundAnalysis).toBeUndefined();
    const paused = send({ type: 'PAUSE', now: T0 + 5 });
    expect(paused.phase).toBe('Paused');
    expect(paused.backgroundAnalysis).toBeUndefined();
  });
});

describe('canary: progress Events', () => {
  it('tells each completed step and weight change once, and nothing while the release waits', () => {
    const d = atTimedPause();
    expect(d.send(observe(T0 + 30_000, 'r2'))).toEqual([]);
    const resumed = d.send(observe(T0 + 2000 + MIN, 'r2'));
    expect(find(resumed, 'emitEvent').map((a) => a.params.message)).toEqual([
      'Step 2 of 5 (pause 1m) completed for r2.',
      'Step 3 of 5 (setWeight 50) completed for r2.',
      'Canary weight 10% → 50% after step 3 of 5.',
    ]);
    expect(reasons(d.send(observe(T0 + 2001 + MIN, 'r2')))).toEqual([]);
  });

  it('says nothing of steps a full promotion skipped, nor of the weight a promotion takes back', () => {
    const d = atTimedPause();
    const all = [
      ...d.send({ type: 'PROMOTE', now: T0 + 10_000, full: true }),
      ...d.send(observe(T0 + 11_000, 'r2', { ready: true })),
      ...d.send(observe(T0 + 12_000, 'r2', { ready: true })),
    ];
    expect(reasons(all)).toContain('ReleasePromoted');
    expect(reasons(all)).not.toContain('StepCompleted');
    expect(reasons(all)).not.toContain('WeightChanged');
    expect(d.status).toMatchObject({ stableRevision: 'r2' });
  });

  it('tells a restart with a newer revision as such', () => {
    const d = atAnalysisStep();
    const actions = d.send(observe(T0 + 3 * MIN, 'r3'));
    expect(find(actions, 'emitEvent').at(-1)?.params.message).toBe(
      'Canary weight 50% → 0% (the release restarts with r3).',
    );
  });
});
