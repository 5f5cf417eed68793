import type { KubernetesObject } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type ChangeType,
  type ListWatchSource,
  ResilientInformer,
  type WatchEventType,
} from '../../../controller/kube/informer.ts';

// The restart/backoff/watchdog logic is driven here with a scripted source and fake time;
// the same class against the real API server is covered in test/sandbox/plumbing-informer.

type Obj = KubernetesObject & { metadata: { name: string; namespace: string; resourceVersion: string } };
const obj = (name: string, rv: string, namespace = 'ns'): Obj => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace, resourceVersion: rv },
});

interface OpenWatch {
  rv: string;
  send(type: WatchEventType, o: unknown): void;
  done(err?: unknown): void;
  stopped: boolean;
}

function scripted() {
  const state = {
    items: [] as Obj[],
    rv: '1',
    listCalls: 0,
    listError: undefined as unknown,
    watches: [] as OpenWatch[],
    timeouts: [] as (number | undefined)[],
  };
  const source: ListWatchSource<Obj> = {
    async list() {
      state.listCalls++;
      if (state.listError) throw state.listError;
      return { items: [...state.items], resourceVersion: state.rv };
    },
    async watch(rv, onEvent, onDone, opts) {
      state.timeouts.push(opts?.timeoutSeconds);
      const w: OpenWatch = { rv, send: onEvent, done: onDone, stopped: false };
      state.watches.push(w);
      return {
        stop: () => {
          w.stopped = true;
        },
      };
    },
  };
  const current = () => state.watches.at(-1)!;
  return { state, source, current };
}

function record(inf: ResilientInformer<Obj>) {
  const seen: string[] = [];
  inf.onChange((o, t: ChangeType) => seen.push(`${t}:${o.metadata.name}@${o.metadata.resourceVersion}`));
  return seen;
}

const tick = (ms = 0) => vi.advanceTimersByTimeAsync(ms);

describe('ResilientInformer', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('announces the first list, then reports synced', async () => {
    const { state, source } = scripted();
    state.items = [obj('a', '5'), obj('b', '6', 'other')];
    const inf = new ResilientInformer(source);
    const seen = record(inf);
    let synced = false;
    void inf.waitForSync().then(() => {
      synced = true;
    });
    inf.start();
    expect(inf.hasSynced()).toBe(false);
    await tick();
    expect(inf.hasSynced()).toBe(true);
    expect(synced).toBe(true);
    expect(seen).toEqual(['add:a@5', 'add:b@6']);
    expect(inf.get('ns', 'a')?.metadata?.resourceVersion).toBe('5');
    expect(inf.get('other', 'a')).toBeUndefined();
    expect(inf.list('other').map((o) => o.metadata.name)).toEqual(['b']);
    expect(inf.list()).toHaveLength(2);
    await inf.stop();
  });

  it('applies watch events to the cache and announces real changes only', async () => {
    const { state, source, current } = scripted();
    state.items = [obj('a', '5')];
    state.rv = '7';
    const inf = new ResilientInformer(source);
    const seen = record(inf);
    inf.start();
    await tick();
    expect(current().rv).toBe('7');
    current().send('ADDED', obj('b', '8'));
    current().send('MODIFIED', obj('a', '9'));
    current().send('MODIFIED', obj('a', '9'));
    current().send('BOOKMARK', { metadata: { resourceVersion: '10' } });
    current().send('DELETED', obj('b', '11'));
    expect(seen).toEqual(['add:a@5', 'add:b@8', 'update:a@9', 'delete:b@11']);
    expect(inf.list().map((o) => o.metadata.name)).toEqual(['a']);
    await inf.stop();
  });

  it('after a watch error, restarts with backoff and re-announces everything', async () => {
    const { state, source, current } = scripted();
    state.items = [obj('a', '1'), obj('b', '1'), obj('c', '1')];
    const inf = new ResilientInformer(source, { backoff: { baseMs: 100, capMs: 1000 } });
    const seen = record(inf);
    inf.start();
    await tick();
    seen.length = 0;
    // While disconnected: b changed, c went away, d appeared.
    state.items = [obj('a', '1'), obj('b', '2'), obj('d', '3')];
    current().done(new Error('connection reset'));
    await tick(99);
    expect(state.listCalls).toBe(1);
    await tick(1);
    expect(state.listCalls).toBe(2);
    expect(seen.sort()).toEqual(['add:d@3', 'delete:c@1', 'resync:a@1', 'update:b@2'].sort());
    expect(inf.restartCount()).toBe(1);
    await inf.stop();
  });

  it('backs off longer on consecutive failures and resets once events flow', async () => {
    const { state, source, current } = scripted();
    const inf = new ResilientInformer(source, { backoff: { baseMs: 100, capMs: 1000 } });
    inf.start();
    await tick();
    state.listError = new Error('apiserver down');
    current().done(new Error('reset'));
    await tick(100); // list #2 fails
    expect(state.listCalls).toBe(2);
    await tick(199);
    expect(state.listCalls).toBe(2);
    await tick(1); // list #3 after 200 ms, fails
    expect(state.listCalls).toBe(3);
    state.listError = undefined;
    await tick(400); // list #4 succeeds
    expect(state.listCalls).toBe(4);
    current().send('ADDED', obj('x', '2'));
    current().done(new Error('reset again'));
    await tick(100); // back to the base delay
    expect(state.listCalls).toBe(5);
    await inf.stop();
  });

  it('keeps retrying the first list and stays unsynced until it succeeds', async () => {
    const { state, source } = scripted();
    state.listError = new Error('forbidden');
    const inf = new ResilientInformer(source, { backoff: { baseMs: 10, capMs: 10 } });
    inf.start();
    await tick(35);
    expect(state.listCalls).toBe(4);
    expect(inf.hasSynced()).toBe(false);
    state.listError = undefined;
    await tick(10);
    expect(inf.hasSynced()).toBe(true);
    await inf.stop();
  });

  it('restarts a silent watch after the silence timeout', async () => {
    const { state, source, current } = scripted();
    state.items = [obj('a', '1')];
    const inf = new ResilientInformer(source, { silenceTimeoutMs: 60_000 });
    const seen = record(inf);
    inf.start();
    await tick();
    await tick(30_000);
    current().send('BOOKMARK', { metadata: { resourceVersion: '2' } });
    await tick(59_999);
    expect(state.listCalls).toBe(1);
    const hung = current();
    await tick(1);
    expect(hung.stopped).toBe(true);
    expect(state.listCalls).toBe(2);
    expect(seen).toEqual(['add:a@1', 'resync:a@1']);
    await inf.stop();
  });

  it('asks the server to end each watch well before the watchdog would fire', async () => {
    const { state, source, current } = scripted();
    const inf = new ResilientInformer(source, { silenceTimeoutMs: 60_000 });
    inf.start();
    await tick();
    current().send('ADDED', obj('a', '2'));
    await tick(40_000);
    current().done();
    await tick();
    expect(state.timeouts).toHaveLength(2);
    for (const t of state.timeouts) {
      expect(t).toBeGreaterThanOrEqual(30);
      expect(t).toBeLessThanOrEqual(45);
    }
    const q = scripted();
    const disabled = new ResilientInformer(q.source, { silenceTimeoutMs: 0 });
    disabled.start();
    await tick();
    expect(q.state.timeouts).toEqual([undefined]);
    await Promise.all([inf.stop(), disabled.stop()]);
  });

  it('re-lists and re-announces on the resync period', async () => {
    const { state, source, current } = scripted();
    state.items = [obj('a', '1')];
    const inf = new ResilientInformer(source, { resyncPeriodMs: 1000, silenceTimeoutMs: 0 });
    const seen = record(inf);
    inf.start();
    await tick();
    await tick(1000);
    expect(state.listCalls).toBe(2);
    expect(state.watches[0]!.stopped).toBe(true);
    expect(current().stopped).toBe(false);
    await tick(1000);
    expect(seen).toEqual(['add:a@1', 'resync:a@1', 'resync:a@1']);
    await inf.stop();
  });

  it('re-lists at once, without backoff, when the resourceVersion has expired', async () => {
    const { state, source, current } = scripted();
    const inf = new ResilientInformer(source, { backoff: { baseMs: 5000, capMs: 5000 } });
    inf.start();
    await tick();
    current().send('ERROR', { kind: 'Status', code: 410, reason: 'Expired' });
    await tick();
    expect(state.listCalls).toBe(2);
    await inf.stop();
  });

  it('resumes from the last resourceVersion after a clean close, without re-listing', async () => {
    const { state, source, current } = scripted();
    state.rv = '3';
    const inf = new ResilientInformer(source);
    inf.start();
    await tick();
    current().send('ADDED', obj('a', '4'));
    await tick(5000);
    current().done();
    await tick();
    expect(state.listCalls).toBe(1);
    expect(state.watches.map((w) => w.rv)).toEqual(['3', '4']);
    await inf.stop();
  });

  it('treats a watch that closes cleanly at once as a failure', async () => {
    const { state, source, current } = scripted();
    const inf = new ResilientInformer(source, { backoff: { baseMs: 100, capMs: 100 } });
    inf.start();
    await tick();
    current().done();
    await tick(99);
    expect(state.listCalls).toBe(1);
    await tick(1);
    expect(state.listCalls).toBe(2);
    await inf.stop();
  });

  it('ignores a stopped watch that still reports', async () => {
    const { source, current } = scripted();
    const inf = new ResilientInformer(source, { resyncPeriodMs: 1000, silenceTimeoutMs: 0 });
    const seen = record(inf);
    inf.start();
    await tick();
    const old = current();
    await tick(1000);
    old.send('ADDED', obj('ghost', '9'));
    old.done(new Error('aborted'));
    await tick(10_000);
    expect(seen.filter((s) => s.includes('ghost'))).toEqual([]);
    expect(inf.restartCount()).toBe(11);
    await inf.stop();
  });

  it('keeps other subscribers going when one throws, and honours unsubscribe', async () => {
    const { state, source } = scripted();
    state.items = [obj('a', '1')];
    const inf = new ResilientInformer(source);
    inf.onChange(() => {
      throw new Error('bad subscriber');
    });
    const seen = record(inf);
    const other: string[] = [];
    const off = inf.onChange((o) => other.push(o.metadata.name));
    off();
    inf.start();
    await tick();
    expect(seen).toEqual(['add:a@1']);
    expect(other).toEqual([]);
    await inf.stop();
  });

  it('does nothing after stop', async () => {
    const { state, source, current } = scripted();
    const inf = new ResilientInformer(source, { resyncPeriodMs: 1000 });
    inf.start();
    await tick();
    await inf.stop();
    expect(current().stopped).toBe(true);
    current().done(new Error('late'));
    await tick(120_000);
    expect(state.listCalls).toBe(1);
  });
});
