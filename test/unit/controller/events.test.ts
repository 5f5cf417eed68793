import { ApiException } from '@kubernetes/client-node';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EventRecorder,
  type EventSink,
  type EventsV1Body,
  eventName,
  NOTE_MAX_BYTES,
  truncateUtf8,
} from '../../../controller/kube/events.ts';

const rollout = {
  apiVersion: 'sluice.dev/v1alpha1',
  kind: 'Rollout',
  name: 'checkout',
  namespace: 'shop',
  uid: 'u-1',
};
const weightSet = {
  type: 'Normal' as const,
  reason: 'WeightSet',
  action: 'SetWeight',
  note: 'canary weight 10%',
};

function memorySink() {
  const created: EventsV1Body[] = [];
  const series: { name: string; count: number; at: string }[] = [];
  const state = { failCreate: false, goneOnUpdate: false };
  const sink: EventSink = {
    async create(_ns, body) {
      if (state.failCreate) throw new ApiException(403, 'forbidden', {}, {});
      created.push(body);
      return { name: body.metadata.name };
    },
    async updateSeries(_ns, name, count, at) {
      if (state.goneOnUpdate) throw new ApiException(404, 'not found', {}, {});
      series.push({ name, count, at });
    },
  };
  return { sink, created, series, state };
}

describe('truncateUtf8', () => {
  it('leaves short notes alone', () => {
    expect(truncateUtf8('hello', 10)).toBe('hello');
  });

  it('never exceeds the byte limit nor splits a character', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 800 }),
        fc.integer({ min: 4, max: 1100 }),
        (s, max) => {
          const t = truncateUtf8(s, max);
          expect(Buffer.byteLength(t, 'utf8')).toBeLessThanOrEqual(max);
          // Round trip through UTF-8 is lossless: no lone surrogates were produced.
          expect(Buffer.from(t, 'utf8').toString('utf8')).toBe(t);
          if (t !== s) expect(s.startsWith(t.slice(0, -1))).toBe(true);
        },
      ),
    );
  });

  it('cuts multi-byte text on a character boundary', () => {
    const note = 'é'.repeat(600); // 1200 bytes
    const t = truncateUtf8(note, NOTE_MAX_BYTES);
    expect(Buffer.byteLength(t)).toBeLessThanOrEqual(NOTE_MAX_BYTES);
    expect(t.endsWith('…')).toBe(true);
    expect(t.slice(0, -1)).toBe('é'.repeat(t.length - 1));
  });
});

describe('eventName', () => {
  it('is a unique DNS subdomain even for the longest object names', () => {
    const a = eventName('x'.repeat(253), 1_700_000_000_000);
    expect(a.length).toBeLessThanOrEqual(253);
    expect(a).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/);
    expect(eventName('cm', 1)).not.toBe(eventName('cm', 1));
  });
});

describe('EventRecorder', () => {
  it('writes a complete events.k8s.io/v1 Event', async () => {
    const { sink, created } = memorySink();
    const rec = new EventRecorder(sink, {
      controller: 'sluice.dev/controller',
      instance: 'pod-1',
      now: () => 0,
    });
    await rec.record(rollout, weightSet);
    expect(created).toEqual([
      {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        metadata: { name: expect.stringMatching(/^checkout\.0[0-9a-f]{6}$/), namespace: 'shop' },
        eventTime: '1970-01-01T00:00:00.000000Z',
        reportingController: 'sluice.dev/controller',
        reportingInstance: 'pod-1',
        action: 'SetWeight',
        reason: 'WeightSet',
        note: 'canary weight 10%',
        type: 'Normal',
        regarding: rollout,
      },
    ]);
  });

  it('truncates an over-long note to 1 KB', async () => {
    const { sink, created } = memorySink();
    const rec = new EventRecorder(sink, { controller: 'sluice.dev/controller', instance: 'i' });
    await rec.record(rollout, { ...weightSet, note: 'x'.repeat(5000) });
    expect(Buffer.byteLength(created[0]!.note)).toBeLessThanOrEqual(NOTE_MAX_BYTES);
  });

  it('aggregates repeats within the window into a series, and starts afresh after it', async () => {
    let now = 1_000_000;
    const { sink, created, series } = memorySink();
    const rec = new EventRecorder(sink, {
      controller: 'sluice.dev/controller',
      instance: 'i',
      aggregateWindowMs: 60_000,
      now: () => now,
    });
    await rec.record(rollout, weightSet);
    now += 10_000;
    await rec.record(rollout, weightSet);
    now += 50_000;
    await rec.record(rollout, weightSet);
    expect(created).toHaveLength(1);
    expect(series.map((s) => [s.name, s.count])).toEqual([
      [created[0]!.metadata.name, 2],
      [created[0]!.metadata.name, 3],
    ]);
    // A different note is a different event.
    await rec.record(rollout, { ...weightSet, note: 'canary weight 20%' });
    expect(created).toHaveLength(2);
    // Quiet for longer than the window (counted from the last repeat): a new Event.
    now += 60_000;
    await rec.record(rollout, weightSet);
    expect(created).toHaveLength(3);
  });

  it('serialises concurrent repeats so the first create names the series', async () => {
    const { sink, created, series } = memorySink();
    const rec = new EventRecorder(sink, { controller: 'sluice.dev/controller', instance: 'i' });
    await Promise.all([
      rec.record(rollout, weightSet),
      rec.record(rollout, weightSet),
      rec.record(rollout, weightSet),
    ]);
    expect(created).toHaveLength(1);
    expect(series.map((s) => s.count)).toEqual([2, 3]);
  });

  it('creates a new Event when the aggregated one has gone', async () => {
    const { sink, created, state } = memorySink();
    const rec = new EventRecorder(sink, { controller: 'sluice.dev/controller', instance: 'i' });
    await rec.record(rollout, weightSet);
    state.goneOnUpdate = true;
    await rec.record(rollout, weightSet);
    expect(created).toHaveLength(2);
  });

  it('logs failures and never throws', async () => {
    const { sink, state } = memorySink();
    const warnings: object[] = [];
    const rec = new EventRecorder(sink, {
      controller: 'sluice.dev/controller',
      instance: 'i',
      logger: { warn: (o) => warnings.push(o) },
    });
    state.failCreate = true;
    await expect(rec.record(rollout, weightSet)).resolves.toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ reason: 'WeightSet', regarding: 'Rollout/shop/checkout' });
  });

  it('bounds the number of remembered series', async () => {
    const { sink } = memorySink();
    const rec = new EventRecorder(sink, {
      controller: 'sluice.dev/controller',
      instance: 'i',
      maxTracked: 10,
    });
    for (let i = 0; i < 50; i++) await rec.record({ ...rollout, name: `r${i}` }, weightSet);
    expect(rec.tracked()).toBe(10);
  });

  it('files events about cluster-scoped objects in the default namespace', async () => {
    const { sink, created } = memorySink();
    const rec = new EventRecorder(sink, { controller: 'sluice.dev/controller', instance: 'i' });
    await rec.record(
      { apiVersion: 'sluice.dev/v1alpha1', kind: 'ClusterAnalysisTemplate', name: 't' },
      weightSet,
    );
    expect(created[0]!.metadata.namespace).toBe('default');
  });
});
