import { randomBytes } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { errorMessage, isNotFound, mergePatch, requestJson, resourcePath } from './client.ts';
import { microTime } from './leader.ts';

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
}

export interface EventInfo {
  type: 'Normal' | 'Warning';
  /** Short CamelCase why, e.g. `WeightSet`. */
  reason: string;
  /** What the controller did or failed to do, e.g. `SetWeight`. */
  action: string;
  /** For humans: what and why. */
  note: string;
}

export interface EventsV1Body {
  apiVersion: 'events.k8s.io/v1';
  kind: 'Event';
  metadata: { name: string; namespace: string };
  eventTime: string;
  reportingController: string;
  reportingInstance: string;
  action: string;
  reason: string;
  note: string;
  type: 'Normal' | 'Warning';
  regarding: ObjectRef;
}

/** Where events go; the real one talks to events.k8s.io/v1, tests can record. */
export interface EventSink {
  create(namespace: string, body: EventsV1Body): Promise<{ name: string }>;
  /** Bumps the series of an existing event; throws a 404 if it no longer exists. */
  updateSeries(namespace: string, name: string, count: number, lastObservedTime: string): Promise<void>;
}

export function kubeEventSink(kc: KubeConfig): EventSink {
  const path = (namespace: string, name?: string) =>
    resourcePath({ group: 'events.k8s.io', version: 'v1', plural: 'events', namespace, name });
  return {
    async create(namespace, body) {
      const created = await requestJson<{ metadata?: { name?: string } }>(kc, {
        method: 'POST',
        path: path(namespace),
        body,
      });
      return { name: created.metadata?.name ?? '' };
    },
    async updateSeries(namespace, name, count, lastObservedTime) {
      await mergePatch(kc, path(namespace, name), { series: { count, lastObservedTime } });
    },
  };
}

// API server validation limits for events.k8s.io/v1 (bytes for note, characters otherwise).
export const NOTE_MAX_BYTES = 1024;
const REASON_MAX = 128;
const ACTION_MAX = 128;
const INSTANCE_MAX = 128;

/**
 * `<object>.<hex time><hex random>`, as client-go names them. Not generateName: current API
 * servers validate the prefix itself as a DNS subdomain, and `name.` is not one.
 */
export function eventName(objectName: string, now: number): string {
  const suffix = `${now.toString(16)}${randomBytes(3).toString('hex')}`;
  return `${objectName.slice(0, 253 - suffix.length - 1)}.${suffix}`;
}

/** Cuts `s` to at most `maxBytes` of UTF-8, never inside a character, marking the cut with an ellipsis. */
export function truncateUtf8(s: string, maxBytes: number): string {
  if (Buffer.byteLength(s, 'utf8') <= maxBytes) return s;
  const ellipsis = '…';
  const budget = maxBytes - Buffer.byteLength(ellipsis, 'utf8');
  let bytes = 0;
  let out = '';
  // Iterating by code point keeps surrogate pairs together.
  for (const ch of s) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (bytes + n > budget) break;
    bytes += n;
    out += ch;
  }
  return out + ellipsis;
}

export interface RecorderLogger {
  warn(obj: object, msg: string): void;
}

export interface EventRecorderOptions {
  /** reportingController; must look like a qualified name, e.g. `sluice.dev/controller`. */
  controller: string;
  /** reportingInstance, e.g. the pod name. */
  instance: string;
  /** Identical events within this window bump a series instead of creating new Events; default 6 min (as client-go). */
  aggregateWindowMs?: number;
  /** Bound on remembered series, so a controller watching many objects cannot grow without limit. */
  maxTracked?: number;
  now?: () => number;
  logger?: RecorderLogger;
}

interface Series {
  namespace: string;
  name: string;
  count: number;
  lastAt: number;
}

/**
 * Records events.k8s.io/v1 Events. Recording never throws and never blocks a reconcile on
 * the API server's opinion: a lost Event is a pity, a failed release because of one is a bug.
 * Repeats of the same event for the same object within the window become one Event whose
 * series count grows, so a reconcile loop that keeps hitting the same problem does not
 * flood `kubectl get events`.
 */
export class EventRecorder {
  private readonly series = new Map<string, Series>();
  /** Per-key chain so that a repeat waits for the first create to learn the Event's name. */
  private readonly pending = new Map<string, Promise<void>>();
  private readonly windowMs: number;
  private readonly maxTracked: number;
  private readonly now: () => number;

  constructor(
    private readonly sink: EventSink,
    private readonly opts: EventRecorderOptions,
  ) {
    this.windowMs = opts.aggregateWindowMs ?? 6 * 60_000;
    this.maxTracked = opts.maxTracked ?? 4096;
    this.now = opts.now ?? Date.now;
  }

  /** Resolves when the Event was written or the failure logged; never rejects. */
  record(regarding: ObjectRef, info: EventInfo): Promise<void> {
    const event = this.normalise(info);
    const key = JSON.stringify([
      regarding.apiVersion,
      regarding.kind,
      regarding.namespace ?? '',
      regarding.name,
      regarding.uid ?? '',
      event.type,
      event.reason,
      event.action,
      event.note,
    ]);
    const prev = this.pending.get(key) ?? Promise.resolve();
    const next = prev.then(() => this.write(key, regarding, event));
    this.pending.set(key, next);
    void next.finally(() => {
      if (this.pending.get(key) === next) this.pending.delete(key);
    });
    return next;
  }

  private normalise(info: EventInfo): EventInfo {
    return {
      type: info.type,
      reason: info.reason.slice(0, REASON_MAX),
      action: info.action.slice(0, ACTION_MAX),
      note: truncateUtf8(info.note, NOTE_MAX_BYTES),
    };
  }

  private async write(key: string, regarding: ObjectRef, event: EventInfo): Promise<void> {
    const now = this.now();
    const namespace = regarding.namespace || 'default';
    try {
      const known = this.series.get(key);
      if (known && now - known.lastAt < this.windowMs) {
        try {
          await this.sink.updateSeries(known.namespace, known.name, known.count + 1, microTime(now));
          known.count++;
          known.lastAt = now;
          // Re-insert to keep the Map in least-recently-used order for eviction.
          this.series.delete(key);
          this.series.set(key, known);
          return;
        } catch (err) {
          // The Event expired (TTL) or was deleted: start a new one below.
          if (!isNotFound(err)) throw err;
        }
      }
      const body: EventsV1Body = {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        metadata: { name: eventName(regarding.name, now), namespace },
        eventTime: microTime(now),
        reportingController: this.opts.controller,
        reportingInstance: this.opts.instance.slice(0, INSTANCE_MAX),
        action: event.action,
        reason: event.reason,
        note: event.note,
        type: event.type,
        regarding: { ...regarding },
      };
      const { name } = await this.sink.create(namespace, body);
      this.series.delete(key);
      this.series.set(key, { namespace, name, count: 1, lastAt: now });
      this.evict(now);
    } catch (err) {
      this.opts.logger?.warn(
        {
          regarding: `${regarding.kind}/${regarding.namespace ?? ''}/${regarding.name}`,
          reason: event.reason,
          err: errorMessage(err),
        },
        'failed to record event',
      );
    }
  }

  private evict(now: number): void {
    for (const [k, s] of this.series) {
      if (this.series.size <= this.maxTracked && now - s.lastAt < this.windowMs) break;
      this.series.delete(k);
    }
  }

  /** Number of event series remembered for aggregation; for tests and diagnostics. */
  tracked(): number {
    return this.series.size;
  }
}
