// The runner waits for the canary's first traffic before a gate's first look, and what it
// observes of traffic comes from the controller's caches (controller/analysis/canary-traffic.ts). The
// caches and the provider are in-memory here: this is about the runner's timing and the reading
// of cached objects; the whole, with the real API server and Prometheus, is
// test/sandbox/analysis-first-traffic.test.ts.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { type MetricProvider, ProviderPool } from '../../../analysis/provider.ts';
import type { TrafficSeen } from '../../../analysis/traffic-start.ts';
import { canaryTraffic } from '../../../controller/analysis/canary-traffic.ts';
import { AnalysisRunner } from '../../../controller/analysis/runner.ts';
import type { AnalysisWriter } from '../../../controller/analysis/writer.ts';
import { REVISION_LABEL } from '../../../controller/revision.ts';
import type { VirtualService } from '../../../controller/traffic/virtual-service.ts';
import type { AnalysisRun, AnalysisRunStatus, Rollout } from '../../../crds/index.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const iso = (t: number) => new Date(t).toISOString();

const newRun = (): AnalysisRun => ({
  apiVersion: 'sluice.dev/v1alpha1',
  kind: 'AnalysisRun',
  metadata: { namespace: 'shop', name: 'web-abc-bg-a0', creationTimestamp: iso(T0) },
  spec: {
    rollout: 'web',
    revision: 'abc',
    gate: 'background',
    metrics: [
      {
        name: 'success-rate',
        interval: '10s',
        initialDelay: '10s',
        successCondition: 'result >= 99',
        provider: { prometheus: { query: 'rate' } },
      },
    ],
  },
});

function setup(deadlineMs = 600_000) {
  let now = T0;
  let seen: TrafficSeen = { readyPods: 2, weight: 0, routedBy: 'VirtualService web' };
  const queries: number[] = [];
  const changed: string[] = [];
  let run = newRun();
  const provider = (address: string): MetricProvider => ({
    address,
    query: async () => {
      queries.push(now);
      return { kind: 'value', value: 100 };
    },
    series: async () => [],
  });
  const writer = {
    writeRunStatus: async (r: AnalysisRun, status: AnalysisRunStatus) => ({ ...r, status }),
    deleteRun: async () => undefined,
    signalResume: async () => undefined,
  } as unknown as AnalysisWriter;
  const runner = new AnalysisRunner({
    store: {
      run: () => run,
      runs: () => [run],
      all: () => [run],
      remember: (r) => {
        run = r;
      },
      rollout: () => undefined,
      traffic: () => ({ seen, deadlineMs }),
    },
    writer,
    providers: new ProviderPool((o) => provider(o.address)),
    prometheusUrl: 'http://prometheus.monitoring:9090',
    logger: pino({ level: 'silent' }),
    gateChanged: (_ns, _rollout, phase) => changed.push(phase ?? ''),
    now: () => now,
  });
  return {
    pass: () => runner.process('shop/web-abc-bg-a0'),
    at: (t: number) => {
      now = t;
    },
    see: (s: TrafficSeen) => {
      seen = s;
    },
    run: () => run,
    queries,
    changed,
  };
}

describe('the runner waits for the canary’s first traffic', () => {
  it('takes no look while the canary has weight 0, says so, then looks initialDelay after the traffic began', async () => {
    const t = setup();
    // Well past the run's start + initialDelay, where the old clock would have looked.
    t.at(T0 + 30_000);
    expect(await t.pass()).toEqual({ requeueAfterMs: 1000 });
    expect(t.queries).toEqual([]);
    expect(t.run().status?.phase).toBe('Pending');
    expect(t.run().status?.message).toBe('waiting for canary traffic (weight 0 in VirtualService web)');
    expect(t.run().status?.trafficSince).toBeUndefined();

    // The weight arrives: the moment is recorded, and the first look is due initialDelay later.
    t.see({ readyPods: 2, weight: 20, routedBy: 'VirtualService web' });
    t.at(T0 + 31_000);
    expect(await t.pass()).toEqual({ requeueAfterMs: 10_000 });
    expect(t.run().status?.trafficSince).toBe(iso(T0 + 31_000));
    expect(t.queries).toEqual([]);

    t.at(T0 + 41_000);
    await t.pass();
    expect(t.queries).toEqual([T0 + 41_000]);
    expect(t.run().status?.metricResults?.[0]?.measurements).toHaveLength(1);
    expect(t.run().status?.metricResults?.[0]?.inconclusive).toBe(0);
  });

  it('a canary that never gets traffic ends the run at the progress deadline, Inconclusive with reason NoTraffic and no look taken', async () => {
    const t = setup(60_000);
    t.see({ readyPods: 0, weight: 0, routedBy: 'VirtualService web' });
    t.at(T0 + 59_500);
    expect(await t.pass()).toEqual({ requeueAfterMs: 500 });
    t.at(T0 + 60_000);
    expect(await t.pass()).toBeUndefined();
    const status = t.run().status;
    expect(status?.phase).toBe('Inconclusive');
    expect(status?.reason).toBe('NoTraffic');
    expect(status?.message).toMatch(
      /no canary traffic within 60s \(progressDeadlineSeconds\).*weight 0.*no ready pods/,
    );
    expect(status?.metricResults?.[0]?.measurements).toEqual([]);
    expect(t.queries).toEqual([]);
    expect(t.changed).toEqual(['Pending', 'Inconclusive']);
  });
});

describe('what the controller sees of a canary’s traffic', () => {
  const rollout = (extra: { weight?: number; blueGreen?: boolean; steps?: unknown[] } = {}) =>
    ({
      apiVersion: 'sluice.dev/v1alpha1',
      kind: 'Rollout',
      metadata: { name: 'web', namespace: 'shop', uid: 'u1' },
      spec: {
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'a', image: 'x' }] } },
        progressDeadlineSeconds: 120,
        strategy: extra.blueGreen
          ? { blueGreen: { activeService: 'web-active', previewService: 'web-preview' } }
          : {
              canary: {
                stableService: 'web-stable',
                canaryService: 'web-canary',
                trafficRouting: { istio: { virtualService: { name: 'web', routes: ['primary'] } } },
                steps: extra.steps ?? [],
              },
            },
      },
      status: { canary: { weight: extra.weight ?? 0 } },
    }) as unknown as Rollout;
  const vs = (weight: number): VirtualService =>
    ({
      metadata: { name: 'web', namespace: 'shop' },
      spec: {
        hosts: ['web'],
        http: [
          {
            name: 'primary',
            route: [
              { destination: { host: 'web-stable' }, weight: 100 - weight },
              { destination: { host: 'web-canary' }, weight },
            ],
          },
        ],
      },
    }) as unknown as VirtualService;
  const world = (r: Rollout, vsWeight: number, ready: number, activeSelects = 'old') => ({
    rollout: () => r,
    replicaSets: () => [
      { metadata: { labels: { [REVISION_LABEL]: 'abc' } }, status: { replicas: 2, readyReplicas: ready } },
    ],
    virtualService: () => vs(vsWeight),
    gatewayRoute: () => undefined,
    service: () => ({ spec: { selector: { [REVISION_LABEL]: activeSelects } } }),
  });

  it('a canary: the weight counts as far as Sluice set it, with the revision’s ready pods', () => {
    expect(canaryTraffic(world(rollout({ weight: 20 }), 20, 2), newRun())).toEqual({
      seen: { readyPods: 2, weight: 20, routedBy: 'VirtualService web' },
      deadlineMs: 120_000,
    });
    // Someone set 50 by hand while Sluice says 0: the clock does not start on that, and the
    // weight is still to come from the release's own steps (no deadline on that wait).
    expect(canaryTraffic(world(rollout({ weight: 0 }), 50, 2), newRun())?.seen).toEqual({
      readyPods: 2,
      weight: 0,
      routedBy: 'VirtualService web',
      weightPlanned: true,
    });
    expect(canaryTraffic(world(rollout({ weight: 20 }), 20, 0), newRun())?.seen.readyPods).toBe(0);
  });

  it('a step gate at a step the spec runs at weight 0 checks before traffic: ready pods suffice', () => {
    const steps = [{ analysis: {} }, { setWeight: 20 }, { analysis: {} }];
    const step = (stepIndex: number) => ({
      ...newRun(),
      spec: { ...newRun().spec, gate: 'step' as const, stepIndex },
    });
    expect(canaryTraffic(world(rollout({ steps }), 0, 2), step(0))?.seen).toEqual({ readyPods: 2 });
    expect(canaryTraffic(world(rollout({ steps, weight: 20 }), 20, 2), step(2))?.seen).toEqual({
      readyPods: 2,
      weight: 20,
      routedBy: 'VirtualService web',
    });
  });

  it('a header or mirror route in place gives the canary requests at weight 0: ready pods suffice', () => {
    const steps = [{ setMirrorRoute: { name: 'shadow', match: [{ path: { prefix: '/' } }] } }, { pause: {} }];
    const r = rollout({ steps });
    r.status = { ...r.status, stableRevision: 'old', currentRevision: 'abc', currentStepIndex: 1 };
    expect(canaryTraffic(world(r, 0, 2), newRun())?.seen).toEqual({ readyPods: 2 });
    // Before the step is taken the route is not there yet: the weight is still waited for.
    const before = rollout({ steps });
    before.status = { ...before.status, stableRevision: 'old', currentRevision: 'abc', currentStepIndex: 0 };
    before.metadata.uid = 'u2'; // a fresh object for the parse cache
    expect(canaryTraffic(world(before, 0, 2), newRun())?.seen.weightPlanned).toBe(true);
  });

  it('blue-green: the preview needs ready pods only; after the switch the active Service must select it', () => {
    const pre = { ...newRun(), spec: { ...newRun().spec, gate: 'prePromotion' as const } };
    const post = { ...newRun(), spec: { ...newRun().spec, gate: 'postPromotion' as const } };
    expect(canaryTraffic(world(rollout({ blueGreen: true }), 0, 1), pre)?.seen).toEqual({ readyPods: 1 });
    expect(canaryTraffic(world(rollout({ blueGreen: true }), 0, 1), post)?.seen).toEqual({
      readyPods: 1,
      selected: false,
    });
    expect(canaryTraffic(world(rollout({ blueGreen: true }), 0, 1, 'abc'), post)?.seen.selected).toBe(true);
  });

  it('no Rollout: nothing to observe, and the run counts from its start', () => {
    const empty = { ...world(rollout(), 0, 0), rollout: () => undefined };
    expect(canaryTraffic(empty, newRun())).toBeUndefined();
  });
});
