// Pure statistics shared by the benchmarks (and unit-tested, so the numbers they print can be trusted).

/** Nearest-rank percentile (p in 0..100) of the values; NaN when there are none. */
export function percentile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? Number.NaN;
}

export interface Bucket {
  /** Upper bound (seconds for a duration histogram); Infinity for +Inf. */
  le: number;
  /** Cumulative count of observations ≤ le. */
  count: number;
}

/**
 * The q-quantile (0..1) of a cumulative histogram, interpolated linearly inside the bucket as
 * Prometheus' histogram_quantile does; a quantile in the +Inf bucket is the highest finite bound.
 */
export function histogramQuantile(buckets: readonly Bucket[], q: number): number {
  const b = [...buckets].sort((x, y) => x.le - y.le);
  const total = b.at(-1)?.count ?? 0;
  if (total === 0) return Number.NaN;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const { le, count } of b) {
    if (count >= rank) {
      if (le === Number.POSITIVE_INFINITY) return prevLe;
      if (count === prevCount) return le;
      return prevLe + ((le - prevLe) * (rank - prevCount)) / (count - prevCount);
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}

/**
 * Buckets of histogram `name` from Prometheus text exposition, summed over every other label
 * (Argo Rollouts labels its reconcile histogram by Rollout); with `label` (e.g.
 * `changed="false"`), only the series that carry it.
 */
export function parseHistogram(text: string, name: string, label?: string): Bucket[] {
  const byLe = new Map<number, number>();
  const prefix = `${name}_bucket{`;
  for (const line of text.split('\n')) {
    if (!line.startsWith(prefix) || (label !== undefined && !line.includes(label))) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (le === undefined || !Number.isFinite(value)) continue;
    const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
    byLe.set(bound, (byLe.get(bound) ?? 0) + value);
  }
  return [...byLe].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
}

/** Per-bucket difference of two snapshots of one histogram (after − before). */
export function histogramDelta(after: readonly Bucket[], before: readonly Bucket[]): Bucket[] {
  const prev = new Map(before.map((b) => [b.le, b.count]));
  return after.map((b) => ({ le: b.le, count: b.count - (prev.get(b.le) ?? 0) }));
}
