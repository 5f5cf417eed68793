export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  factor?: number;
  /**
   * Fraction of the delay to randomise (0..1). Many replicas or informers failing together
   * (an API server restart) should not all come back in the same millisecond.
   */
  jitter?: number;
  random?: () => number;
}

/** Delay before retry number `attempt` (1-based): base·factor^(attempt-1), capped. */
export function backoffDelay(attempt: number, o: BackoffOptions): number {
  const factor = o.factor ?? 2;
  const n = Math.max(0, attempt - 1);
  // Beyond this many doublings the cap is certainly reached; avoids Infinity arithmetic.
  const exp = Math.min(n, 64);
  const raw = Math.min(o.capMs, o.baseMs * factor ** exp);
  const jitter = o.jitter ?? 0;
  if (jitter <= 0) return raw;
  const r = (o.random ?? Math.random)();
  return Math.round(raw * (1 - jitter + jitter * r));
}

/** Per-key failure counts; a success forgets the key so the next failure starts small again. */
export class KeyedBackoff {
  private readonly failures = new Map<string, number>();
  constructor(private readonly opts: BackoffOptions) {}

  /** Records a failure and returns how long to wait before retrying. */
  next(key: string): number {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    return backoffDelay(n, this.opts);
  }

  attempts(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  forget(key: string): void {
    this.failures.delete(key);
  }
}
