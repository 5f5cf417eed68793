import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay, KeyedBackoff } from '../../../controller/kube/backoff.ts';
import { type QueueObserver, type ReconcileResult, WorkQueue } from '../../../controller/kube/workqueue.ts';

interface Deferred {
  promise: Promise<ReconcileResult | undefined>;
  resolve: (result?: ReconcileResult) => void;
  reject: (e: unknown) => void;
}
function deferred(): Deferred {
  let resolve!: (result?: ReconcileResult) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<ReconcileResult | undefined>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets the queue's continuations run; a macrotask boundary drains every pending microtask. */
const settle = () => new Promise<void>((r) => setImmediate(r));

/** A handler whose calls stay open until the test finishes them. */
function controllable() {
  const calls: { key: string; d: Deferred }[] = [];
  const handler = (key: string) => {
    const d = deferred();
    calls.push({ key, d });
    return d.promise;
  };
  return { calls, handler };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('backoff', () => {
  it('doubles from the base and stops at the cap', () => {
    const o = { baseMs: 5, capMs: 100 };
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n, o))).toEqual([5, 10, 20, 40, 80, 100, 100]);
    expect(backoffDelay(10_000, o)).toBe(100);
  });

  it('keeps jittered delays within the jitter band', () => {
    const o = { baseMs: 100, capMs: 1000, jitter: 0.5 };
    expect(backoffDelay(1, { ...o, random: () => 0 })).toBe(50);
    expect(backoffDelay(1, { ...o, random: () => 1 })).toBe(100);
  });

  it('counts failures per key and forgets on success', () => {
    const b = new KeyedBackoff({ baseMs: 1, capMs: 1000 });
    expect([b.next('a'), b.next('a'), b.next('b'), b.next('a')]).toEqual([1, 2, 1, 4]);
    b.forget('a');
    expect(b.next('a')).toBe(1);
    expect(b.attempts('b')).toBe(1);
  });
});

describe('WorkQueue', () => {
  it('collapses duplicate adds of a waiting key', async () => {
    const { calls, handler } = controllable();
    const q = new WorkQueue(handler, { workers: 1 });
    q.add('busy');
    q.add('a');
    q.add('a');
    q.add('a');
    expect(q.depth()).toBe(1);
    calls[0]!.d.resolve();
    await settle();
    expect(calls.map((c) => c.key)).toEqual(['busy', 'a']);
    calls[1]!.d.resolve();
    await settle();
    expect(calls).toHaveLength(2);
    await q.shutdown();
  });

  it('processes a key re-added during processing exactly once more, afterwards', async () => {
    const { calls, handler } = controllable();
    const q = new WorkQueue(handler, { workers: 4 });
    q.add('a');
    expect(q.isProcessing('a')).toBe(true);
    q.add('a');
    q.add('a');
    await settle();
    // Four idle workers, yet the second pass waits for the first.
    expect(calls).toHaveLength(1);
    calls[0]!.d.resolve();
    await settle();
    expect(calls).toHaveLength(2);
    calls[1]!.d.resolve();
    await settle();
    expect(calls).toHaveLength(2);
    await q.shutdown();
  });

  it('runs different keys on up to N workers at once', async () => {
    const { calls, handler } = controllable();
    const q = new WorkQueue(handler, { workers: 3 });
    for (const k of ['a', 'b', 'c', 'd', 'e']) q.add(k);
    expect(calls.map((c) => c.key)).toEqual(['a', 'b', 'c']);
    expect(q.depth()).toBe(2);
    calls[1]!.d.resolve();
    await settle();
    expect(calls.map((c) => c.key)).toEqual(['a', 'b', 'c', 'd']);
    for (const c of calls) c.d.resolve();
    await settle();
    for (const c of calls) c.d.resolve();
    await settle();
    expect(calls.map((c) => c.key).sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    await q.shutdown();
  });

  it('serves due keys before routine ones: new, raised from the line, or re-added while being processed', async () => {
    const { calls, handler } = controllable();
    const q = new WorkQueue(handler, { workers: 1 });
    q.add('busy');
    for (const k of ['echo1', 'echo2', 'late']) q.add(k);
    q.add('verdict', 'due');
    q.add('late', 'due'); // already waiting: moves up, not in twice
    q.add('busy', 'due'); // being processed: its next pass is due too
    q.add('verdict'); // a routine add never lowers a key
    expect(q.depth()).toBe(4);
    // One worker: finishing each call in turn hands out the next key.
    const order = async () => {
      for (let i = 0; i < calls.length; i++) {
        calls[i]!.d.resolve();
        await settle();
      }
      return calls.map((c) => c.key);
    };
    expect(await order()).toEqual(['busy', 'verdict', 'late', 'busy', 'echo1', 'echo2']);
    await q.shutdown();
  });

  it('serves a critical key before a burst of due ones, and raises a due key to critical', async () => {
    const { calls, handler } = controllable();
    const q = new WorkQueue(handler, { workers: 1 });
    q.add('busy');
    for (const k of ['step1', 'step2', 'failing']) q.add(k, 'due');
    q.add('echo');
    q.add('failed', 'critical');
    q.add('failing', 'critical');
    for (let i = 0; i < 6; i++) {
      calls[i]?.d.resolve();
      await settle();
    }
    expect(calls.map((c) => c.key)).toEqual(['busy', 'failed', 'failing', 'step1', 'step2', 'echo']);
    await q.shutdown();
  });

  it('a deadline comes back due; a retry after an error comes back routine', async () => {
    vi.useFakeTimers();
    const { calls, handler } = controllable();
    const q = new WorkQueue(handler, { workers: 1 });
    q.add('busy');
    q.addAfter('deadline', 10);
    q.addAfter('retry', 10, 'routine');
    q.add('echo');
    await vi.advanceTimersByTimeAsync(10);
    for (let i = 0; i < 3; i++) {
      calls[i]!.d.resolve();
      await vi.advanceTimersByTimeAsync(1);
    }
    // The deadline passes the echo that was waiting before it; the retry queues behind it.
    expect(calls.map((c) => c.key)).toEqual(['busy', 'deadline', 'echo', 'retry']);
    calls[3]!.d.resolve();
    await q.shutdown();
  });

  it('requeues in the line the handler asks for, `due` by default', async () => {
    vi.useFakeTimers();
    const { calls, handler } = controllable();
    const q = new WorkQueue(handler, { workers: 1 });
    q.add('housekeeping');
    q.add('step');
    calls[0]!.d.resolve({ requeueAfterMs: 10, requeuePriority: 'routine' });
    await vi.advanceTimersByTimeAsync(1);
    calls[1]!.d.resolve({ requeueAfterMs: 10 });
    await vi.advanceTimersByTimeAsync(1);
    q.add('busy');
    q.add('echo');
    await vi.advanceTimersByTimeAsync(10);
    for (let i = 2; i < 6; i++) {
      calls[i]?.d.resolve();
      await vi.advanceTimersByTimeAsync(1);
    }
    // The step's requeue passes the echo that waited before it; the scale-down's does not.
    expect(calls.map((c) => c.key)).toEqual(['housekeeping', 'step', 'busy', 'step', 'echo', 'housekeeping']);
    await q.shutdown();
  });

  /** Records what the queue tells its observer (client-go's workqueue metrics). */
  function recorder() {
    const seen = {
      depths: [] as number[],
      adds: 0,
      waited: [] as number[],
      worked: [] as number[],
      retries: 0,
    };
    const observer: QueueObserver = {
      added: () => seen.adds++,
      depth: (n) => seen.depths.push(n),
      waited: (s) => seen.waited.push(s),
      worked: (s) => seen.worked.push(s),
      retried: () => seen.retries++,
    };
    return { seen, observer };
  }

  it('counts adds, waits, work and retries as client-go does', async () => {
    const { seen, observer } = recorder();
    let fail = true;
    const q = new WorkQueue(
      async () => {
        if (fail) {
          fail = false;
          throw new Error('once');
        }
      },
      { workers: 1, observer, backoff: { baseMs: 1, capMs: 1 } },
    );
    q.add('a');
    q.add('b');
    await vi.waitFor(() => expect(seen.worked.length).toBe(3));
    // a (failed), b, a again after its backoff: the retry is an add, as in client-go
    expect(seen.adds).toBe(3);
    expect(seen.retries).toBe(1);
    expect(seen.waited.length).toBe(3);
    for (const s of [...seen.waited, ...seen.worked]) expect(s).toBeGreaterThanOrEqual(0);
    await q.shutdown();
  });

  it('reports depth changes', async () => {
    const { seen, observer } = recorder();
    const depths = seen.depths;
    const { calls, handler } = controllable();
    const q = new WorkQueue(handler, { workers: 1, observer });
    q.add('a');
    q.add('b');
    q.add('c');
    // 'a' goes straight to the worker; 'b' and 'c' wait.
    expect(depths).toEqual([1, 0, 1, 2]);
    expect(q.depth()).toBe(2);
    calls[0]!.d.resolve();
    await settle();
    expect(depths).toEqual([1, 0, 1, 2, 1]);
    const stopped = q.shutdown();
    calls[1]!.d.resolve();
    await stopped;
    expect(depths.at(-1)).toBe(0);
  });

  describe('delays (fake timers)', () => {
    it('fires addAfter exactly at the deadline, the earliest deadline winning', async () => {
      vi.useFakeTimers();
      const seen: string[] = [];
      const q = new WorkQueue(async (k) => {
        seen.push(k);
      });
      q.addAfter('a', 1000);
      q.addAfter('a', 300);
      q.addAfter('a', 5000);
      expect(q.pendingDelayed()).toBe(1);
      await vi.advanceTimersByTimeAsync(299);
      expect(seen).toEqual([]);
      await vi.advanceTimersByTimeAsync(1);
      expect(seen).toEqual(['a']);
      await vi.advanceTimersByTimeAsync(10_000);
      expect(seen).toEqual(['a']);
      await q.shutdown();
    });

    it('treats a non-positive delay as an immediate add', async () => {
      const seen: string[] = [];
      const q = new WorkQueue(async (k) => {
        seen.push(k);
      });
      q.addAfter('a', 0);
      q.addAfter('b', -5);
      await settle();
      expect(seen).toEqual(['a', 'b']);
      await q.shutdown();
    });

    it('requeues after the time the handler asks for', async () => {
      vi.useFakeTimers();
      const seen: number[] = [];
      let n = 0;
      const q = new WorkQueue(async () => {
        seen.push(Date.now());
        n++;
        return n < 3 ? { requeueAfterMs: 250 } : {};
      });
      const t0 = Date.now();
      q.add('a');
      await vi.advanceTimersByTimeAsync(2000);
      expect(seen.map((t) => t - t0)).toEqual([0, 250, 500]);
      await q.shutdown();
    });

    it('backs off errors exponentially per key and resets after a success', async () => {
      vi.useFakeTimers();
      const retries: number[] = [];
      const starts: number[] = [];
      let failuresLeft = 4;
      const q = new WorkQueue(
        async () => {
          starts.push(Date.now());
          if (failuresLeft-- > 0) throw new Error('boom');
        },
        { onError: (_k, _e, retry) => retries.push(retry!) },
      );
      const t0 = Date.now();
      q.add('a');
      await vi.advanceTimersByTimeAsync(1000);
      expect(retries).toEqual([5, 10, 20, 40]);
      expect(starts.map((t) => t - t0)).toEqual([0, 5, 15, 35, 75]);
      // After the success the next failure starts from the base again.
      failuresLeft = 1;
      q.add('a');
      await vi.advanceTimersByTimeAsync(1000);
      expect(retries).toEqual([5, 10, 20, 40, 5]);
      await q.shutdown();
    });

    it('caps the backoff', async () => {
      vi.useFakeTimers();
      const retries: number[] = [];
      const q = new WorkQueue(
        async () => {
          throw new Error('always');
        },
        { backoff: { baseMs: 5, capMs: 50 }, onError: (_k, _e, r) => retries.push(r!) },
      );
      q.add('a');
      await vi.advanceTimersByTimeAsync(1000);
      expect(retries.slice(0, 6)).toEqual([5, 10, 20, 40, 50, 50]);
      await q.shutdown();
    });
  });

  it('shutdown waits for in-flight work, drops waiting work and ignores later adds', async () => {
    const { calls, handler } = controllable();
    const q = new WorkQueue(handler, { workers: 1 });
    q.add('a');
    q.add('b');
    q.addAfter('c', 60_000);
    let done = false;
    const stopped = q.shutdown().then(() => {
      done = true;
    });
    await settle();
    expect(done).toBe(false);
    q.add('d');
    calls[0]!.d.resolve();
    await stopped;
    expect(calls.map((c) => c.key)).toEqual(['a']);
    expect(q.depth()).toBe(0);
    expect(q.pendingDelayed()).toBe(0);
  });

  it('survives a throwing onError callback', async () => {
    let calls = 0;
    const q = new WorkQueue(
      async () => {
        calls++;
        if (calls === 1) throw new Error('x');
      },
      {
        onError: () => {
          throw new Error('logger broke');
        },
      },
    );
    q.add('a');
    await settle();
    q.add('a');
    await settle();
    expect(calls).toBe(2);
    await q.shutdown();
  });

  describe('properties', () => {
    type Op = { t: 'add'; key: string } | { t: 'finish'; i: number; fail: boolean };
    const keys = ['a', 'b', 'c'];
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ t: fc.constant('add' as const), key: fc.constantFrom(...keys) }),
      fc.record({ t: fc.constant('finish' as const), i: fc.nat(10), fail: fc.boolean() }),
    );

    it('never runs a key twice at once and never loses an add', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(op, { maxLength: 60 }),
          fc.integer({ min: 1, max: 4 }),
          async (ops, workers) => {
            let clock = 0;
            const running = new Map<string, number>();
            const open: { key: string; d: Deferred }[] = [];
            const lastStart = new Map<string, number>();
            const lastAdd = new Map<string, number>();
            let maxParallel = 0;
            let violation = '';
            const q = new WorkQueue(
              async (key) => {
                if (running.has(key)) violation = `${key} ran twice at once`;
                running.set(key, 1);
                maxParallel = Math.max(maxParallel, running.size);
                lastStart.set(key, ++clock);
                const d = deferred();
                open.push({ key, d });
                try {
                  await d.promise;
                } finally {
                  running.delete(key);
                }
              },
              // Zero backoff keeps retries synchronous with the test's steps.
              { workers, backoff: { baseMs: 0, capMs: 0 } },
            );
            for (const o of ops) {
              if (o.t === 'add') {
                lastAdd.set(o.key, ++clock);
                q.add(o.key);
              } else if (open.length > 0) {
                const [c] = open.splice(o.i % open.length, 1);
                if (o.fail) c!.d.reject(new Error('x'));
                else c!.d.resolve();
              }
              await settle();
            }
            // Drain: finish everything, successfully, until nothing is left.
            while (open.length > 0) {
              open.shift()!.d.resolve();
              await settle();
            }
            await q.shutdown();
            expect(violation).toBe('');
            expect(maxParallel).toBeLessThanOrEqual(workers);
            for (const [key, added] of lastAdd) {
              // Every add is followed by a handler run that began after it.
              expect(lastStart.get(key) ?? -1).toBeGreaterThan(added);
            }
          },
        ),
        { numRuns: 150 },
      );
    });

    it('with perGroup, never runs more than max keys of one group at once, and still loses no add', async () => {
      const groupKeys = ['a/1', 'a/2', 'a/3', 'b/1', 'b/2', 'c/1'];
      const gop: fc.Arbitrary<Op> = fc.oneof(
        fc.record({ t: fc.constant('add' as const), key: fc.constantFrom(...groupKeys) }),
        fc.record({ t: fc.constant('finish' as const), i: fc.nat(10), fail: fc.boolean() }),
      );
      const groupOf = (k: string) => k.split('/')[0] as string;
      await fc.assert(
        fc.asyncProperty(
          fc.array(gop, { maxLength: 60 }),
          fc.integer({ min: 1, max: 4 }),
          fc.integer({ min: 1, max: 2 }),
          async (ops, workers, max) => {
            let clock = 0;
            const running = new Set<string>();
            const open: { key: string; d: Deferred }[] = [];
            const lastStart = new Map<string, number>();
            const lastAdd = new Map<string, number>();
            let violation = '';
            const q = new WorkQueue(
              async (key) => {
                running.add(key);
                const same = [...running].filter((k) => groupOf(k) === groupOf(key)).length;
                if (same > max) violation = `${same} keys of ${groupOf(key)} at once`;
                lastStart.set(key, ++clock);
                const d = deferred();
                open.push({ key, d });
                try {
                  await d.promise;
                } finally {
                  running.delete(key);
                }
              },
              { workers, backoff: { baseMs: 0, capMs: 0 }, perGroup: { groupOf, max } },
            );
            for (const o of ops) {
              if (o.t === 'add') {
                lastAdd.set(o.key, ++clock);
                q.add(o.key);
              } else if (open.length > 0) {
                const [c] = open.splice(o.i % open.length, 1);
                if (o.fail) c!.d.reject(new Error('x'));
                else c!.d.resolve();
              }
              await settle();
            }
            while (open.length > 0) {
              open.shift()!.d.resolve();
              await settle();
            }
            await q.shutdown();
            expect(violation).toBe('');
            for (const [key, added] of lastAdd) expect(lastStart.get(key) ?? -1).toBeGreaterThan(added);
          },
        ),
        { numRuns: 150 },
      );
    });
  });

  it('with perGroup, a group at its limit does not hold back another group waiting behind it', async () => {
    const { calls, handler } = controllable();
    const q = new WorkQueue(handler, {
      workers: 4,
      perGroup: { groupOf: (k) => k.split('/')[0] as string, max: 2 },
    });
    for (const k of ['a/1', 'a/2', 'a/3', 'a/4', 'b/1']) q.add(k);
    await settle();
    // Two of tenant a's keys hold two workers; b's key, added last, gets the third at once.
    expect(calls.map((c) => c.key)).toEqual(['a/1', 'a/2', 'b/1']);
    expect(q.depth()).toBe(2);
    calls[0]!.d.resolve();
    await settle();
    expect(calls.map((c) => c.key)).toEqual(['a/1', 'a/2', 'b/1', 'a/3']);
    for (const c of calls) c.d.resolve();
    await settle();
    for (const c of calls) c.d.resolve();
    await q.shutdown();
  });
});
