// Prometheus histograms as counts: cumulative buckets by upper bound, the last one +Inf.
// Interpolation inside a bucket is linear, as histogram_quantile's is, so a quantile read here
// agrees with what a person sees from PromQL.

export interface Bucket {
  /** Upper bound in milliseconds; Infinity for +Inf. */
  le: number;
  /** Requests at or below `le` (cumulative). */
  count: number;
}

/** Buckets sorted by bound, cumulative counts made monotone (increase() can wobble between series). */
export function normalise(buckets: readonly Bucket[]): Bucket[] {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  let max = 0;
  return sorted.map((b) => {
    max = Math.max(max, b.count);
    return { le: b.le, count: max };
  });
}

export const totalOf = (buckets: readonly Bucket[]): number => buckets.at(-1)?.count ?? 0;

/** The q-quantile, or undefined without requests; within the +Inf bucket: the largest finite bound. */
export function quantile(buckets: readonly Bucket[], q: number): number | undefined {
  const total = totalOf(buckets);
  if (total <= 0) return undefined;
  const rank = q * total;
  let lowerBound = 0;
  let below = 0;
  for (const b of buckets) {
    if (b.count >= rank) {
      if (!Number.isFinite(b.le)) return lowerBound;
      const inBucket = b.count - below;
      return inBucket <= 0 ? b.le : lowerBound + ((b.le - lowerBound) * (rank - below)) / inBucket;
    }
    lowerBound = Number.isFinite(b.le) ? b.le : lowerBound;
    below = b.count;
  }
  return lowerBound;
}

/** Requests slower than `ms` (fractional inside a bucket, by linear interpolation). */
export function countAbove(buckets: readonly Bucket[], ms: number): number {
  const total = totalOf(buckets);
  let lowerBound = 0;
  let below = 0;
  for (const b of buckets) {
    if (ms < b.le) {
      if (!Number.isFinite(b.le)) return total - below;
      const share = (ms - lowerBound) / (b.le - lowerBound);
      return total - (below + Math.max(0, share) * (b.count - below));
    }
    lowerBound = b.le;
    below = b.count;
  }
  return 0;
}
