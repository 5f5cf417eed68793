import { type BackoffOptions, KeyedBackoff } from './backoff.ts';

/** A failure that retrying cannot fix (invalid spec, missing permission by design): logged, not retried. */
export class TerminalError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TerminalError';
  }
}

export interface ReconcileResult {
  /** Process the key again after this long even if nothing changes (pause deadlines, analysis intervals). */
  requeueAfterMs?: number;
}

// Promise<void> admitted so that a handler with nothing to requeue can simply return.
export type QueueHandler = (key: string) => Promise<ReconcileResult | undefined> | Promise<void>;

export interface WorkQueueOptions {
  workers?: number;
  /** Per-key retry backoff after a thrown error; defaults to 5 ms doubling up to 5 min. */
  backoff?: BackoffOptions;
  /** Told about every failure; `retryInMs` is undefined for terminal errors. */
  onError?: (key: string, err: unknown, retryInMs: number | undefined) => void;
  /** Told whenever the number of keys waiting to be processed changes (for a gauge). */
  onDepth?: (depth: number) => void;
}

const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 5, capMs: 5 * 60_000 };

/**
 * A keyed work queue with client-go's guarantees:
 * - a key waiting in the queue is there once, however often it is added;
 * - a key is never handed to two workers at once; added while being processed, it is
 *   processed once more afterwards (so no change is lost);
 * - delayed adds keep the earliest deadline per key, on exact timers;
 * - a failing key retries with per-key exponential backoff, reset by a success.
 */
export class WorkQueue {
  /** Keys whose moment has come (a deadline, a gate's verdict): served before `ready`. */
  private readonly readyUrgent: string[] = [];
  private readonly ready: string[] = [];
  /** Dirty keys that asked to be urgent while being processed: re-queued at the front. */
  private readonly urgent = new Set<string>();
  /** Keys that need processing: in `ready`, or re-added while in `processing`. */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly delayed = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly backoff: KeyedBackoff;
  private readonly workers: number;
  private stopping = false;
  private lastDepth = 0;

  constructor(
    private readonly handler: QueueHandler,
    private readonly opts: WorkQueueOptions = {},
  ) {
    this.workers = Math.max(1, opts.workers ?? 1);
    this.backoff = new KeyedBackoff(opts.backoff ?? DEFAULT_BACKOFF);
  }

  /**
   * `urgent` puts the key ahead of every non-urgent one. Most adds are informer events, many of
   * them the echo of our own writes; a pause deadline or a failed gate must not wait behind a
   * thousand of those (bench/scale: a rollback queued behind ~100 keys took 1.4 s).
   */
  add(key: string, urgent = false): void {
    if (this.stopping) return;
    if (this.dirty.has(key)) {
      if (urgent) this.promote(key);
      return;
    }
    this.dirty.add(key);
    // The worker holding it will put it back when it finishes.
    if (this.processing.has(key)) {
      if (urgent) this.urgent.add(key);
      return;
    }
    (urgent ? this.readyUrgent : this.ready).push(key);
    this.depthChanged();
    this.pump();
  }

  /** A key already waiting becomes urgent: moved to the urgent line, or marked if in a worker. */
  private promote(key: string): void {
    if (this.processing.has(key)) {
      this.urgent.add(key);
      return;
    }
    const at = this.ready.indexOf(key);
    if (at < 0) return; // already urgent
    this.ready.splice(at, 1);
    this.readyUrgent.push(key);
  }

  /** Deadline-driven: the key is urgent when its time comes, unless `urgent` is false (retries). */
  addAfter(key: string, ms: number, urgent = true): void {
    if (this.stopping) return;
    if (ms <= 0) {
      this.add(key, urgent);
      return;
    }
    const at = Date.now() + ms;
    const existing = this.delayed.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key, urgent);
    }, ms);
    this.delayed.set(key, { at, timer });
  }

  /** Keys waiting for a worker (not counting those being processed or delayed). */
  depth(): number {
    return this.readyUrgent.length + this.ready.length;
  }

  /** Keys with a pending delayed add; for tests and diagnostics. */
  pendingDelayed(): number {
    return this.delayed.size;
  }

  isProcessing(key: string): boolean {
    return this.processing.has(key);
  }

  /** Stops taking work, drops what is waiting, and resolves once in-flight handlers have finished. */
  async shutdown(): Promise<void> {
    this.stopping = true;
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    this.readyUrgent.length = 0;
    this.ready.length = 0;
    this.urgent.clear();
    this.dirty.clear();
    this.depthChanged();
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private pump(): void {
    while (!this.stopping && this.processing.size < this.workers && this.depth() > 0) {
      const key = (this.readyUrgent.shift() ?? this.ready.shift())!;
      this.dirty.delete(key);
      this.processing.add(key);
      this.depthChanged();
      const p = this.run(key);
      this.inFlight.add(p);
      void p.finally(() => this.inFlight.delete(p));
    }
  }

  private async run(key: string): Promise<void> {
    try {
      let result: ReconcileResult | undefined;
      let failure: { err: unknown } | undefined;
      try {
        result = (await this.handler(key)) ?? undefined;
      } catch (err) {
        failure = { err };
      }
      if (this.stopping) return;
      if (!failure) {
        this.backoff.forget(key);
        const after = result?.requeueAfterMs;
        if (after !== undefined && after >= 0) this.addAfter(key, after);
      } else if (failure.err instanceof TerminalError) {
        this.backoff.forget(key);
        this.report(key, failure.err, undefined);
      } else {
        const delay = this.backoff.next(key);
        this.report(key, failure.err, delay);
        this.addAfter(key, delay, false);
      }
    } finally {
      this.processing.delete(key);
      if (!this.stopping && this.dirty.has(key)) {
        (this.urgent.has(key) ? this.readyUrgent : this.ready).push(key);
        this.urgent.delete(key);
        this.depthChanged();
      }
      this.pump();
    }
  }

  private report(key: string, err: unknown, retryInMs: number | undefined): void {
    try {
      this.opts.onError?.(key, err, retryInMs);
    } catch {
      // A broken logger must not wedge the queue.
    }
  }

  private depthChanged(): void {
    const d = this.depth();
    if (d === this.lastDepth) return;
    this.lastDepth = d;
    this.opts.onDepth?.(d);
  }
}
