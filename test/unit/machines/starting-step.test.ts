import { describe, expect, it } from 'vitest';
import { canarySpec, established, find, MIN, observe, T0 } from './fixtures.ts';

const spec = canarySpec(
  [{ setWeight: 20 }, { pause: { duration: '1m' } }, { setWeight: 40 }, { pause: {} }],
  { analysis: { successRate: { min: 99 }, startingStep: 2 } },
);

const backgroundStarts = (actions: ReturnType<ReturnType<typeof established>['send']>) =>
  find(actions, 'startAnalysis').filter((a) => a.params.gate === 'background');

describe('background analysis with startingStep (Argo Rollouts analysis.startingStep)', () => {
  it('starts when the release reaches that step, and does not hold the pauses before it', () => {
    const d = established(spec);
    const begun = d.send(observe(T0 + 1, 'r2', { ready: true }));
    expect(backgroundStarts(begun)).toEqual([]);
    expect(d.status).toMatchObject({ currentStepIndex: 1, canary: { weight: 20 } });
    expect(d.status?.backgroundAnalysis).toBeUndefined();

    // The timed pause ends on time: no background gate is due to pass a look yet.
    const atStep2 = d.send(observe(T0 + 1 + MIN, 'r2', { ready: true }));
    expect(backgroundStarts(atStep2)).toHaveLength(1);
    expect(d.status).toMatchObject({ currentStepIndex: 3, canary: { weight: 40 } });
    expect(d.status?.backgroundAnalysis?.phase).toBe('Pending');
  });

  it('from the first step when absent or 0, and once the steps are done when beyond them', () => {
    const fromStart = established(
      canarySpec([{ setWeight: 20 }, { pause: {} }], { analysis: { successRate: { min: 99 } } }),
    );
    expect(backgroundStarts(fromStart.send(observe(T0 + 1, 'r2', { ready: true })))).toHaveLength(1);

    const beyond = established(
      canarySpec([{ setWeight: 20 }], { analysis: { successRate: { min: 99 }, startingStep: 9 } }),
    );
    const done = beyond.send(observe(T0 + 1, 'r2', { ready: true }));
    expect(backgroundStarts(done)).toHaveLength(1);
    // Promotion still waits for it to report.
    expect(beyond.status?.stableRevision).toBe('r1');
  });
});
