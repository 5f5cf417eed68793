import { describe, expect, it } from 'vitest';
import {
  blueGreenSpec,
  Driver,
  established,
  find,
  gate,
  MIN,
  observe,
  T0,
  trafficOf,
  types,
} from './fixtures.ts';

const spec = blueGreenSpec({
  prePromotionAnalysis: gate,
  postPromotionAnalysis: gate,
  autoPromotionSeconds: 120,
  previewReplicaCount: 2,
  scaleDownDelaySeconds: 30,
});

/** r1 active, r2 preview ready, pre-promotion analysis started. */
function atPreAnalysis(s = spec): Driver {
  const d = established(s);
  d.send(observe(T0 + 1000, 'r2'));
  d.send(observe(T0 + 2000, 'r2', { ready: true }));
  return d;
}

function atPostAnalysis(): Driver {
  const d = atPreAnalysis();
  d.send(observe(T0 + 3000, 'r2', { gates: { prePromotion: { name: d.analysis, phase: 'Successful' } } }));
  d.send(observe(T0 + 2000 + 2 * MIN, 'r2'));
  expect(d.status?.machineState).toBe('release.running.postAnalysis');
  return d;
}

describe('blue-green', () => {
  it('makes the first revision active at once', () => {
    const d = new Driver(spec);
    d.send(observe(T0, 'r1'));
    expect(d.writes).toEqual([
      { type: 'createReplicaSet', revision: 'r1', replicas: 4 },
      { type: 'pointService', service: 'active', revision: 'r1' },
      { type: 'pointService', service: 'preview', revision: 'r1' },
    ]);
    expect(d.status).toMatchObject({ phase: 'Healthy', blueGreen: { activeRevision: 'r1' } });
  });

  it('brings the preview up behind the preview Service and waits for it', () => {
    const d = established(spec);
    const actions = d.send(observe(T0 + 1000, 'r2'));
    expect(types(actions)).toEqual(['emitEvent']);
    expect(d.writes).toEqual([
      { type: 'createReplicaSet', revision: 'r2', replicas: 2 },
      { type: 'pointService', service: 'preview', revision: 'r2' },
    ]);
    expect(d.status).toMatchObject({
      phase: 'Progressing',
      blueGreen: { activeRevision: 'r1', previewRevision: 'r2' },
    });
    expect(d.status?.message).toMatch(/preview r2/);
  });

  it('runs pre-promotion analysis once the preview is ready', () => {
    const d = atPreAnalysis();
    expect(find(d.last.actions, 'startAnalysis')[0]?.params).toEqual({
      gate: 'prePromotion',
      name: 'checkout-r2-pre-a0',
      revision: 'r2',
    });
    expect(d.status?.blueGreen?.previewReadyAt).toBe(new Date(T0 + 2000).toISOString());
  });

  it('auto-promotes autoPromotionSeconds after the preview is ready, then runs post-promotion analysis', () => {
    const d = atPreAnalysis();
    d.send(observe(T0 + 3000, 'r2', { gates: { prePromotion: { name: d.analysis, phase: 'Successful' } } }));
    expect(d.status).toMatchObject({ phase: 'Paused', pause: { reason: 'AwaitingPromotion' } });
    expect(d.last.wakeAt).toBe(T0 + 2000 + 2 * MIN);
    expect(d.send(observe(T0 + 2000 + 2 * MIN - 1, 'r2'))).toEqual([]);
    const actions = d.send(observe(T0 + 2000 + 2 * MIN, 'r2'));
    expect(types(actions)).toEqual(['startAnalysis']);
    // Full size before the switch: the active Service never selects a preview-sized revision.
    expect(d.writes).toEqual([
      { type: 'scaleReplicaSet', revision: 'r2', from: 2, to: 4 },
      { type: 'pointService', service: 'active', revision: 'r2' },
    ]);
    expect(d.status?.blueGreen?.activeRevision).toBe('r2');
    expect(d.status?.stableRevision).toBe('r1');
  });

  it('promotes after post-promotion analysis passes and scales the old revision down later', () => {
    const d = atPostAnalysis();
    const actions = d.send(
      observe(T0 + 5 * MIN, 'r2', { gates: { postPromotion: { name: d.analysis, phase: 'Successful' } } }),
    );
    expect(types(actions)).toEqual(['stopAnalysis', 'emitEvent']);
    expect(d.status).toMatchObject({ phase: 'Healthy', stableRevision: 'r2' });
    expect(d.writes).toEqual([]);
    expect(d.last.wakeAt).toBe(T0 + 5 * MIN + 30_000);
    d.send(observe(T0 + 5 * MIN + 30_000, 'r2'));
    expect(d.writes).toEqual([{ type: 'scaleReplicaSet', revision: 'r1', from: 4, to: 0 }]);
  });

  it('a failed post-promotion analysis switches back to the old revision first', () => {
    const d = atPostAnalysis();
    const actions = d.send(
      observe(T0 + 5 * MIN, 'r2', { gates: { postPromotion: { name: d.analysis, phase: 'Failed' } } }),
    );
    expect(find(actions, 'markAborted')).toHaveLength(1);
    expect(trafficOf(d.writes)[0]).toEqual({ type: 'pointService', service: 'active', revision: 'r1' });
    expect(d.writes.filter((w) => w.type === 'scaleReplicaSet')).toEqual([]);
    expect(d.status).toMatchObject({ phase: 'Degraded', blueGreen: { activeRevision: 'r1' } });
  });

  it('a failed pre-promotion analysis keeps the old revision active and aborts', () => {
    const d = atPreAnalysis();
    const actions = d.send(
      observe(T0 + 3000, 'r2', { gates: { prePromotion: { name: d.analysis, phase: 'Failed' } } }),
    );
    expect(find(actions, 'markAborted')).toHaveLength(1);
    expect(trafficOf(d.writes)).toEqual([]); // the active Service never left r1
    expect(d.status).toMatchObject({
      phase: 'Degraded',
      stableRevision: 'r1',
      blueGreen: { activeRevision: 'r1' },
    });
  });

  it('without auto-promotion waits for PROMOTE, paused AwaitingPromotion', () => {
    const d = established(blueGreenSpec({ autoPromotionEnabled: false }));
    d.send(observe(T0 + 1000, 'r2'));
    d.send(observe(T0 + 2000, 'r2', { ready: true }));
    expect(d.status).toMatchObject({ phase: 'Paused', pause: { reason: 'AwaitingPromotion' } });
    expect(d.status?.message).toMatch(/awaits promotion/);
    expect(d.last.wakeAt).toBeUndefined();
    expect(d.send(observe(T0 + 60 * MIN, 'r2', { ready: true }))).toEqual([]);
    const actions = d.send({ type: 'PROMOTE', now: T0 + 61 * MIN });
    expect(types(actions)).toEqual(['emitEvent', 'emitEvent']);
    expect(d.writes).toEqual([{ type: 'pointService', service: 'active', revision: 'r2' }]);
    expect(d.status).toMatchObject({ phase: 'Healthy', stableRevision: 'r2' });
  });

  it('PROMOTE full skips both gates and is recorded', () => {
    const d = atPreAnalysis();
    d.send({ type: 'PROMOTE', now: T0 + 3000, full: true });
    d.send(observe(T0 + 4000, 'r2', { ready: true }));
    expect(trafficOf(d.writes)).toEqual([{ type: 'pointService', service: 'active', revision: 'r2' }]);
    expect(d.status).toMatchObject({ phase: 'Healthy', stableRevision: 'r2', promoteFull: true });
  });

  it('an inconclusive post-promotion analysis pauses; RESUME re-runs it without leaving the new revision', () => {
    const d = atPostAnalysis();
    d.send(
      observe(T0 + 5 * MIN, 'r2', { gates: { postPromotion: { name: d.analysis, phase: 'Inconclusive' } } }),
    );
    expect(d.status).toMatchObject({ phase: 'Paused', pause: { reason: 'Inconclusive' } });
    const actions = d.send({ type: 'RESUME', now: T0 + 6 * MIN });
    expect(find(actions, 'startAnalysis')[0]?.params.name).toBe('checkout-r2-post-a0-r1');
    expect(d.status?.machineState).toBe('release.running.postAnalysis');
  });

  it('a new revision during post-promotion switches back before starting over', () => {
    const d = atPostAnalysis();
    d.send(observe(T0 + 5 * MIN, 'r3'));
    expect(trafficOf(d.writes)[0]).toEqual({ type: 'pointService', service: 'active', revision: 'r1' });
    expect(d.status).toMatchObject({ currentRevision: 'r3', blueGreen: { activeRevision: 'r1' } });
  });

  it('aborts when the preview never becomes ready', () => {
    const d = established(spec);
    d.send(observe(T0, 'r2'));
    const actions = d.send(observe(T0 + 600_000, 'r2'));
    expect(find(actions, 'markAborted')[0]?.params.kind).toBe('ProgressDeadline');
    expect(trafficOf(d.writes)).toEqual([]); // the active Service never left r1
    expect(d.status).toMatchObject({ phase: 'Degraded', blueGreen: { activeRevision: 'r1' } });
  });
});
