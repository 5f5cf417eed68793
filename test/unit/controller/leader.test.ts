import { ApiException } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  LeaderElector,
  type LeaseRecord,
  type LeaseStore,
  microTime,
  type StoredLease,
} from '../../../controller/kube/leader.ts';

// An in-memory Lease with the API server's optimistic concurrency. The same elector against a
// real Lease is exercised in test/sandbox/plumbing-leader.test.ts.
class MemoryLease {
  lease: StoredLease | undefined;
  private rv = 0;
  writes: LeaseRecord[] = [];

  store(view: { down?: () => boolean; hang?: () => boolean } = {}): LeaseStore {
    const gate = async () => {
      if (view.hang?.()) await new Promise(() => {});
      if (view.down?.()) throw new Error('connection refused');
    };
    return {
      get: async () => {
        await gate();
        return this.lease && structuredClone(this.lease);
      },
      create: async (spec) => {
        await gate();
        if (this.lease) throw new ApiException(409, 'AlreadyExists', {}, {});
        this.lease = { spec, resourceVersion: String(++this.rv) };
        this.writes.push(spec);
        return structuredClone(this.lease);
      },
      update: async (spec, resourceVersion) => {
        await gate();
        if (!this.lease || this.lease.resourceVersion !== resourceVersion) {
          throw new ApiException(409, 'Conflict', {}, {});
        }
        this.lease = { spec, resourceVersion: String(++this.rv) };
        this.writes.push(spec);
        return structuredClone(this.lease);
      },
      describe: () => 'mem/lease',
    };
  }
}

function elector(store: LeaseStore, identity: string, log: string[]) {
  const e: LeaderElector = new LeaderElector(store, {
    identity,
    onStartedLeading: () => log.push(`${identity} started`),
    onStoppedLeading: () => log.push(`${identity} stopped (isLeader=${e.isLeader()})`),
  });
  return e;
}

const tick = (ms = 0) => vi.advanceTimersByTimeAsync(ms);

describe('LeaderElector', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('formats MicroTime with microseconds', () => {
    expect(microTime(Date.UTC(2026, 0, 2, 3, 4, 5, 678))).toBe('2026-01-02T03:04:05.678000Z');
  });

  it('rejects timings that cannot be safe', () => {
    const store = new MemoryLease().store();
    expect(
      () => new LeaderElector(store, { identity: 'a', leaseDurationMs: 10_000, renewDeadlineMs: 10_000 }),
    ).toThrow();
    expect(
      () => new LeaderElector(store, { identity: 'a', renewDeadlineMs: 2000, retryPeriodMs: 2000 }),
    ).toThrow();
  });

  it('acquires a free lease at once and renews it every retry period', async () => {
    const mem = new MemoryLease();
    const log: string[] = [];
    const a = elector(mem.store(), 'a', log);
    a.start();
    await tick();
    expect(log).toEqual(['a started']);
    expect(a.isLeader()).toBe(true);
    expect(mem.lease?.spec.holderIdentity).toBe('a');
    expect(mem.lease?.spec.leaseDurationSeconds).toBe(15);
    const acquired = mem.lease?.spec.acquireTime;
    await tick(10_000);
    expect(mem.writes).toHaveLength(6);
    expect(mem.lease?.spec.acquireTime).toBe(acquired);
    expect(a.isLeader()).toBe(true);
    await a.stop();
  });

  it('with two electors exactly one leads, and the other takes over only after the lease runs out', async () => {
    const mem = new MemoryLease();
    let aDown = false;
    const log: string[] = [];
    const a = elector(mem.store({ down: () => aDown }), 'a', log);
    const b = elector(mem.store(), 'b', log);
    a.start();
    await tick();
    b.start();
    for (let t = 0; t < 60_000; t += 100) {
      await tick(100);
      expect(a.isLeader() && b.isLeader()).toBe(false);
    }
    expect(log).toEqual(['a started']);
    expect(b.currentLeader()).toBe('a');

    // a is cut off from the API server: it must give up before b is allowed in.
    aDown = true;
    const cutAt = Date.now();
    let aStoppedAt = 0;
    let bStartedAt = 0;
    while (!bStartedAt) {
      await tick(100);
      expect(a.isLeader() && b.isLeader()).toBe(false);
      if (!aStoppedAt && !a.isLeader()) aStoppedAt = Date.now();
      if (b.isLeader()) bStartedAt = Date.now();
    }
    // a's last renew began at most one retry period before the cut.
    expect(aStoppedAt - cutAt).toBeLessThanOrEqual(10_000);
    expect(bStartedAt - cutAt).toBeGreaterThanOrEqual(13_000);
    expect(bStartedAt - cutAt).toBeLessThanOrEqual(15_000 + 2_000 + 100);
    expect(log).toEqual(['a started', 'a stopped (isLeader=false)', 'b started']);
    expect(mem.lease?.spec.leaseTransitions).toBe(1);

    // a comes back: it sees b renewing and stays a follower.
    aDown = false;
    await tick(30_000);
    expect(a.isLeader()).toBe(false);
    expect(b.isLeader()).toBe(true);
    await a.stop();
    await b.stop();
  });

  it('a standby takes over the moment the lease runs out in its view, not a retry period later', async () => {
    const mem = new MemoryLease();
    let aDown = false;
    const log: string[] = [];
    const a = elector(mem.store({ down: () => aDown }), 'a', log);
    const b = elector(mem.store(), 'b', log);
    a.start();
    // b starts 1 s out of phase with a's 2 s renewals; as a standby it reads the Lease every 0.5 s.
    await tick(1000);
    b.start();
    await tick(20_100);
    aDown = true; // as good as killed: no more renewals
    const lastRenew = Date.parse(mem.lease?.spec.renewTime ?? '');
    while (!b.isLeader()) await tick(100);
    // Seen at most one 0.5 s poll late, expired a lease duration after that; polling at the
    // 2 s retry period instead would allow 17 s, which the chaos suite caught at 17.05 s.
    expect(Date.now() - lastRenew).toBeLessThanOrEqual(15_000 + 500 + 100);
    expect(log).toEqual(['a started', 'a stopped (isLeader=false)', 'b started']);
    await a.stop();
    await b.stop();
  });

  it('stops leading exactly at the renew deadline while a renew hangs', async () => {
    const mem = new MemoryLease();
    let hang = false;
    const log: string[] = [];
    const a = elector(mem.store({ hang: () => hang }), 'a', log);
    a.start();
    await tick();
    const renewedAt = Date.now();
    hang = true;
    await tick(9_999);
    expect(a.isLeader()).toBe(true);
    await tick(1);
    expect(a.isLeader()).toBe(false);
    expect(log).toEqual(['a started', 'a stopped (isLeader=false)']);
    expect(Date.now() - renewedAt).toBe(10_000);
    // The hung attempt is abandoned and the loop goes on: once the server answers again, a
    // (still the holder) leads again.
    hang = false;
    await tick(10_000);
    expect(a.isLeader()).toBe(true);
    await a.stop();
  });

  it('isLeader() turns false at the deadline even if timers run late', async () => {
    const mem = new MemoryLease();
    const a = elector(mem.store(), 'a', []);
    a.start();
    await tick();
    // Freeze the event loop's view: move the clock without running timers.
    vi.setSystemTime(Date.now() + 10_000);
    expect(a.isLeader()).toBe(false);
    await a.stop();
  });

  it('releases the lease on stop so a successor takes over within one retry period', async () => {
    const mem = new MemoryLease();
    const log: string[] = [];
    const a = elector(mem.store(), 'a', log);
    const b = elector(mem.store(), 'b', log);
    a.start();
    await tick();
    b.start();
    await tick(20_000);
    await a.stop();
    expect(mem.lease?.spec.holderIdentity).toBe('');
    expect(log).toEqual(['a started', 'a stopped (isLeader=false)']);
    const stoppedAt = Date.now();
    while (!b.isLeader()) await tick(100);
    expect(Date.now() - stoppedAt).toBeLessThanOrEqual(2_000);
    await b.stop();
  });

  it('does not let a hung API server hold up stop()', async () => {
    const mem = new MemoryLease();
    let hang = false;
    const log: string[] = [];
    const a = elector(mem.store({ hang: () => hang }), 'a', log);
    a.start();
    await tick();
    hang = true;
    let stopped = false;
    const stopping = a.stop().then(() => {
      stopped = true;
    });
    // Leadership ends at once, before any release write is attempted.
    expect(log).toEqual(['a started', 'a stopped (isLeader=false)']);
    await tick(9_999);
    expect(stopped).toBe(false);
    await tick(1);
    await stopping;
    expect(stopped).toBe(true);
  });

  it('lets only one of two simultaneous candidates win a missing lease', async () => {
    const mem = new MemoryLease();
    const log: string[] = [];
    const a = elector(mem.store(), 'a', log);
    const b = elector(mem.store(), 'b', log);
    a.start();
    b.start();
    await tick(30_000);
    expect([a.isLeader(), b.isLeader()].filter(Boolean)).toHaveLength(1);
    expect(log).toHaveLength(1);
    await a.stop();
    await b.stop();
  });

  it('keeps competing after losing the lease and leads again when it can', async () => {
    const mem = new MemoryLease();
    let down = false;
    const log: string[] = [];
    const a = elector(mem.store({ down: () => down }), 'a', log);
    a.start();
    await tick();
    down = true;
    await tick(12_000);
    expect(a.isLeader()).toBe(false);
    down = false;
    // Nobody else took the lease: it is still ours, so a renews it straight away.
    await tick(2_000);
    expect(a.isLeader()).toBe(true);
    expect(log).toEqual(['a started', 'a stopped (isLeader=false)', 'a started']);
    await a.stop();
  });
});
