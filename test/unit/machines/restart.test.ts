import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type RestartPod,
  type RestartReplicaSet,
  restartOwed,
  restartStep,
} from '../../../machines/restart.ts';

const T0 = Date.parse('2026-12-07T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const pod = (name: string, createdAt: number, ready = true, terminating = false): RestartPod => ({
  name,
  createdAt: iso(createdAt),
  ready,
  terminating,
});
const rs = (name: string, desired: number, ready = desired): RestartReplicaSet => ({ name, desired, ready });

describe('which restart is owed', () => {
  it('is the later of spec.restartAt and the last request, until one at least as late is done', () => {
    expect(restartOwed({})).toBeUndefined();
    expect(restartOwed({ restartAt: iso(T0) })).toBe(iso(T0));
    expect(restartOwed({ restartAt: iso(T0), requestedAt: iso(T0 + 5000) })).toBe(iso(T0 + 5000));
    expect(restartOwed({ restartAt: iso(T0 + 9000), requestedAt: iso(T0 + 5000) })).toBe(iso(T0 + 9000));
    expect(restartOwed({ restartAt: iso(T0), restartedAt: iso(T0) })).toBeUndefined();
    // A later request after one was done: owed again.
    expect(restartOwed({ restartAt: iso(T0), requestedAt: iso(T0 + 1000), restartedAt: iso(T0) })).toBe(
      iso(T0 + 1000),
    );
    expect(restartOwed({ restartAt: 'not a time' })).toBeUndefined();
    // In whole seconds, as creationTimestamps are: a request at .300 is done by a restart at .000.
    expect(restartOwed({ requestedAt: '2026-12-07T12:00:00.300Z' })).toBe('2026-12-07T12:00:00Z');
    expect(
      restartOwed({ requestedAt: '2026-12-07T12:00:00.300Z', restartedAt: '2026-12-07T12:00:00Z' }),
    ).toBeUndefined();
  });
});

describe('the next move of a restart', () => {
  const at = { restartAt: iso(T0) };
  const now = T0 + 60_000;

  it('waits for a restart time still to come, and does nothing with none owed', () => {
    expect(restartStep({ restartAt: iso(now + 30_000) }, now, [rs('a', 1)], [pod('a-1', T0 - 1)])).toEqual({
      type: 'idle',
      wakeAt: now + 30_000,
    });
    expect(restartStep({}, now, [rs('a', 1)], [pod('a-1', T0 - 1)])).toEqual({ type: 'idle' });
  });

  it('evicts the oldest pod created before the restart time, never one created after it', () => {
    const pods = [pod('stable-2', T0 - 1000), pod('canary-1', T0 + 1000), pod('stable-1', T0 - 5000)];
    expect(restartStep(at, now, [rs('stable', 2), rs('canary', 1)], pods)).toEqual({
      type: 'evict',
      pod: 'stable-1',
      at: iso(T0),
      left: 2,
    });
  });

  it('takes no pod while another is missing, not ready or terminating', () => {
    const old = [pod('s-1', T0 - 2), pod('s-2', T0 - 1)];
    expect(restartStep(at, now, [rs('s', 3, 2)], old)).toMatchObject({
      type: 'wait',
      left: 2,
      why: 'ReplicaSet s has 2 of 3 pods ready',
    });
    expect(restartStep(at, now, [rs('s', 2)], [...old, pod('s-3', T0 + 1, false)])).toMatchObject({
      type: 'wait',
      why: 'pod s-3 is not ready',
    });
    expect(
      restartStep(at, now, [rs('s', 2)], [pod('s-1', T0 - 2, true, true), pod('s-3', T0 + 1)]),
    ).toMatchObject({ type: 'wait', why: 'pod s-1 is terminating' });
  });

  it('is done when every pod is newer than the restart time and ready', () => {
    expect(restartStep(at, now, [rs('s', 2)], [pod('s-3', T0 + 1), pod('s-4', T0 + 2)])).toEqual({
      type: 'done',
      at: iso(T0),
    });
  });

  it('replaces every old pod with never more than one unavailable, whatever the ReplicaSets', () => {
    const sizes = fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 3 });
    fc.assert(
      fc.property(sizes, fc.array(fc.boolean(), { maxLength: 15 }), (desired, newer) => {
        // Each ReplicaSet's pods, some created after the restart time; a replaced pod is gone
        // at once and its replacement, created "now", is ready one step later.
        let clock = T0 + 1_000;
        let pods = desired.flatMap((n, r) =>
          Array.from({ length: n }, (_, i) => ({
            ...pod(`rs${r}-${i}`, newer[r * 5 + i] ? T0 + 10 + i : T0 - 100 + i),
            owner: r,
          })),
        );
        const old = new Set(pods.filter((p) => Date.parse(p.createdAt) < T0).map((p) => p.name));
        const evicted: string[] = [];
        for (let step = 0; step < 200; step++) {
          const sets = desired.map((n, r) =>
            rs(`rs${r}`, n, pods.filter((p) => p.owner === r && p.ready).length),
          );
          const next = restartStep({ restartAt: iso(T0) }, clock, sets, pods);
          const unavailable = desired.reduce((sum, n, r) => sum + n - sets[r]!.ready, 0);
          expect(unavailable).toBeLessThanOrEqual(1);
          if (next.type === 'done') {
            expect(new Set(evicted)).toEqual(old);
            return;
          }
          clock += 1_000;
          if (next.type === 'wait') pods = pods.map((p) => ({ ...p, ready: true }));
          if (next.type === 'evict') {
            expect(old.has(next.pod)).toBe(true);
            evicted.push(next.pod);
            const gone = pods.find((p) => p.name === next.pod)!;
            pods = [
              ...pods.filter((p) => p !== gone),
              { ...pod(`${next.pod}-new`, clock, false), owner: gone.owner },
            ];
          }
          expect(next.type).not.toBe('idle');
        }
        throw new Error('the restart never ended');
      }),
    );
  });
});
