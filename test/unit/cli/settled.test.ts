import { describe, expect, it } from 'vitest';
import type { Rollout } from '../../../cli/model.ts';
import { settled, settledLine } from '../../../cli/settled.ts';

const rollout = (status: Rollout['status'], generation = 3): Rollout =>
  ({ metadata: { name: 'checkout', namespace: 'shop', generation }, status }) as Rollout;

describe('where a release stands, for kubectl sluice status', () => {
  it('is done at Healthy (0), Degraded (1) or Stalled (1), of the generation the controller saw', () => {
    expect(settled(rollout({ observedGeneration: 3, phase: 'Healthy' }))).toEqual({
      done: true,
      code: 0,
      state: 'Healthy',
    });
    expect(
      settled(rollout({ observedGeneration: 3, phase: 'Degraded', message: 'rolled back: 5xx' })),
    ).toEqual({
      done: true,
      code: 1,
      state: 'Degraded',
      message: 'rolled back: 5xx',
    });
    const stalled = settled(
      rollout({
        observedGeneration: 3,
        phase: 'Progressing',
        conditions: [
          { type: 'Stalled', status: 'True', reason: 'ServiceNotFound', message: 'Service "c" not found' },
        ],
      }),
    );
    expect(stalled).toEqual({ done: true, code: 1, state: 'Stalled', message: 'Service "c" not found' });
    expect(settledLine(stalled)).toBe('Stalled - Service "c" not found');
    expect(settledLine(stalled, (s) => `<${s}>`)).toBe('<Stalled> - Service "c" not found');
  });

  it('keeps waiting while paused or progressing, and on a status older than the spec', () => {
    expect(
      settled(rollout({ observedGeneration: 3, phase: 'Paused', message: 'waiting for promotion' })),
    ).toEqual({
      done: false,
      state: 'Paused',
      message: 'waiting for promotion',
    });
    expect(settled(rollout({ observedGeneration: 3, phase: 'Progressing' }))).toMatchObject({ done: false });
    // Healthy, but of the revision before the change the pipeline just made.
    const stale = settled(rollout({ observedGeneration: 2, phase: 'Healthy' }));
    expect(stale).toMatchObject({ done: false, state: 'Progressing' });
    expect(settledLine(stale)).toBe('Progressing - waiting for the controller to observe generation 3');
    expect(settled(rollout(undefined))).toMatchObject({ done: false });
  });
});
