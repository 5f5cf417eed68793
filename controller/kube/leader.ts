import type { KubeConfig } from '@kubernetes/client-node';
import { errorMessage, isConflict, isNotFound, requestJson, resourcePath } from './client.ts';

/** The part of a coordination.k8s.io/v1 Lease that election reads and writes. */
export interface LeaseRecord {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface StoredLease {
  spec: LeaseRecord;
  resourceVersion: string;
}

/**
 * Optimistic-concurrency storage for one Lease. `create` and `update` must fail with a
 * 409 (isConflict) when someone else got there first; `update` only succeeds if the
 * stored resourceVersion still equals the one given.
 */
export interface LeaseStore {
  get(): Promise<StoredLease | undefined>;
  create(spec: LeaseRecord): Promise<StoredLease>;
  update(spec: LeaseRecord, resourceVersion: string): Promise<StoredLease>;
  describe(): string;
}

interface LeaseObject {
  metadata?: { resourceVersion?: string };
  spec?: LeaseRecord;
}

/**
 * The real store. Plain JSON requests rather than CoordinationV1Api: the generated client
 * turns MicroTime fields into Date subclasses and back, which we don't need and which
 * loses nothing only if every path gets it right.
 */
export function kubeLeaseStore(kc: KubeConfig, namespace: string, name: string): LeaseStore {
  const collection = resourcePath({
    group: 'coordination.k8s.io',
    version: 'v1',
    plural: 'leases',
    namespace,
  });
  const item = resourcePath({
    group: 'coordination.k8s.io',
    version: 'v1',
    plural: 'leases',
    namespace,
    name,
  });
  const toStored = (l: LeaseObject): StoredLease => ({
    spec: l.spec ?? {},
    resourceVersion: l.metadata?.resourceVersion ?? '',
  });
  return {
    async get() {
      try {
        return toStored(await requestJson<LeaseObject>(kc, { method: 'GET', path: item }));
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async create(spec) {
      const body = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace },
        spec,
      };
      return toStored(await requestJson<LeaseObject>(kc, { method: 'POST', path: collection, body }));
    },
    async update(spec, resourceVersion) {
      const body = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace, resourceVersion },
        spec,
      };
      return toStored(await requestJson<LeaseObject>(kc, { method: 'PUT', path: item, body }));
    },
    describe: () => `${namespace}/${name}`,
  };
}

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface LeaderLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface LeaderElectorOptions {
  identity: string;
  /** How long others wait after last seeing the lease change before taking it; default 15 s. */
  leaseDurationMs?: number;
  /** The leader gives up if it has not renewed within this long; default 10 s. Must be < leaseDurationMs. */
  renewDeadlineMs?: number;
  /** Time between attempts to acquire or renew; default 2 s. */
  retryPeriodMs?: number;
  onStartedLeading?: () => void;
  /** Runs synchronously the moment leadership is lost or given up, before anything else is scheduled. */
  onStoppedLeading?: () => void;
  onNewLeader?: (identity: string | undefined) => void;
  clock?: Clock;
  logger?: LeaderLogger;
}

/** RFC 3339 with microseconds, the MicroTime format the API server expects. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/**
 * Leader election on a Lease, with client-go's rules:
 * - Another holder's lease counts as expired only when *we* have seen it unchanged for a
 *   full lease duration (our own clock, so clock skew between replicas does not matter).
 * - Every write carries the resourceVersion read, so two candidates cannot both win.
 * - The leader counts its renew deadline from the start of its last successful attempt and
 *   stops leading the instant it passes, even if a renew request is still hanging. Since
 *   renewDeadline < leaseDuration, it has stopped before anyone else may take over.
 * After losing the lease the elector keeps competing, so a replica can lead again later.
 */
/** How often a standby reads another holder's Lease. */
const STANDBY_POLL_MS = 500;

export class LeaderElector {
  private readonly leaseMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;
  private readonly clock: Clock;
  private leading = false;
  private running = false;
  /** Start time of the last successful acquire/renew while leading. */
  private renewedAt = 0;
  private observed: { key: string; at: number; holder: string | undefined } | undefined;
  private deadlineTimer: unknown;
  private retryTimer: unknown;
  private attempt: Promise<void> | undefined;
  private attemptSeq = 0;

  constructor(
    private readonly store: LeaseStore,
    private readonly opts: LeaderElectorOptions,
  ) {
    this.leaseMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryMs = opts.retryPeriodMs ?? 2_000;
    this.clock = opts.clock ?? systemClock;
    if (this.renewDeadlineMs >= this.leaseMs)
      throw new Error('renewDeadlineMs must be shorter than leaseDurationMs');
    if (this.retryMs >= this.renewDeadlineMs)
      throw new Error('retryPeriodMs must be shorter than renewDeadlineMs');
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop();
  }

  /** Leading, and the renew deadline has not passed (checked against the clock, not only timers). */
  isLeader(): boolean {
    return this.leading && this.clock.now() - this.renewedAt < this.renewDeadlineMs;
  }

  /** The holder we last saw in the Lease (may be stale). */
  currentLeader(): string | undefined {
    return this.observed?.holder;
  }

  /** Stops competing; if leading, stops leading first (callback), then releases the Lease so a successor need not wait. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.clock.clearTimeout(this.retryTimer);
    this.loseLeadership('stopping');
    await this.attempt;
    // Even if not leading, an attempt that was in flight may have just won the lease. Bounded,
    // so that a hung API server cannot hold up shutdown; the lease then simply expires.
    let timer: unknown;
    await Promise.race([
      this.release(),
      new Promise<void>((resolve) => {
        timer = this.clock.setTimeout(resolve, this.renewDeadlineMs);
      }),
    ]);
    this.clock.clearTimeout(timer);
  }

  private loop(): void {
    if (!this.running) return;
    const attempt = ++this.attemptSeq;
    // A hung request must not stall the loop: after the renew deadline the attempt is
    // abandoned (its late result ignored) and the next one starts.
    let timer: unknown;
    const timeout = new Promise<void>((resolve) => {
      timer = this.clock.setTimeout(resolve, this.renewDeadlineMs);
    });
    this.attempt = Promise.race([this.tryAcquireOrRenew(attempt), timeout]).finally(() => {
      this.clock.clearTimeout(timer);
      this.attempt = undefined;
      if (this.running) this.retryTimer = this.clock.setTimeout(() => this.loop(), this.nextDelay());
    });
  }

  /**
   * A standby wakes the moment another holder's lease runs out in its view, rather than up to a
   * retry period later: a killed leader is replaced within the lease duration of its last renew
   * as this replica saw it.
   */
  private nextDelay(): number {
    const o = this.observed;
    if (this.leading || !o?.holder || o.holder === this.opts.identity) return this.retryMs;
    // A standby's view of the last renew lags the renew by up to its polling period, and a
    // takeover waits for that view to expire: polling often keeps takeover near the lease
    // duration (seen: lease 15 s + 2 s poll = 17.05 s, over the lease + 2 s promise).
    const poll = Math.min(this.retryMs, STANDBY_POLL_MS);
    const expiresIn = o.at + this.leaseMs - this.clock.now();
    return expiresIn > 0 && expiresIn < poll ? expiresIn : poll;
  }

  private async tryAcquireOrRenew(attempt: number): Promise<void> {
    const started = this.clock.now();
    let ok = false;
    try {
      ok = await this.writeLease(started);
    } catch (err) {
      this.opts.logger?.warn(
        { lease: this.store.describe(), err: errorMessage(err) },
        'lease acquire/renew failed',
      );
    }
    if (!this.running || attempt !== this.attemptSeq) return;
    if (ok) {
      if (this.leading && started - this.renewedAt >= this.renewDeadlineMs) {
        // The deadline passed before this attempt began: that term is over even if a late timer
        // has not said so yet. The write itself was a CAS on the resourceVersion, so it opens
        // a new term safely.
        this.loseLeadership('renew deadline exceeded');
      }
      this.renewedAt = started;
      this.armDeadline();
      if (!this.leading) {
        this.leading = true;
        this.opts.logger?.info(
          { lease: this.store.describe(), identity: this.opts.identity },
          'started leading',
        );
        this.opts.onStartedLeading?.();
      }
    } else if (this.leading && this.clock.now() - this.renewedAt >= this.renewDeadlineMs) {
      this.loseLeadership('renew deadline exceeded');
    }
  }

  /** Returns true when we hold the lease after this call. */
  private async writeLease(now: number): Promise<boolean> {
    const me = this.opts.identity;
    const current = await this.store.get();
    const ours: LeaseRecord = {
      holderIdentity: me,
      leaseDurationSeconds: Math.ceil(this.leaseMs / 1000),
      acquireTime: microTime(now),
      renewTime: microTime(now),
      leaseTransitions: 0,
    };
    if (!current) {
      try {
        await this.store.create(ours);
      } catch (err) {
        if (isConflict(err)) return false;
        throw err;
      }
      this.observe(me, `created:${now}`, now);
      return true;
    }
    const spec = current.spec;
    this.observe(spec.holderIdentity || undefined, JSON.stringify(spec), now);
    const heldByOther = !!spec.holderIdentity && spec.holderIdentity !== me;
    // Only a change since our last look proves the holder alive; the record's own timestamps
    // come from another machine's clock.
    if (heldByOther && this.observed && now - this.observed.at < this.leaseMs) return false;
    const next: LeaseRecord =
      spec.holderIdentity === me
        ? {
            ...ours,
            acquireTime: spec.acquireTime ?? ours.acquireTime,
            leaseTransitions: spec.leaseTransitions ?? 0,
          }
        : { ...ours, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 };
    try {
      const stored = await this.store.update(next, current.resourceVersion);
      this.observe(me, JSON.stringify(stored.spec), now);
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  private observe(holder: string | undefined, key: string, now: number): void {
    if (this.observed?.key === key) return;
    const changedHolder = this.observed?.holder !== holder;
    this.observed = { key, at: now, holder };
    if (changedHolder) this.opts.onNewLeader?.(holder);
  }

  private armDeadline(): void {
    this.clock.clearTimeout(this.deadlineTimer);
    const left = this.renewedAt + this.renewDeadlineMs - this.clock.now();
    this.deadlineTimer = this.clock.setTimeout(
      () => {
        if (this.leading && this.clock.now() - this.renewedAt >= this.renewDeadlineMs) {
          this.loseLeadership('renew deadline exceeded');
        }
      },
      Math.max(0, left),
    );
  }

  private loseLeadership(reason: string): void {
    this.clock.clearTimeout(this.deadlineTimer);
    if (!this.leading) return;
    this.leading = false;
    this.opts.logger?.warn(
      { lease: this.store.describe(), identity: this.opts.identity, reason },
      'stopped leading',
    );
    this.opts.onStoppedLeading?.();
  }

  /** Hands the lease back by clearing the holder, as client-go does, so a successor need not wait it out. */
  private async release(): Promise<void> {
    try {
      const current = await this.store.get();
      if (!current || current.spec.holderIdentity !== this.opts.identity) return;
      const now = this.clock.now();
      await this.store.update(
        {
          ...current.spec,
          holderIdentity: '',
          leaseDurationSeconds: 1,
          renewTime: microTime(now),
          acquireTime: microTime(now),
        },
        current.resourceVersion,
      );
    } catch (err) {
      this.opts.logger?.warn(
        { lease: this.store.describe(), err: errorMessage(err) },
        'lease release failed',
      );
    }
  }
}
