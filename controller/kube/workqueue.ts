import { type BackoffOptions, KeyedBackoff } from './backoff.ts';

export interface ReconcileResult {
  /** Process the key again after this long even if nothing changes (pause deadlines, analysis intervals). */
  requeueAfterMs?: number;
  /** The line the requeued key waits in when its time comes; default `due`. */
  requeuePriority?: Priority;
}

// Promise<void> admitted so that a handler with nothing to requeue can simply return.
export type QueueHandler = (key: string) => Promise<ReconcileResult | undefined> | Promise<void>;

export interface WorkQueueOptions {
  workers?: number;
  /** Per-key retry backoff after a thrown error; defaults to 5 ms doubling up to 5 min. */
  backoff?: BackoffOptions;
  /** Told about every failure; `retryInMs` is undefined for terminal errors. */
  onError?: (key: string, err: unknown, retryInMs: number) => void;
  /** Told what the queue does, for client-go's workqueue metrics. */
  observer?: QueueObserver;
  /**
   * At most `max` keys of one group (e.g. one namespace) processed at once; the others wait in
   * line while keys of other groups are served. Off when absent.
   */
  perGroup?: { groupOf: (key: string) => string; max: number };
}

/**
 * What client-go's workqueue metrics count, so a dashboard built for a client-go controller
 * reads this one: adds, depth, time waiting in line, time in the handler, retries.
 */
export interface QueueObserver {
  added(): void;
  /** Keys waiting for a worker, whenever it changes. */
  depth(n: number): void;
  /** A key left its line for a worker after waiting this long. */
  waited(seconds: number): void;
  /** A handler finished (or threw) after this long. */
  worked(seconds: number): void;
  /** A failed key was put back for another try. */
  retried(): void;
}

const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 5, capMs: 5 * 60_000 };

/**
 * Which line a key waits in, served in this order: `critical` (a gate failed: traffic must leave
 * the canary), `due` (a pause deadline or a gate's other verdicts: a step is owed), `routine`
 * (informer events, most of them the echo of our own writes).
 */
export type Priority = 'critical' | 'due' | 'routine';
const SERVED_FIRST: readonly Priority[] = ['critical', 'due', 'routine'];
const rank = (p: Priority) => SERVED_FIRST.length - SERVED_FIRST.indexOf(p);

/**
 * A keyed work queue with client-go's guarantees:
 * - a key waiting in the queue is there once, however often it is added;
 * - a key is never handed to two workers at once; added while being processed, it is
 *   processed once more afterwards (so no change is lost);
 * - delayed adds keep the earliest deadline per key, on exact timers;
 * - a failing key retries with per-key exponential backoff, reset by a success;
 * and one of its own: keys wait in priority lines, and a key added again at a higher
 * priority moves up.
 */
export class WorkQueue {
  private readonly lines: Record<Priority, string[]> = { critical: [], due: [], routine: [] };
  /** The line of every key that needs processing: waiting in it, or re-added while in `processing`. */
  private readonly dirty = new Map<string, Priority>();
  private readonly processing = new Set<string>();
  /** Keys being processed per group, when `perGroup` is set. */
  private readonly busy = new Map<string, number>();
  private readonly delayed = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly backoff: KeyedBackoff;
  private readonly workers: number;
  private stopping = false;
  private lastDepth = 0;
  /** When each waiting key entered its line (for `waited`). */
  private readonly since = new Map<string, number>();

  constructor(
    private readonly handler: QueueHandler,
    private readonly opts: WorkQueueOptions = {},
  ) {
    this.workers = Math.max(1, opts.workers ?? 1);
    this.backoff = new KeyedBackoff(opts.backoff ?? DEFAULT_BACKOFF);
  }

  /**
   * A pause deadline or a failed gate must not wait behind a thousand informer echoes
   * (bench/scale: a rollback queued behind ~100 keys took 1.4 s), nor a rollback behind a
   * burst of a thousand pause deadlines that fell due together.
   */
  add(key: string, priority: Priority = 'routine'): void {
    if (this.stopping) return;
    const waiting = this.dirty.get(key);
    if (waiting !== undefined) {
      if (rank(priority) > rank(waiting)) this.raise(key, waiting, priority);
      return;
    }
    this.dirty.set(key, priority);
    this.opts.observer?.added();
    // The worker holding it will put it back, in this line, when it finishes.
    if (this.processing.has(key)) return;
    this.enter(key, priority);
    this.depthChanged();
    this.pump();
  }

  private raise(key: string, from: Priority, to: Priority): void {
    this.dirty.set(key, to);
    if (this.processing.has(key)) return;
    const line = this.lines[from];
    line.splice(line.indexOf(key), 1);
    this.lines[to].push(key);
  }

  private enter(key: string, line: Priority): void {
    this.lines[line].push(key);
    if (this.opts.observer) this.since.set(key, performance.now());
  }

  /** Deadline-driven: the key is `due` when its time comes, unless told otherwise (retries are routine). */
  addAfter(key: string, ms: number, priority: Priority = 'due'): void {
    if (this.stopping) return;
    if (ms <= 0) {
      this.add(key, priority);
      return;
    }
    const at = Date.now() + ms;
    const existing = this.delayed.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key, priority);
    }, ms);
    this.delayed.set(key, { at, timer });
  }

  /** Keys waiting for a worker (not counting those being processed or delayed). */
  depth(): number {
    return this.lines.critical.length + this.lines.due.length + this.lines.routine.length;
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
    for (const line of Object.values(this.lines)) line.length = 0;
    this.dirty.clear();
    this.since.clear();
    this.depthChanged();
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private pump(): void {
    while (!this.stopping && this.processing.size < this.workers && this.depth() > 0) {
      const key = this.next();
      if (key === undefined) return;
      this.dirty.delete(key);
      const since = this.since.get(key);
      if (since !== undefined) {
        this.since.delete(key);
        this.opts.observer?.waited((performance.now() - since) / 1000);
      }
      this.processing.add(key);
      this.hold(key, 1);
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
      const started = performance.now();
      try {
        result = (await this.handler(key)) ?? undefined;
      } catch (err) {
        failure = { err };
      }
      this.opts.observer?.worked((performance.now() - started) / 1000);
      if (this.stopping) return;
      if (!failure) {
        this.backoff.forget(key);
        const after = result?.requeueAfterMs;
        if (after !== undefined && after >= 0) this.addAfter(key, after, result?.requeuePriority);
      } else {
        const delay = this.backoff.next(key);
        this.report(key, failure.err, delay);
        this.opts.observer?.retried();
        this.addAfter(key, delay, 'routine');
      }
    } finally {
      this.processing.delete(key);
      this.hold(key, -1);
      const again = this.dirty.get(key);
      if (!this.stopping && again !== undefined) {
        this.enter(key, again);
        this.depthChanged();
      }
      this.pump();
    }
  }

  /**
   * The first key in line order whose group has room. Without groups, the head of the first
   * non-empty line; with them, a scan past keys whose group is full (the runner's queue holds
   * hundreds of runs, not the Rollout queue's thousands, so the scan costs nothing measurable).
   */
  private next(): string | undefined {
    const groups = this.opts.perGroup;
    for (const p of SERVED_FIRST) {
      const line = this.lines[p];
      if (!groups) {
        if (line.length) return line.shift();
        continue;
      }
      const i = line.findIndex((k) => (this.busy.get(groups.groupOf(k)) ?? 0) < groups.max);
      if (i >= 0) return line.splice(i, 1)[0];
    }
    return undefined;
  }

  private hold(key: string, delta: 1 | -1): void {
    const groups = this.opts.perGroup;
    if (!groups) return;
    const g = groups.groupOf(key);
    const n = (this.busy.get(g) ?? 0) + delta;
    if (n > 0) this.busy.set(g, n);
    else this.busy.delete(g);
  }

  private report(key: string, err: unknown, retryInMs: number): void {
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
    this.opts.observer?.depth(d);
  }
}
