import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../../../controller/metrics.ts';
import {
  informersReady,
  metrics,
  parseAddr,
  type RunningServer,
  sluiceMetrics,
  startServer,
} from '../../../controller/server.ts';

const open: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function serve(...args: Parameters<typeof startServer>) {
  const s = await startServer(...args);
  open.push(s);
  return s;
}

const get = (s: RunningServer, path: string, method = 'GET') =>
  fetch(`http://127.0.0.1:${s.port}${path}`, { method });

describe('parseAddr', () => {
  it.each([
    [':8090', undefined, 8090],
    ['127.0.0.1:0', '127.0.0.1', 0],
    ['0.0.0.0:8080', '0.0.0.0', 8080],
    ['[::1]:9000', '::1', 9000],
    ['localhost:1', 'localhost', 1],
  ])('%s', (addr, host, port) => {
    expect(parseAddr(addr)).toEqual({ host, port });
  });

  it.each(['8090', 'host', ':', ':99999', 'a:b'])('rejects %s', (addr) => {
    expect(() => parseAddr(addr)).toThrow();
  });
});

describe('metrics', () => {
  it('exports the Sluice metrics and process metrics from one registry', async () => {
    const text = await metrics.metrics();
    for (const name of [
      'sluice_rollout_info',
      'sluice_rollout_phase',
      'sluice_rollout_canary_weight',
      'sluice_reconcile_duration_seconds',
      'sluice_reconcile_errors_total',
      'sluice_rollout_replicas',
      'sluice_rollout_analysis_phase',
      'process_cpu_seconds_total',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    expect(sluiceMetrics.registry).toBe(metrics);
  });

  it('keeps one info series per Rollout and one current phase', async () => {
    const m = createMetrics(new Registry());
    m.setRolloutInfo('shop', 'checkout', 'canary', 'abc');
    m.setRolloutInfo('shop', 'checkout', 'canary', 'def');
    m.setRolloutPhase('shop', 'checkout', 'Progressing');
    m.setRolloutPhase('shop', 'checkout', 'Paused');
    m.setCanaryWeight('shop', 'checkout', 30);
    m.setReplicas('shop', 'checkout', { desired: 4, current: 8, updated: 4, ready: 7, available: undefined });
    m.setAnalysisPhase('shop', 'checkout', 'background', 'Running');
    m.reconcileErrors.inc({ namespace: 'shop', name: 'checkout' });
    const text = await m.registry.metrics();
    expect(text).toContain('sluice_rollout_replicas{namespace="shop",name="checkout",state="ready"} 7');
    expect(text).toContain('sluice_rollout_replicas{namespace="shop",name="checkout",state="available"} 0');
    expect(text).toContain(
      'sluice_rollout_analysis_phase{namespace="shop",name="checkout",gate="background",phase="Running"} 1',
    );
    expect(text).toContain(
      'sluice_rollout_analysis_phase{namespace="shop",name="checkout",gate="background",phase="Failed"} 0',
    );
    expect(text).toContain('sluice_reconcile_errors_total{namespace="shop",name="checkout"} 1');
    expect(text).not.toContain('revision="abc"');
    expect(text).toContain(
      'sluice_rollout_info{namespace="shop",name="checkout",strategy="canary",revision="def"} 1',
    );
    expect(text).toContain('sluice_rollout_phase{namespace="shop",name="checkout",phase="Paused"} 1');
    expect(text).toContain('sluice_rollout_phase{namespace="shop",name="checkout",phase="Progressing"} 0');
    expect(text).toContain('sluice_rollout_canary_weight{namespace="shop",name="checkout"} 30');
    m.forgetRollout('shop', 'checkout');
    expect(await m.registry.metrics()).not.toContain('name="checkout"');
  });

  it('forgets what it knew of every Rollout when it stops leading, and keeps its counters', async () => {
    const m = createMetrics(new Registry());
    m.setRolloutInfo('shop', 'checkout', 'canary', 'abc');
    m.setRolloutPhase('shop', 'checkout', 'Paused');
    m.setCanaryWeight('shop', 'cart', 20);
    m.reconcileErrors.inc({ namespace: 'shop', name: 'cart' });
    m.forgetRolloutState();
    const text = await m.registry.metrics();
    expect(text).not.toContain('sluice_rollout_phase{');
    expect(text).not.toContain('sluice_rollout_canary_weight{');
    expect(text).not.toContain('sluice_rollout_info{');
    expect(text).toContain('sluice_reconcile_errors_total{namespace="shop",name="cart"} 1');
  });
});

describe('startServer', () => {
  it('serves /metrics on an ephemeral port', async () => {
    const m = createMetrics(new Registry());
    m.reconcileErrors.inc({ namespace: 'shop', name: 'checkout' });
    const queue = m.queueObserver('rollouts');
    queue.added();
    queue.depth(3);
    queue.waited(0.2);
    queue.worked(0.03);
    queue.retried();
    m.reconcileDuration.observe({ changed: 'false' }, 0.02);
    const s = await serve({ addr: '127.0.0.1:0', registry: m.registry });
    expect(s.port).toBeGreaterThan(0);
    const res = await get(s, '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const body = await res.text();
    expect(body).toContain('sluice_reconcile_errors_total{namespace="shop",name="checkout"} 1');
    // client-go's names, so dashboards for client-go controllers read Sluice's queues
    expect(body).toContain('workqueue_adds_total{name="rollouts"} 1');
    expect(body).toContain('workqueue_depth{name="rollouts"} 3');
    expect(body).toContain('workqueue_queue_duration_seconds_count{name="rollouts"} 1');
    expect(body).toContain('workqueue_work_duration_seconds_sum{name="rollouts"} 0.03');
    expect(body).toContain('workqueue_retries_total{name="rollouts"} 1');
    expect(body).toContain('sluice_reconcile_duration_seconds_count{changed="false"} 1');
    // Health endpoints live on their own server unless asked for.
    expect((await get(s, '/readyz')).status).toBe(404);
  });

  it('answers /readyz from informer sync, not from anything else', async () => {
    const informers = [
      { name: 'rollouts', synced: false, hasSynced: () => false },
      { name: 'services', hasSynced: () => true },
    ];
    let rolloutsSynced = false;
    informers[0]!.hasSynced = () => rolloutsSynced;
    const s = await serve({ addr: '127.0.0.1:0', health: { ready: informersReady(informers) } });
    const notReady = await get(s, '/readyz');
    expect(notReady.status).toBe(503);
    expect(await notReady.text()).toContain('informer rollouts not synced');
    expect((await get(s, '/healthz')).status).toBe(200);
    rolloutsSynced = true;
    const ready = await get(s, '/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.text()).toBe('ok\n');
  });

  it('reports liveness failures and unknown paths and methods', async () => {
    const s = await serve({
      addr: '127.0.0.1:0',
      health: { ready: () => ({ ready: true }), live: () => false },
      registry: new Registry(),
    });
    expect((await get(s, '/healthz')).status).toBe(503);
    expect((await get(s, '/nope')).status).toBe(404);
    expect((await get(s, '/metrics', 'POST')).status).toBe(405);
    expect((await get(s, '/metrics', 'HEAD')).status).toBe(200);
  });

  it('turns a failing collector into a 500 rather than a hung request', async () => {
    const broken = new Registry();
    broken.metrics = () => Promise.reject(new Error('collector broke'));
    const s = await serve({ addr: '127.0.0.1:0', registry: broken });
    const res = await get(s, '/metrics');
    expect(res.status).toBe(500);
    expect(await res.text()).toContain('collector broke');
  });

  it('fails to start on a port in use and closes with keep-alive clients connected', async () => {
    const a = await serve({ addr: '127.0.0.1:0', registry: new Registry() });
    await expect(startServer({ addr: `127.0.0.1:${a.port}` })).rejects.toThrow(/EADDRINUSE/);
    await get(a, '/metrics');
    await a.close();
    open.splice(open.indexOf(a), 1);
    await expect(get(a, '/metrics')).rejects.toThrow();
  });
});
