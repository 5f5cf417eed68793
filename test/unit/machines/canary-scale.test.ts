import { describe, expect, it } from 'vitest';
import { canaryReplicas, podsByWeight, resolveCountOrPercent } from '../../../machines/canary-scale.ts';
import { desiredWorld } from '../../../machines/desired.ts';
import type { ReleaseEvent } from '../../../machines/events.ts';
import { canarySpec, established, T0 } from './fixtures.ts';

// canarySpec runs 4 replicas.
const SCALED = canarySpec([
  { setCanaryScale: { replicas: 1 } },
  { setWeight: 10 },
  { setCanaryScale: { matchTrafficWeight: true } },
  { setWeight: 60 },
  { pause: {} },
  { setCanaryScale: { weight: 25 } },
  { pause: {} },
]);

const at = (stepIndex: number, weight = 0, promoteFull = false) => ({ stepIndex, weight, promoteFull });

describe('canaryReplicas (setCanaryScale as Argo Rollouts means it)', () => {
  it('full size without setCanaryScale, and once the steps are done or a full promotion is asked', () => {
    expect(canaryReplicas(canarySpec([{ setWeight: 20 }]), at(0))).toBe(4);
    expect(canaryReplicas(SCALED, at(7, 60))).toBe(4);
    expect(canaryReplicas(SCALED, at(1, 10, true))).toBe(4);
  });

  it('a count, a percent rounded up, or the weight: the larger of the current and the coming one', () => {
    expect(canaryReplicas(SCALED, at(0))).toBe(1);
    expect(canaryReplicas(SCALED, at(1))).toBe(1);
    expect(canaryReplicas(SCALED, at(2, 10))).toBe(1); // ceil(4 × 10%)
    expect(canaryReplicas(SCALED, at(3, 10))).toBe(3); // ceil(4 × 60%), before 60% is given
    expect(canaryReplicas(SCALED, at(4, 60))).toBe(3);
    expect(canaryReplicas(SCALED, at(5, 60))).toBe(1); // weight: 25 → ceil(1)
  });

  it('the desired world runs the canary at that size and the stable at full size', () => {
    const status = {
      stableRevision: 'r1',
      currentRevision: 'r2',
      currentStepIndex: 3,
      canary: { weight: 10 },
    };
    expect(desiredWorld(SCALED, status, T0).replicas).toEqual({ r1: 4, r2: 3 });
  });
});

describe('a release that resizes its canary', () => {
  const observe = (now: number, canaryAvailable: number): ReleaseEvent => ({
    type: 'OBSERVE',
    now,
    revision: 'r2',
    ready: { canary: true },
    canaryAvailable,
  });

  it('gives a weight only once the canary has the pods it needs, and promotes at full size', () => {
    const d = established(SCALED);
    d.send(observe(T0 + 1, 0));
    // One pod asked for; none available yet: no weight.
    expect(d.status?.machineState).toBe('release.running.scalingCanary');
    expect(desiredWorld(SCALED, d.status, T0 + 1).replicas.r2).toBe(1);
    expect(d.status?.canary?.weight).toBe(0);
    expect(d.status?.message).toMatch(/waits for it to have 1 available pods/);

    d.send(observe(T0 + 2, 1));
    // 10% on one pod; then 60% needs three: the pass stops at that step and asks for them.
    expect(d.status).toMatchObject({ currentStepIndex: 3, canary: { weight: 10 } });
    expect(d.status?.machineState).toBe('release.running.scalingCanary');
    expect(desiredWorld(SCALED, d.status, T0 + 2).replicas.r2).toBe(3);

    d.send(observe(T0 + 3, 3));
    expect(d.status).toMatchObject({ currentStepIndex: 4, canary: { weight: 60 }, phase: 'Paused' });

    // Past the pause, down to 25% of the pods (weight stays), then a pause again.
    d.send({ type: 'PROMOTE', now: T0 + 4 }, observe(T0 + 4, 3));
    expect(d.status).toMatchObject({ currentStepIndex: 6, canary: { weight: 60 } });
    expect(desiredWorld(SCALED, d.status, T0 + 4).replicas.r2).toBe(1);

    // The promotion waits for the full four pods.
    d.send({ type: 'PROMOTE', now: T0 + 5 }, observe(T0 + 5, 1));
    expect(d.status?.stableRevision).toBe('r1');
    expect(d.status?.machineState).toBe('release.running.scalingCanary');
    expect(desiredWorld(SCALED, d.status, T0 + 5).replicas.r2).toBe(4);
    d.send(observe(T0 + 6, 4));
    expect(d.status).toMatchObject({ stableRevision: 'r2', phase: 'Healthy' });
  });

  it('pods that never come abort the release at the progress deadline', () => {
    const d = established(SCALED);
    d.send(observe(T0 + 1, 0));
    d.send(observe(T0 + 1 + 600_000, 0));
    expect(d.status).toMatchObject({ phase: 'Degraded', abort: true });
  });
});

describe('a canary without traffic routing (weights by pods, as Argo Rollouts does)', () => {
  const basic = (steps: Parameters<typeof canarySpec>[0], extra = {}) => {
    const spec = canarySpec(steps, extra);
    delete (spec.strategy.canary as { trafficRouting?: unknown }).trafficRouting;
    return spec;
  };
  const pods = (replicas: number, available = replicas) => ({ replicas, available });

  it('gives the canary its share of the pods, rounded up, and the stable the rest', () => {
    const spec = basic([{ setWeight: 25 }, { pause: {} }, { setWeight: 60 }]);
    expect(podsByWeight(spec, at(0))).toEqual({ canary: 1, stable: 3 });
    expect(podsByWeight(spec, at(2, 25))).toEqual({ canary: 3, stable: 1 });
    expect(podsByWeight(spec, at(3, 60))).toEqual({ canary: 4, stable: 0 });
    expect(canaryReplicas(spec, at(2, 25))).toBe(3);
  });

  it('never runs more than maxSurge above, nor has more than maxUnavailable missing below, spec.replicas', () => {
    // 4 replicas, defaults 25%: one pod of surge, one unavailable.
    const spec = basic([{ setWeight: 50 }]);
    const first = podsByWeight(spec, at(0), { canary: pods(0), stable: pods(4) });
    expect(first).toEqual({ canary: 1, stable: 3 });
    const notReady = podsByWeight(spec, at(0), { canary: pods(1, 0), stable: pods(3) });
    expect(notReady).toEqual({ canary: 2, stable: 3 });
    const second = podsByWeight(spec, at(0), { canary: pods(2, 1), stable: pods(3) });
    expect(second).toEqual({ canary: 2, stable: 2 });
    // maxSurge 0: the stable must make room first, within maxUnavailable.
    const noSurge = basic([{ setWeight: 50 }], { maxSurge: 0, maxUnavailable: 1 });
    expect(podsByWeight(noSurge, at(0), { canary: pods(0), stable: pods(4) })).toEqual({
      canary: 0,
      stable: 3,
    });
    expect(podsByWeight(noSurge, at(0), { canary: pods(0), stable: pods(3) })).toEqual({
      canary: 1,
      stable: 3,
    });
  });

  it('pacing converges on the targets for any replicas, surge and unavailability', () => {
    for (const replicas of [1, 2, 3, 5, 10]) {
      for (const [maxSurge, maxUnavailable] of [
        ['25%', '25%'],
        [0, 1],
        [1, 0],
        ['100%', 0],
        [0, '50%'],
      ] as const) {
        const spec = { ...basic([{ setWeight: 40 }], { maxSurge, maxUnavailable }), replicas };
        let now = { canary: pods(0), stable: pods(replicas) };
        for (let pass = 0; pass < 4 * replicas + 4; pass++) {
          const next = podsByWeight(spec, at(0), now);
          expect(next.canary + next.stable).toBeLessThanOrEqual(
            replicas + resolveCountOrPercent(maxSurge, replicas, 'up'),
          );
          now = { canary: pods(next.canary), stable: pods(next.stable) };
        }
        expect(now).toEqual({
          canary: pods(Math.ceil(replicas * 0.4)),
          stable: pods(replicas - Math.ceil(replicas * 0.4)),
        });
      }
    }
  });
});
