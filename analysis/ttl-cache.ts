// Answers a run start waits on, cached per key for a time and bounded in count (oldest out):
// each is asked at most once per key and TTL, and a flood of keys (one per tenant address or
// Service) cannot grow the controller's memory. A failure is cached like an answer, so an
// address that refuses is not asked again on every run start.

export interface TtlCacheOptions {
  ttlMs: number;
  maxEntries: number;
  now: () => number;
}

export class TtlCache<V> {
  private readonly entries = new Map<string, { at: number; value: Promise<V> }>();

  constructor(private readonly opts: TtlCacheOptions) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string, load: () => Promise<V>): Promise<V> {
    const now = this.opts.now();
    const hit = this.entries.get(key);
    if (hit && now - hit.at < this.opts.ttlMs) return hit.value;
    this.entries.delete(key);
    while (this.entries.size >= this.opts.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    const value = load();
    this.entries.set(key, { at: now, value });
    return value;
  }
}
