import { type KubeConfig, type KubernetesObject, Watch } from '@kubernetes/client-node';
import { type BackoffOptions, backoffDelay } from './backoff.ts';
import { errorMessage, isGone, requestJson } from './client.ts';

/** `resync`: the object did not change but is announced again (after a restart or periodic re-list). */
export type ChangeType = 'add' | 'update' | 'delete' | 'resync';
export type ChangeCallback<T> = (obj: T, type: ChangeType) => void;

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/**
 * Where objects come from. The real one is a list and a watch on an API path; tests can
 * supply a scripted one to drive restarts and silences deterministically.
 */
export interface ListWatchSource<T> {
  list(): Promise<{ items: T[]; resourceVersion: string }>;
  /**
   * Starts a watch from `resourceVersion`. `onDone` is called once when it ends: without an
   * argument for a clean close, with the error otherwise. `stop()` ends it without `onDone`
   * having to be trusted (the informer ignores whatever a stopped watch says afterwards).
   */
  watch(
    resourceVersion: string,
    onEvent: (type: WatchEventType, obj: unknown) => void,
    onDone: (err?: unknown) => void,
    opts?: { timeoutSeconds?: number },
  ): Promise<{ stop(): void }>;
}

export interface KubeSourceOptions {
  labelSelector?: string;
  fieldSelector?: string;
  /**
   * Overrides the server-side watch timeout the informer asks for (see
   * ResilientInformer.watchTimeoutSeconds); tests use it to get a watch that stays silent.
   */
  watchTimeoutSeconds?: number;
}

/**
 * List and watch an API path such as `/api/v1/namespaces/x/configmaps`,
 * `/api/v1/configmaps` (all namespaces) or `/apis/sluice.dev/v1alpha1/namespaces/x/rollouts`.
 * Objects are the API server's plain JSON, in both list and watch (the generated clients
 * would turn timestamps into Dates in one and not the other).
 */
export function kubeSource<T extends KubernetesObject>(
  kc: KubeConfig,
  path: string,
  opts: KubeSourceOptions = {},
): ListWatchSource<T> {
  const watcher = new Watch(kc);
  return {
    async list() {
      const body = await requestJson<{ items?: T[]; metadata?: { resourceVersion?: string } }>(kc, {
        method: 'GET',
        path,
        query: { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector },
      });
      return { items: body.items ?? [], resourceVersion: body.metadata?.resourceVersion ?? '' };
    },
    async watch(resourceVersion, onEvent, onDone, watchOpts) {
      const ctl = await watcher.watch(
        path,
        {
          resourceVersion,
          allowWatchBookmarks: true,
          labelSelector: opts.labelSelector,
          fieldSelector: opts.fieldSelector,
          timeoutSeconds: opts.watchTimeoutSeconds ?? watchOpts?.timeoutSeconds,
        },
        (type, obj) => onEvent(type as WatchEventType, obj),
        (err) => onDone(err ?? undefined),
      );
      return { stop: () => ctl.abort() };
    },
  };
}

export interface InformerLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface InformerOptions {
  /** For logs. */
  name?: string;
  /** Full re-list and re-announce of every object; default 5 min. 0 disables. */
  resyncPeriodMs?: number;
  /** A watch that delivers nothing (not even a bookmark or a clean close) this long is restarted; default 60 s. */
  silenceTimeoutMs?: number;
  /** Delay before restarting after consecutive failures; default 500 ms doubling to 30 s, 20% jitter. */
  backoff?: BackoffOptions;
  logger?: InformerLogger;
  /** Keep every object whole, managedFields included (for tools that audit who wrote what). */
  untrimmed?: boolean;
}

const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, capMs: 30_000, jitter: 0.2 };
/** A clean close sooner than this after the watch began counts as a failure, to avoid a hot loop. */
const MIN_HEALTHY_WATCH_MS = 1000;

interface Meta {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * Drops what no reader of a cache needs and what makes up most of an object's bytes:
 * managedFields (every writer's field set) and kubectl's copy of the whole applied object. At
 * a thousand Rollouts that is most of the controller's memory. Objects arrive freshly parsed,
 * so they are trimmed in place.
 */
export function trimmed<T extends { metadata?: object }>(obj: T): T {
  const meta = obj.metadata as { managedFields?: unknown; annotations?: Record<string, string> } | undefined;
  if (!meta) return obj;
  delete meta.managedFields;
  if (meta.annotations) delete meta.annotations[LAST_APPLIED];
  return obj;
}

/**
 * One informer for every kind. client-node's own informer stops for good on an error, never
 * re-announces cached objects, and its watch timeout never fires (FIELD-NOTES), so this one
 * owns the loop: list → announce → watch, and on any error, silence or resync period,
 * list again and announce everything (unchanged objects as `resync`, vanished ones as
 * `delete`), restarting after errors with exponential backoff.
 *
 * Callbacks run synchronously inside the informer: they must only enqueue, never reconcile.
 */
export class ResilientInformer<T extends KubernetesObject> {
  private readonly cache = new Map<string, T>();
  private readonly subscribers = new Set<ChangeCallback<T>>();
  private readonly syncWaiters: (() => void)[] = [];
  private readonly opts: Required<Omit<InformerOptions, 'logger' | 'untrimmed'>> & {
    logger: InformerLogger | undefined;
  };
  private readonly trim: <O extends T>(obj: O) => O;
  private synced = false;
  private running = false;
  /** Bumped on every (re)start so that late callbacks of an abandoned watch are ignored. */
  private epoch = 0;
  private resourceVersion = '';
  private failures = 0;
  private watchHandle: { stop(): void } | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private restarts = 0;

  constructor(
    private readonly source: ListWatchSource<T>,
    opts: InformerOptions = {},
  ) {
    this.opts = {
      name: opts.name ?? 'informer',
      resyncPeriodMs: opts.resyncPeriodMs ?? 5 * 60_000,
      silenceTimeoutMs: opts.silenceTimeoutMs ?? 60_000,
      backoff: opts.backoff ?? DEFAULT_BACKOFF,
      logger: opts.logger,
    };
    this.trim = opts.untrimmed ? (obj) => obj : trimmed;
  }

  /** Begins listing and watching; returns at once. Use `waitForSync()` to wait for the first list. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.scheduleConnect(0, 'start');
  }

  async stop(): Promise<void> {
    this.running = false;
    this.epoch++;
    this.teardownWatch();
    clearTimeout(this.restartTimer);
    clearTimeout(this.resyncTimer);
  }

  /** True once the first list has been stored and announced; stays true across restarts. */
  hasSynced(): boolean {
    return this.synced;
  }

  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  list(namespace?: string): T[] {
    const all = [...this.cache.values()];
    return namespace === undefined ? all : all.filter((o) => (o.metadata?.namespace ?? '') === namespace);
  }

  /** `namespace` is '' or undefined for cluster-scoped kinds. */
  get(namespace: string | undefined, name: string): T | undefined {
    return this.cache.get(cacheKey(namespace, name));
  }

  /** Subscribes to changes; returns the unsubscribe function. */
  onChange(cb: ChangeCallback<T>): () => void {
    this.subscribers.add(cb);
    return () => this.subscribers.delete(cb);
  }

  /** How many times the loop has (re)connected after the first; for metrics and tests. */
  restartCount(): number {
    return this.restarts;
  }

  private scheduleConnect(delayMs: number, reason: string): void {
    clearTimeout(this.restartTimer);
    const epoch = ++this.epoch;
    // Stale schedules are dropped by the epoch check in connect(), so a microtask needs no cancelling.
    if (delayMs <= 0) queueMicrotask(() => void this.connect(epoch, reason));
    else this.restartTimer = setTimeout(() => void this.connect(epoch, reason), delayMs);
  }

  private restart(reason: string, err?: unknown): void {
    if (!this.running) return;
    // Invalidate first: stopping the watch may call its onDone, which must find itself stale.
    this.epoch++;
    this.teardownWatch();
    let delay = 0;
    if (err !== undefined) {
      this.failures++;
      delay = backoffDelay(this.failures, this.opts.backoff);
    }
    this.restarts++;
    // The periodic resync is routine; everything else means something went wrong.
    const log = reason === 'periodic resync' ? this.opts.logger?.info : this.opts.logger?.warn;
    log?.call(
      this.opts.logger,
      {
        informer: this.opts.name,
        reason,
        err: err === undefined ? undefined : errorMessage(err),
        retryInMs: delay,
      },
      'informer restarting',
    );
    this.scheduleConnect(delay, reason);
  }

  /** Relists and re-announces, then watches from the list's resourceVersion. */
  private async connect(epoch: number, _reason: string): Promise<void> {
    if (epoch !== this.epoch || !this.running) return;
    let listed: { items: T[]; resourceVersion: string };
    try {
      listed = await this.source.list();
    } catch (err) {
      if (epoch === this.epoch) this.restart('list failed', err);
      return;
    }
    if (epoch !== this.epoch || !this.running) return;
    this.replace(listed.items);
    this.resourceVersion = listed.resourceVersion;
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
    this.armResync(epoch);
    await this.watchFrom(epoch);
  }

  private async watchFrom(epoch: number): Promise<void> {
    const startedAt = Date.now();
    this.armWatchdog(epoch);
    let handle: { stop(): void };
    try {
      handle = await this.source.watch(
        this.resourceVersion,
        (type, obj) => {
          if (epoch === this.epoch) this.onWatchEvent(epoch, type, obj);
        },
        (err) => {
          if (epoch !== this.epoch || !this.running) return;
          if (err !== undefined && err !== null) {
            // 410: our resourceVersion is too old to resume from; a re-list is the cure, not a penalty.
            this.restart(
              isGone(err) ? 'resourceVersion expired' : 'watch failed',
              isGone(err) ? undefined : err,
            );
          } else if (Date.now() - startedAt < MIN_HEALTHY_WATCH_MS) {
            this.restart('watch closed immediately', new Error('watch closed immediately'));
          } else {
            // Clean close (timeoutSeconds or a server restart): resume from where we were.
            this.teardownWatch();
            void this.watchFrom(epoch);
          }
        },
        { timeoutSeconds: this.watchTimeoutSeconds() },
      );
    } catch (err) {
      if (epoch === this.epoch) this.restart('watch failed to start', err);
      return;
    }
    if (epoch !== this.epoch || !this.running) {
      handle.stop();
      return;
    }
    this.watchHandle = handle;
  }

  /**
   * Asks the server to close each watch cleanly well before the watchdog would fire, so a
   * quiet resource costs a cheap re-watch from the last resourceVersion instead of a full
   * re-list and re-announce. Jittered, like client-go's reflector, so informers started
   * together do not re-watch in lockstep.
   */
  private watchTimeoutSeconds(): number | undefined {
    if (this.opts.silenceTimeoutMs <= 0) return undefined;
    const s = (this.opts.silenceTimeoutMs / 1000) * (0.5 + 0.25 * Math.random());
    // At least 2 s: a close sooner than MIN_HEALTHY_WATCH_MS would count as a failure.
    return Math.max(2, Math.floor(s));
  }

  private onWatchEvent(epoch: number, type: WatchEventType, raw: unknown): void {
    this.armWatchdog(epoch);
    if (type === 'ERROR') {
      // The server sends a Status object and then closes; a 410 means re-list.
      this.restart(
        isGone(raw) ? 'resourceVersion expired' : 'watch error event',
        isGone(raw) ? undefined : raw,
      );
      return;
    }
    this.failures = 0;
    const obj = this.trim(raw as T & Meta);
    const rv = obj.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    if (type === 'BOOKMARK') return;
    const key = cacheKey(obj.metadata?.namespace, obj.metadata?.name ?? '');
    if (type === 'DELETED') {
      this.cache.delete(key);
      this.emit(obj, 'delete');
      return;
    }
    const prev = this.cache.get(key) as (T & Meta) | undefined;
    this.cache.set(key, obj);
    if (!prev) this.emit(obj, 'add');
    else if (prev.metadata?.resourceVersion !== rv) this.emit(obj, 'update');
  }

  private replace(items: T[]): void {
    const fresh = new Map<string, T>();
    for (const o of items) fresh.set(cacheKey(o.metadata?.namespace, o.metadata?.name ?? ''), this.trim(o));
    const old = new Map(this.cache);
    this.cache.clear();
    for (const [k, v] of fresh) this.cache.set(k, v);
    for (const [k, o] of old) if (!fresh.has(k)) this.emit(o, 'delete');
    for (const [k, o] of fresh) {
      const prev = old.get(k);
      if (!prev) this.emit(o, 'add');
      else if (prev.metadata?.resourceVersion !== o.metadata?.resourceVersion) this.emit(o, 'update');
      // Unchanged, but events may have been missed while we were not watching: say it again.
      else this.emit(o, 'resync');
    }
  }

  private emit(obj: T, type: ChangeType): void {
    for (const cb of this.subscribers) {
      try {
        cb(obj, type);
      } catch (err) {
        this.opts.logger?.warn(
          { informer: this.opts.name, err: errorMessage(err) },
          'informer subscriber threw',
        );
      }
    }
  }

  private armWatchdog(epoch: number): void {
    clearTimeout(this.watchdog);
    if (this.opts.silenceTimeoutMs <= 0) return;
    this.watchdog = setTimeout(() => {
      if (epoch === this.epoch) this.restart('watch silent');
    }, this.opts.silenceTimeoutMs);
  }

  private armResync(epoch: number): void {
    clearTimeout(this.resyncTimer);
    if (this.opts.resyncPeriodMs <= 0) return;
    this.resyncTimer = setTimeout(() => {
      if (epoch === this.epoch) this.restart('periodic resync');
    }, this.opts.resyncPeriodMs);
  }

  private teardownWatch(): void {
    clearTimeout(this.watchdog);
    this.watchdog = undefined;
    const h = this.watchHandle;
    this.watchHandle = undefined;
    try {
      h?.stop();
    } catch {
      // Already closed.
    }
  }
}

function cacheKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}
