import { randomBytes } from 'node:crypto';
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ChangeType,
  kubeSource,
  type ListWatchSource,
  ResilientInformer,
} from '../../controller/kube/informer.ts';
import { sandbox } from '../harness/env.ts';
import { kube } from '../harness/kube.ts';
import { freshNamespace } from '../harness/namespace.ts';

// ResilientInformer against the real API server: list+watch, label selectors, custom
// resources, and recovery after its watch is cut or goes quiet.

type Obj = KubernetesObject & { metadata: { name: string; namespace: string; resourceVersion: string } };
interface Seen {
  type: ChangeType;
  name: string;
  namespace: string;
  data?: Record<string, string>;
}

/** Collects informer notifications and lets a test wait for one, event-driven. */
function observe(inf: ResilientInformer<Obj>) {
  const events: Seen[] = [];
  const waiters: { pred: (e: Seen) => boolean; resolve: (e: Seen) => void }[] = [];
  inf.onChange((o, type) => {
    const e: Seen = {
      type,
      name: o.metadata.name,
      namespace: o.metadata.namespace,
      data: (o as { data?: Record<string, string> }).data,
    };
    events.push(e);
    for (const w of [...waiters]) {
      if (w.pred(e)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(e);
      }
    }
  });
  /** Resolves with the first past or future notification matching `pred`. */
  const until = (pred: (e: Seen) => boolean, what: string, timeoutMs = 20_000): Promise<Seen> => {
    const past = events.find(pred);
    if (past) return Promise.resolve(past);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`timed out waiting for ${what}; saw ${JSON.stringify(events.slice(-20))}`));
      }, timeoutMs);
      waiters.push({
        pred,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  };
  return { events, until };
}

/** Wraps a source so the test can cut the live watch from underneath the informer. */
function cuttable<T>(source: ListWatchSource<T>) {
  const handles: { stop(): void }[] = [];
  let notify = () => {};
  const wrapped: ListWatchSource<T> = {
    list: () => source.list(),
    async watch(rv, onEvent, onDone, opts) {
      const h = await source.watch(rv, onEvent, onDone, opts);
      handles.push(h);
      notify();
      return h;
    },
  };
  /** Resolves once the n-th watch is established (the informer reports synced before that). */
  const established = (n: number) =>
    new Promise<void>((resolve) => {
      if (handles.length >= n) resolve();
      else
        notify = () => {
          if (handles.length >= n) resolve();
        };
    });
  return { source: wrapped, cut: () => handles.at(-1)!.stop(), watches: () => handles.length, established };
}

function kc(): KubeConfig {
  const k = new KubeConfig();
  k.loadFromFile(sandbox().KUBECONFIG);
  return k;
}

const informers: ResilientInformer<Obj>[] = [];
afterEach(async () => {
  await Promise.all(informers.splice(0).map((i) => i.stop()));
});

function start(source: ListWatchSource<Obj>, opts: ConstructorParameters<typeof ResilientInformer>[1] = {}) {
  const inf = new ResilientInformer<Obj>(source, { name: 'test', ...opts });
  informers.push(inf);
  const obs = observe(inf);
  inf.start();
  return { inf, ...obs };
}

const cm = (name: string, labels: Record<string, string>, data: Record<string, string> = {}) => ({
  metadata: { name, labels },
  data,
});

describe('ResilientInformer on the real API server', () => {
  it('lists, then sees ConfigMaps added, updated and deleted in one namespace, filtered by label', async () => {
    const ns = await freshNamespace('inf');
    const core = kube().core;
    await core.createNamespacedConfigMap({ namespace: ns, body: cm('before', { team: 'a' }) });
    await core.createNamespacedConfigMap({ namespace: ns, body: cm('other-team', { team: 'b' }) });

    const { inf, events, until } = start(
      kubeSource<Obj>(kc(), `/api/v1/namespaces/${ns}/configmaps`, { labelSelector: 'team=a' }),
    );
    await inf.waitForSync();
    expect(inf.hasSynced()).toBe(true);
    expect(inf.list().map((o) => o.metadata.name)).toEqual(['before']);

    await core.createNamespacedConfigMap({ namespace: ns, body: cm('new', { team: 'a' }, { v: '1' }) });
    await until((e) => e.type === 'add' && e.name === 'new', 'add of new');
    await core.patchNamespacedConfigMap({
      namespace: ns,
      name: 'new',
      body: [{ op: 'replace', path: '/data/v', value: '2' }],
    });
    await until((e) => e.type === 'update' && e.name === 'new' && e.data?.v === '2', 'update of new');
    expect(inf.get(ns, 'new')?.metadata.resourceVersion).toBeTruthy();
    await core.deleteNamespacedConfigMap({ namespace: ns, name: 'new' });
    await until((e) => e.type === 'delete' && e.name === 'new', 'delete of new');
    expect(inf.get(ns, 'new')).toBeUndefined();
    expect(events.some((e) => e.name === 'other-team')).toBe(false);
  });

  it("caches objects without managedFields or kubectl's last-applied copy, in the list and from the watch", async () => {
    const ns = await freshNamespace('inf-trim');
    const core = kube().core;
    const annotated = (name: string, v: string) => ({
      metadata: {
        name,
        labels: { team: 'a' },
        // What `kubectl apply` leaves behind; the API server adds managedFields itself.
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"big":"copy"}', keep: 'me' },
      },
      data: { v },
    });
    await core.createNamespacedConfigMap({ namespace: ns, body: annotated('listed', '1') });
    const stored = await core.readNamespacedConfigMap({ namespace: ns, name: 'listed' });
    expect(stored.metadata?.managedFields?.length).toBeGreaterThan(0);

    const { inf, until } = start(kubeSource<Obj>(kc(), `/api/v1/namespaces/${ns}/configmaps`));
    await inf.waitForSync();
    await core.createNamespacedConfigMap({ namespace: ns, body: annotated('watched', '2') });
    await until((e) => e.type === 'add' && e.name === 'watched', 'add of watched');
    for (const name of ['listed', 'watched']) {
      const cached = inf.get(ns, name) as Obj & { data?: Record<string, string> };
      expect(cached.metadata.managedFields).toBeUndefined();
      expect(cached.metadata.annotations).toEqual({ keep: 'me' });
      expect(cached.metadata.resourceVersion).toBeTruthy();
      expect(cached.data?.v).toBe(name === 'listed' ? '1' : '2');
    }
  });

  it('watches all namespaces', async () => {
    const run = randomBytes(4).toString('hex');
    const [a, b] = [await freshNamespace('inf'), await freshNamespace('inf')];
    const { inf, until } = start(
      kubeSource<Obj>(kc(), '/api/v1/configmaps', { labelSelector: `run=${run}` }),
    );
    await inf.waitForSync();
    await kube().core.createNamespacedConfigMap({ namespace: a, body: cm('x', { run }) });
    await kube().core.createNamespacedConfigMap({ namespace: b, body: cm('x', { run }) });
    await until((e) => e.namespace === a && e.type === 'add', 'add in a');
    await until((e) => e.namespace === b && e.type === 'add', 'add in b');
    expect(inf.list(a)).toHaveLength(1);
    expect(inf.get(b, 'x')).toBeDefined();
  });

  it('informs on custom resources', async () => {
    const ns = await freshNamespace('inf');
    const path = `/apis/networking.istio.io/v1/namespaces/${ns}/virtualservices`;
    const { inf, until } = start(kubeSource<Obj>(kc(), path));
    await inf.waitForSync();
    await kube().custom.createNamespacedCustomObject({
      group: 'networking.istio.io',
      version: 'v1',
      namespace: ns,
      plural: 'virtualservices',
      body: {
        apiVersion: 'networking.istio.io/v1',
        kind: 'VirtualService',
        metadata: { name: 'checkout' },
        spec: { hosts: ['checkout'] },
      },
    });
    await until((e) => e.type === 'add' && e.name === 'checkout', 'VirtualService add');
    expect(inf.get(ns, 'checkout')?.kind).toBe('VirtualService');
  });

  it('recovers after its watch is cut, catches up on what happened meanwhile, and re-announces', async () => {
    const ns = await freshNamespace('inf');
    const core = kube().core;
    const cut = { test: 'cut' };
    await core.createNamespacedConfigMap({ namespace: ns, body: cm('stays', cut) });
    await core.createNamespacedConfigMap({ namespace: ns, body: cm('goes', cut) });
    await core.createNamespacedConfigMap({ namespace: ns, body: cm('changes', cut, { v: '1' }) });
    const c = cuttable(
      kubeSource<Obj>(kc(), `/api/v1/namespaces/${ns}/configmaps`, { labelSelector: 'test=cut' }),
    );
    // A long backoff keeps the informer down while the world changes.
    const { inf, events, until } = start(c.source, { backoff: { baseMs: 1500, capMs: 1500 } });
    await inf.waitForSync();
    await c.established(1);
    expect(inf.list()).toHaveLength(3);
    events.length = 0;

    c.cut();
    await core.deleteNamespacedConfigMap({ namespace: ns, name: 'goes' });
    await core.replaceNamespacedConfigMap({
      namespace: ns,
      name: 'changes',
      body: cm('changes', cut, { v: '2' }),
    });
    await core.createNamespacedConfigMap({ namespace: ns, body: cm('appears', cut) });

    await until((e) => e.type === 'resync' && e.name === 'stays', 'unchanged object re-announced');
    await until((e) => e.type === 'delete' && e.name === 'goes', 'delete seen through the re-list');
    await until(
      (e) => e.type === 'update' && e.name === 'changes' && e.data?.v === '2',
      'update via re-list',
    );
    await until((e) => e.type === 'add' && e.name === 'appears', 'add via re-list');
    expect(inf.restartCount()).toBe(1);
    await c.established(2);

    // And the new watch is live.
    await core.createNamespacedConfigMap({ namespace: ns, body: cm('after', cut) });
    await until((e) => e.type === 'add' && e.name === 'after', 'add after recovery');
  });

  it('restarts a watch that stays silent, and still sees changes afterwards', async () => {
    const ns = await freshNamespace('inf');
    await kube().core.createNamespacedConfigMap({ namespace: ns, body: cm('quiet', {}) });
    // A server-side timeout far beyond the watchdog's stands in for a connection that hangs.
    const source = kubeSource<Obj>(kc(), `/api/v1/namespaces/${ns}/configmaps`, {
      watchTimeoutSeconds: 3600,
    });
    const { inf, until } = start(source, { silenceTimeoutMs: 1500 });
    await inf.waitForSync();
    await until((e) => e.type === 'resync' && e.name === 'quiet', 're-announce after the silence restart');
    expect(inf.restartCount()).toBeGreaterThanOrEqual(1);
    await kube().core.createNamespacedConfigMap({ namespace: ns, body: cm('loud', {}) });
    await until((e) => e.type === 'add' && e.name === 'loud', 'add after silence restart');
  });

  it('renews a quiet watch with a server-side timeout instead of a re-list', async () => {
    const ns = await freshNamespace('inf');
    await kube().core.createNamespacedConfigMap({ namespace: ns, body: cm('quiet', {}) });
    const c = cuttable(kubeSource<Obj>(kc(), `/api/v1/namespaces/${ns}/configmaps`));
    // Silence 4 s → the server is asked to end each watch after 2-3 s.
    const { inf, events, until } = start(c.source, { silenceTimeoutMs: 4000 });
    await inf.waitForSync();
    await c.established(3);
    expect(inf.restartCount()).toBe(0);
    expect(events.filter((e) => e.type === 'resync')).toEqual([]);
    await kube().core.createNamespacedConfigMap({ namespace: ns, body: cm('later', {}) });
    await until((e) => e.type === 'add' && e.name === 'later', 'add on a renewed watch');
  });

  it('reports not-synced while the first list keeps failing', async () => {
    const { inf } = start(kubeSource<Obj>(kc(), '/apis/no.such.group/v1/widgets'), {
      backoff: { baseMs: 50, capMs: 50 },
    });
    // The list is refused with 404 over and over; the informer must neither crash nor claim readiness.
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (inf.restartCount() >= 3) {
          clearInterval(check);
          resolve();
        }
      }, 20);
    });
    expect(inf.hasSynced()).toBe(false);
  });
});
