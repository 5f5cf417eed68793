import { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { requestJson } from '../../controller/kube/client.ts';
import { EventRecorder, kubeEventSink, NOTE_MAX_BYTES } from '../../controller/kube/events.ts';
import { sandbox } from '../harness/env.ts';
import { kube } from '../harness/kube.ts';
import { freshNamespace } from '../harness/namespace.ts';

// Events written by EventRecorder must pass the API server's events.k8s.io/v1 validation
// (eventTime with reportingController/Instance and action; note ≤ 1 KB) and aggregate.

function kc(): KubeConfig {
  const k = new KubeConfig();
  k.loadFromFile(sandbox().KUBECONFIG);
  return k;
}

interface RawEvent {
  reason?: string;
  note?: string;
  action?: string;
  type?: string;
  reportingController?: string;
  reportingInstance?: string;
  regarding?: { kind?: string; name?: string; uid?: string };
  series?: { count?: number; lastObservedTime?: string };
}

async function events(namespace: string): Promise<RawEvent[]> {
  const list = await requestJson<{ items: RawEvent[] }>(kc(), {
    method: 'GET',
    path: `/apis/events.k8s.io/v1/namespaces/${namespace}/events`,
  });
  return list.items;
}

describe('EventRecorder on the real API server', () => {
  it('writes events that validate, aggregates repeats into a series, and truncates long notes', async () => {
    const ns = await freshNamespace('ev');
    const target = await kube().core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'cm' } },
    });
    const regarding = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      name: 'cm',
      namespace: ns,
      uid: target.metadata!.uid!,
    };
    const warnings: object[] = [];
    const rec = new EventRecorder(kubeEventSink(kc()), {
      controller: 'sluice.dev/controller',
      instance: 'test-instance',
      logger: { warn: (o) => warnings.push(o) },
    });

    await rec.record(regarding, {
      type: 'Normal',
      reason: 'WeightSet',
      action: 'SetWeight',
      note: 'canary 10%',
    });
    await rec.record(regarding, {
      type: 'Normal',
      reason: 'WeightSet',
      action: 'SetWeight',
      note: 'canary 10%',
    });
    await rec.record(regarding, {
      type: 'Normal',
      reason: 'WeightSet',
      action: 'SetWeight',
      note: 'canary 10%',
    });
    const long = `Analysis failed: ${'résumé ✓ '.repeat(400)}`;
    await rec.record(regarding, { type: 'Warning', reason: 'AnalysisFailed', action: 'Analyze', note: long });
    expect(JSON.stringify(warnings)).toBe('[]');

    const got = await events(ns);
    const weight = got.filter((e) => e.reason === 'WeightSet');
    expect(weight).toHaveLength(1);
    expect(weight[0]).toMatchObject({
      type: 'Normal',
      action: 'SetWeight',
      note: 'canary 10%',
      reportingController: 'sluice.dev/controller',
      reportingInstance: 'test-instance',
      regarding: { kind: 'ConfigMap', name: 'cm', uid: regarding.uid },
      series: { count: 3 },
    });
    const failed = got.find((e) => e.reason === 'AnalysisFailed');
    expect(failed?.type).toBe('Warning');
    expect(Buffer.byteLength(failed!.note!)).toBeLessThanOrEqual(NOTE_MAX_BYTES);
    expect(long.startsWith(failed!.note!.slice(0, -1))).toBe(true);
  });

  it('logs, and does not throw, when the API server refuses the event', async () => {
    const warnings: object[] = [];
    const rec = new EventRecorder(kubeEventSink(kc()), {
      controller: 'sluice.dev/controller',
      instance: 'i',
      logger: { warn: (o) => warnings.push(o) },
    });
    await rec.record(
      { apiVersion: 'v1', kind: 'ConfigMap', name: 'x', namespace: 'no-such-namespace-here' },
      { type: 'Normal', reason: 'R', action: 'A', note: 'n' },
    );
    expect(warnings).toHaveLength(1);
  });
});
