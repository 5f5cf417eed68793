import { describe, expect, it } from 'vitest';
import {
  bucketIndex,
  fitLognormal,
  ISTIO_DURATION_BUCKETS_MS,
  sampleLatencies,
} from '../../../sandbox/traffic/latency.ts';
import { binomial, multinomial, poisson, seededRng } from '../../../sandbox/traffic/rng.ts';

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('seeded distributions', () => {
  it('repeats exactly for a seed and differs across seeds', () => {
    const draw = (seed: number) => {
      const rng = seededRng(seed);
      return Array.from({ length: 5 }, () => rng.next());
    };
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
  });

  it.each([0.5, 12.5, 250])('poisson(%d) has the right mean', (lambda) => {
    const rng = seededRng(1);
    const xs = Array.from({ length: 20_000 }, () => poisson(rng, lambda));
    expect(mean(xs)).toBeCloseTo(lambda, lambda < 10 ? 1 : 0);
  });

  it.each([
    [10, 0.1],
    [1000, 0.1],
    [100_000, 0.001],
  ])('binomial(%d, %d) has the right mean and stays within 0..n', (n, p) => {
    const rng = seededRng(2);
    const xs = Array.from({ length: 5000 }, () => binomial(rng, n, p));
    expect(Math.abs(mean(xs) - n * p) / (n * p)).toBeLessThan(0.03);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThanOrEqual(n);
  });

  it('multinomial conserves the total and follows the weights', () => {
    const rng = seededRng(3);
    const totals = [0, 0, 0];
    for (let i = 0; i < 2000; i++) {
      const split = multinomial(rng, 100, [80, 20, 0]);
      expect(split.reduce((a, b) => a + b, 0)).toBe(100);
      split.forEach((k, j) => {
        totals[j] = (totals[j] ?? 0) + k;
      });
    }
    expect((totals[0] ?? 0) / 200_000).toBeCloseTo(0.8, 2);
    expect(totals[2]).toBe(0);
  });
});

describe('latency model', () => {
  it('puts the fitted p50 and p99 where the profile says', () => {
    const model = fitLognormal(20, 80);
    expect(Math.exp(model.mu)).toBeCloseTo(20, 6);
    expect(Math.exp(model.mu + 2.3263478740408408 * model.sigma)).toBeCloseTo(80, 6);
    expect(model.bucketProbabilities).toHaveLength(ISTIO_DURATION_BUCKETS_MS.length + 1);
    expect(model.bucketProbabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
  });

  it('uses bucket upper bounds inclusively, as Prometheus le does', () => {
    expect(bucketIndex(0.5)).toBe(0);
    expect(bucketIndex(0.51)).toBe(1);
    expect(bucketIndex(100)).toBe(ISTIO_DURATION_BUCKETS_MS.indexOf(100));
    expect(bucketIndex(1e9)).toBe(ISTIO_DURATION_BUCKETS_MS.length);
  });

  it.each([10, 5000])('agrees between per-request and aggregate sampling (n=%d)', (n) => {
    const rng = seededRng(4);
    const model = fitLognormal(20, 80);
    const counts = new Float64Array(ISTIO_DURATION_BUCKETS_MS.length + 1);
    let sum = 0;
    for (let i = 0; i < 200_000 / n; i++) sum += sampleLatencies(rng, model, n, counts);
    const total = counts.reduce((a, b) => a + b, 0);
    expect(total).toBe(200_000);
    // Median 20ms: about half the requests at or under the 25ms bucket, few beyond 100ms.
    const le25 =
      counts.slice(0, ISTIO_DURATION_BUCKETS_MS.indexOf(25) + 1).reduce((a, b) => a + b, 0) / total;
    expect(le25).toBeGreaterThan(0.6);
    expect(le25).toBeLessThan(0.7);
    expect(sum / total).toBeCloseTo(model.mean, 0);
  });
});
