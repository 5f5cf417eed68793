import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { makeClients } from '../../controller/kube/client.ts';
import { kubeLeaseStore, LeaderElector, type LeaseStore } from '../../controller/kube/leader.ts';
import { sandbox } from '../harness/env.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { waitFor } from '../harness/wait.ts';

// Two electors on one real coordination.k8s.io/v1 Lease, with short timings so the test
// runs in seconds: lease 3 s, renew deadline 2 s, retry 250 ms.

const TIMING = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 250 };

function kc(): KubeConfig {
  const k = new KubeConfig();
  k.loadFromFile(sandbox().KUBECONFIG);
  return k;
}

/** The real store, with a switch that makes every call fail as if the replica were partitioned. */
function partitionable(store: LeaseStore) {
  const state = { down: false };
  const gate = () => {
    if (state.down) throw new Error('partitioned');
  };
  const wrapped: LeaseStore = {
    get: async () => {
      gate();
      return store.get();
    },
    create: async (s) => {
      gate();
      return store.create(s);
    },
    update: async (s, rv) => {
      gate();
      return store.update(s, rv);
    },
    describe: () => store.describe(),
  };
  return { store: wrapped, state };
}

interface Log {
  at: number;
  what: string;
}

const electors: LeaderElector[] = [];
afterEach(async () => {
  await Promise.all(electors.splice(0).map((e) => e.stop()));
});

function make(store: LeaseStore, identity: string, log: Log[]) {
  const e: LeaderElector = new LeaderElector(store, {
    identity,
    ...TIMING,
    onStartedLeading: () => log.push({ at: Date.now(), what: `${identity} started` }),
    onStoppedLeading: () => log.push({ at: Date.now(), what: `${identity} stopped` }),
  });
  electors.push(e);
  return e;
}

async function holder(namespace: string): Promise<string | undefined> {
  const lease = await makeClients(kc()).coordination.readNamespacedLease({
    name: 'sluice-leader',
    namespace,
  });
  return lease.spec?.holderIdentity;
}

describe('LeaderElector on a real Lease', () => {
  it('elects exactly one of two; the other takes over when the leader stops renewing', async () => {
    const ns = await freshNamespace('lease');
    const log: Log[] = [];
    const pa = partitionable(kubeLeaseStore(kc(), ns, 'sluice-leader'));
    const a = make(pa.store, 'a', log);
    const pb = partitionable(kubeLeaseStore(kc(), ns, 'sluice-leader'));
    const b = make(pb.store, 'b', log);
    // Both compete for a free lease; exactly one wins.
    a.start();
    b.start();
    const first = await waitFor(() => (a.isLeader() ? 'a' : b.isLeader() ? 'b' : false), {
      description: 'one elector to lead',
    });
    expect(await holder(ns)).toBe(first);

    // Watch both over several lease durations: never two leaders, no flapping.
    const until = Date.now() + 2 * TIMING.leaseDurationMs;
    while (Date.now() < until) {
      expect(a.isLeader() && b.isLeader()).toBe(false);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(log.map((l) => l.what)).toEqual([`${first} started`]);
    log.length = 0;

    // Partition the leader; the other must take over, but only after the leader has given up.
    const leader = first === 'a' ? pa : pb;
    const [l, f] = first === 'a' ? [a, b] : [b, a];
    leader.state.down = true;
    const cutAt = Date.now();
    await waitFor(() => f.isLeader(), { description: 'the follower to take over', timeout: 15_000 });
    const stopped = log.find((x) => x.what === `${first} stopped`);
    const started = log.find((x) => x.what.endsWith('started'));
    expect(stopped).toBeDefined();
    // The old leader gives up within its renew deadline, and strictly before the new one starts.
    expect(stopped!.at - cutAt).toBeLessThanOrEqual(TIMING.renewDeadlineMs + 100);
    expect(started!.at).toBeGreaterThan(stopped!.at);
    // The follower waited for the lease to run out rather than grabbing it.
    expect(started!.at - cutAt).toBeGreaterThanOrEqual(TIMING.leaseDurationMs - TIMING.retryPeriodMs);
    expect(await holder(ns)).toBe(first === 'a' ? 'b' : 'a');

    // The old leader reconnects and stays a follower.
    leader.state.down = false;
    await new Promise((r) => setTimeout(r, TIMING.leaseDurationMs));
    expect(l.isLeader()).toBe(false);
    expect(f.isLeader()).toBe(true);
  });

  it('releases the Lease on graceful stop so the successor need not wait out the lease', async () => {
    const ns = await freshNamespace('lease');
    const log: Log[] = [];
    const a = make(kubeLeaseStore(kc(), ns, 'sluice-leader'), 'a', log);
    a.start();
    await waitFor(() => a.isLeader(), { description: 'a to lead' });
    const b = make(kubeLeaseStore(kc(), ns, 'sluice-leader'), 'b', log);
    b.start();
    await waitFor(() => b.currentLeader() === 'a', { description: 'b to see a as leader' });
    await a.stop();
    // Released: empty, unless b was quicker than this read.
    expect(await holder(ns)).not.toBe('a');
    const releasedAt = Date.now();
    await waitFor(() => b.isLeader(), { description: 'b to take over', interval: 20 });
    expect(Date.now() - releasedAt).toBeLessThan(TIMING.leaseDurationMs);
    expect(log.map((l) => l.what)).toEqual(['a started', 'a stopped', 'b started']);
  });
});
