import { describe, expect, it } from 'vitest';
import { desiredConditions, mergeConditions } from '../../../controller/rollout-conditions.ts';

describe('kstatus conditions', () => {
  const healthy = { phase: 'Healthy' as const, stableRevision: 'abc', message: 'stable' };

  it('are Ready only when the stable revision’s pods are available', () => {
    expect(desiredConditions(healthy, undefined, { available: 2, wanted: 2 }).Ready.status).toBe('True');
    const starting = desiredConditions(healthy, undefined, { available: 1, wanted: 2 });
    expect(starting.Ready).toMatchObject({ status: 'False', reason: 'WaitingForPods' });
    expect(starting.Reconciling.status).toBe('True');
    expect(starting.Ready.message).toBe('1 of 2 pods of revision abc available');
  });

  it('read a rollback as failed and a pause as still in progress', () => {
    expect(desiredConditions({ phase: 'Degraded' }).Stalled.status).toBe('True');
    const paused = desiredConditions({ phase: 'Paused', pause: { reason: 'Manual', startTime: 't' } });
    expect([paused.Reconciling.status, paused.Stalled.status, paused.Paused.status]).toEqual([
      'True',
      'False',
      'True',
    ]);
  });

  it('say Stalled with the problem when the Rollout cannot proceed', () => {
    const c = desiredConditions({}, { reason: 'RouteNotFound', message: "route 'x' not found" });
    expect(c.Stalled).toEqual({ status: 'True', reason: 'RouteNotFound', message: "route 'x' not found" });
    expect(c.Ready.status).toBe('False');
  });

  it('keep lastTransitionTime until the status flips, and carry observedGeneration', () => {
    const first = mergeConditions(undefined, desiredConditions(healthy), 3, 'T1');
    const again = mergeConditions(first, desiredConditions(healthy), 4, 'T2');
    expect(again.find((c) => c.type === 'Ready')).toMatchObject({
      lastTransitionTime: 'T1',
      observedGeneration: 4,
    });
    const flipped = mergeConditions(again, desiredConditions({ phase: 'Degraded' }), 5, 'T3');
    expect(flipped.find((c) => c.type === 'Ready')?.lastTransitionTime).toBe('T3');
    expect(flipped.find((c) => c.type === 'Stalled')?.lastTransitionTime).toBe('T3');
    expect(flipped.find((c) => c.type === 'Reconciling')?.lastTransitionTime).toBe('T1');
  });
});
