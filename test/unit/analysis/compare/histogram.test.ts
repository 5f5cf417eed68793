import { describe, expect, it } from 'vitest';
import { countAbove, normalise, quantile, totalOf } from '../../../../analysis/compare/histogram.ts';

const INF = Number.POSITIVE_INFINITY;
// 100 requests: 50 in (0, 10], 40 in (10, 100], 9 in (100, 1000], 1 above 1000.
const buckets = [
  { le: 10, count: 50 },
  { le: 100, count: 90 },
  { le: 1000, count: 99 },
  { le: INF, count: 100 },
];

describe('histogram buckets', () => {
  it('quantiles interpolate linearly inside a bucket, as histogram_quantile does', () => {
    expect(quantile(buckets, 0.5)).toBe(10);
    expect(quantile(buckets, 0.7)).toBeCloseTo(55, 10);
    expect(quantile(buckets, 0.99)).toBe(1000);
    // Inside +Inf: the largest finite bound.
    expect(quantile(buckets, 0.999)).toBe(1000);
    expect(quantile([{ le: INF, count: 0 }], 0.5)).toBeUndefined();
  });

  it('counts requests slower than a latency, interpolating inside its bucket', () => {
    expect(countAbove(buckets, 10)).toBe(50);
    expect(countAbove(buckets, 55)).toBeCloseTo(30, 10);
    expect(countAbove(buckets, 5)).toBeCloseTo(75, 10);
    expect(countAbove(buckets, 5000)).toBe(1);
    expect(countAbove(buckets, 0)).toBe(100);
  });

  it('the interpolated share above the interpolated p99 is 1%, for any histogram', () => {
    const q = quantile(buckets, 0.99) as number;
    expect(countAbove(buckets, q) / totalOf(buckets)).toBeCloseTo(0.01, 10);
    const q9 = quantile(buckets, 0.7) as number;
    expect(countAbove(buckets, q9) / totalOf(buckets)).toBeCloseTo(0.3, 10);
  });

  it('normalise sorts by bound and makes cumulative counts monotone', () => {
    expect(
      normalise([
        { le: INF, count: 10 },
        { le: 5, count: 4 },
        { le: 10, count: 3.9 },
      ]),
    ).toEqual([
      { le: 5, count: 4 },
      { le: 10, count: 4 },
      { le: INF, count: 10 },
    ]);
  });
});
