import { describe, expect, it } from 'vitest';
import { canaryMachine } from '../../../machines/canary.ts';
import { emptyContext } from '../../../machines/context.ts';
import { runName } from '../../../machines/gates.ts';
import { decide, nextWakeAt } from '../../../machines/index.ts';
import { atomicPaths, fromStatus, statePath, toStatus } from '../../../machines/status.ts';
import { blueGreenSpec, canarySpec, established, gate, observe, ROLLOUT, T0 } from './fixtures.ts';

describe('status <-> snapshot', () => {
  const spec = canarySpec([{ setWeight: 10 }, { pause: {} }], { analysis: gate });

  it('round-trips: toStatus(fromStatus(status)) is status', () => {
    const d = established(spec);
    d.send(observe(T0 + 1, 'r2'), observe(T0 + 2, 'r2', { ready: true }), { type: 'PAUSE', now: T0 + 3 });
    const status = d.status ?? {};
    expect(status.pause).toMatchObject({ reason: 'Manual', startTime: new Date(T0 + 3).toISOString() });
    expect(toStatus(fromStatus(ROLLOUT, spec, status))).toEqual(status);
  });

  it('an empty status is a Rollout that has seen nothing', () => {
    const s = fromStatus(ROLLOUT, spec, undefined);
    expect(statePath(s.value)).toBe('healthy');
    expect(toStatus(s)).toMatchObject({ phase: 'Healthy', message: 'No revision observed yet.' });
  });

  it('status without machineState (older writer, hand edit) restores to the nearest safe state', () => {
    expect(statePath(fromStatus(ROLLOUT, spec, { stableRevision: 'r1', currentRevision: 'r2' }).value)).toBe(
      'release.running.awaitingCanary',
    );
    const bg = blueGreenSpec();
    expect(statePath(fromStatus(ROLLOUT, bg, { stableRevision: 'r1', currentRevision: 'r2' }).value)).toBe(
      'release.running.awaitingPreview',
    );
    expect(
      statePath(
        fromStatus(ROLLOUT, spec, { stableRevision: 'r1', currentRevision: 'r2', abort: true }).value,
      ),
    ).toBe('degraded');
    const unknown = fromStatus(ROLLOUT, spec, {
      stableRevision: 'r1',
      currentRevision: 'r1',
      machineState: 'nowhere',
    });
    expect(statePath(unknown.value)).toBe('healthy');
  });

  it('a canary paused before the pause had children (machineState release.paused) stays paused, held', () => {
    const s = fromStatus(ROLLOUT, spec, {
      stableRevision: 'r1',
      currentRevision: 'r2',
      machineState: 'release.paused',
      pause: { reason: 'Manual', message: 'paused on request', startTime: new Date(T0).toISOString() },
    });
    expect(statePath(s.value)).toBe('release.paused.held');
    expect(s.context.pause).toEqual({ reason: 'Manual', message: 'paused on request', startTime: T0 });
    expect(toStatus(s)).toMatchObject({ phase: 'Paused', machineState: 'release.paused.held' });
    const bg = fromStatus(ROLLOUT, blueGreenSpec(), {
      stableRevision: 'r1',
      currentRevision: 'r2',
      machineState: 'release.paused',
      pause: { reason: 'Manual', startTime: new Date(T0).toISOString() },
    });
    expect(statePath(bg.value)).toBe('release.paused.held'); // blue-green's pause has children too (held, incident)
  });

  it('a held pause in status outside the paused state is not carried into the machine', () => {
    const s = fromStatus(ROLLOUT, spec, {
      stableRevision: 'r1',
      machineState: 'healthy',
      pause: { reason: 'Manual', startTime: new Date(T0).toISOString() },
    });
    expect(s.context.pause).toBeUndefined();
  });

  it('lists the atomic states of a machine', () => {
    expect(atomicPaths(canaryMachine)).toContain('release.running.stepPause');
    expect(atomicPaths(canaryMachine)).not.toContain('release.running');
  });
});

describe('run names', () => {
  it('are deterministic and carry revision, gate, step, attempt and restarts', () => {
    const ctx = { ...emptyContext({ rollout: ROLLOUT, spec: canarySpec() }), currentRevision: 'abc' };
    expect(runName(ctx, 'step', 2)).toBe('checkout-abc-step-2-a0');
    expect(runName({ ...ctx, attempt: 3, gateRestarts: 1 }, 'postPromotion')).toBe('checkout-abc-post-a3-r1');
  });

  it('stay within 253 characters, shortening only the rollout part', () => {
    const ctx = {
      ...emptyContext({ rollout: `${'a'.repeat(250)}-`, spec: canarySpec() }),
      currentRevision: 'abc123',
    };
    const name = runName(ctx, 'background');
    expect(name.length).toBeLessThanOrEqual(253);
    expect(name.endsWith('-abc123-bg-a0')).toBe(true);
    expect(name).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
  });
});

describe('nextWakeAt', () => {
  // Paused at a 5-minute step since T0; an old revision's scale-down due at `at`.
  const spec = canarySpec([{ pause: { duration: '5m' } }], { scaleDownDelaySeconds: 600 });
  const pausing = (scaleDownAt?: number) => ({
    stableRevision: 'r1',
    currentRevision: 'r2',
    machineState: 'release.running.stepPause',
    stepStartedAt: new Date(T0).toISOString(),
    scaleDown: scaleDownAt === undefined ? [] : [{ revision: 'r0', at: new Date(scaleDownAt).toISOString() }],
  });

  it('is undefined when nothing is timed', () => {
    expect(nextWakeAt(fromStatus(ROLLOUT, canarySpec(), {}))).toBeUndefined();
  });

  it('is the earliest of the pending deadlines', () => {
    expect(nextWakeAt(fromStatus(ROLLOUT, spec, pausing(T0 + 60_000)))).toBe(T0 + 60_000);
    expect(decide({ name: ROLLOUT, spec }, pausing(), []).wakeAt).toBe(T0 + 300_000);
  });

  it('marks a wake that is only a scale-down as housekeeping, one a step owes as not', () => {
    const wake = (status: object) => {
      const d = decide({ name: ROLLOUT, spec }, status, []);
      return [d.wakeAt, d.wakeIsHousekeeping];
    };
    expect(wake(pausing(T0 + 60_000))).toEqual([T0 + 60_000, true]);
    expect(wake(pausing(T0 + 900_000))).toEqual([T0 + 300_000, false]);
    // Both at once: the step is owed, so the wake is not housekeeping.
    expect(wake(pausing(T0 + 300_000))).toEqual([T0 + 300_000, false]);
    expect(wake({})).toEqual([undefined, false]);
  });
});
