import { describe, expect, it } from 'vitest';
import type { Bucket } from '../../../../analysis/compare/histogram.ts';
import {
  compareErrors,
  compareLatencyDistribution,
  compareLatencyP99,
} from '../../../../analysis/compare/judge.ts';
import { fitLognormal, ISTIO_DURATION_BUCKETS_MS } from '../../../../sandbox/traffic/latency.ts';

const common = { alpha: 0.01, minRequests: 100 };

/** Expected (not sampled) cumulative Istio buckets of n requests from a lognormal. */
function histogram(n: number, p50: number, p99: number): Bucket[] {
  const probabilities = fitLognormal(p50, p99).bucketProbabilities;
  let sum = 0;
  return [...ISTIO_DURATION_BUCKETS_MS, Number.POSITIVE_INFINITY].map((le, i) => {
    sum += n * (probabilities[i] ?? 0);
    return { le, count: sum };
  });
}

describe('compareToStable: errors', () => {
  it('fails a canary at 0.5% errors against a stable at 0.05% once the evidence is strong', () => {
    const c = compareErrors(
      { requests: 20_000, errors: 100 },
      { requests: 20_000, errors: 10 },
      { maxIncreasePoints: 0.1 },
      common,
    );
    expect(c.verdict).toBe('worse');
    expect(c.lower).toBeGreaterThan(c.margin);
    expect(c.confidence).toBeGreaterThanOrEqual(0.99);
    expect(c.canary).toEqual({ requests: 20_000, value: 0.5 });
    expect(c.stable).toEqual({ requests: 20_000, value: 0.05 });
    expect(c.statistic).toBeGreaterThan(0);
  });

  it('the same rates on few requests are undecided, and below minRequests too few to judge', () => {
    const few = compareErrors(
      { requests: 400, errors: 2 },
      { requests: 400, errors: 0 },
      { maxIncreasePoints: 0.1 },
      common,
    );
    expect(few.verdict).toBe('undecided');
    expect(
      compareErrors(
        { requests: 50, errors: 10 },
        { requests: 5000, errors: 0 },
        { maxIncreasePoints: 0.1 },
        common,
      ).verdict,
    ).toBe('tooFewRequests');
  });

  it('a shared incident (both at 5%) is not worse, however much traffic', () => {
    const c = compareErrors(
      { requests: 50_000, errors: 2500 },
      { requests: 50_000, errors: 2500 },
      { maxIncreasePoints: 1 },
      common,
    );
    expect(c.verdict).toBe('notWorse');
    expect(c.upper).toBeLessThan(c.margin);
  });

  it('a relative effect: double the errors is worse than +25%, 10% more is not worse', () => {
    const doubled = compareErrors(
      { requests: 100_000, errors: 2000 },
      { requests: 100_000, errors: 1000 },
      { maxIncreasePercent: 25 },
      common,
    );
    expect(doubled.verdict).toBe('worse');
    const slightly = compareErrors(
      { requests: 1_000_000, errors: 11_000 },
      { requests: 1_000_000, errors: 10_000 },
      { maxIncreasePercent: 25 },
      common,
    );
    expect(slightly.verdict).toBe('notWorse');
  });

  it('with both effects, worse only when worse by both', () => {
    // Three times the errors, but only 0.02 points: not worse by a 0.5-point effect.
    const tiny = { requests: 1_000_000, errors: 300 };
    const base = { requests: 1_000_000, errors: 100 };
    expect(compareErrors(tiny, base, { maxIncreasePercent: 50 }, common).verdict).toBe('worse');
    expect(
      compareErrors(tiny, base, { maxIncreasePercent: 50, maxIncreasePoints: 0.5 }, common).verdict,
    ).toBe('notWorse');
  });

  it('needs an effect', () => {
    expect(() => compareErrors({ requests: 1, errors: 0 }, { requests: 1, errors: 0 }, {}, common)).toThrow(
      /maxIncreasePoints or maxIncreasePercent/,
    );
  });
});

describe('compareToStable: latency', () => {
  it('p99: a canary twice as slow is worse by more than 20%; the same distribution is not worse', () => {
    const stable = histogram(50_000, 40, 200);
    const slow = compareLatencyP99(histogram(50_000, 80, 400), stable, 20, common);
    expect(slow.verdict).toBe('worse');
    expect(slow.canary.value).toBeGreaterThan(slow.stable.value ?? Number.POSITIVE_INFINITY);
    expect(slow.atMs).toBeGreaterThan(200);
    const same = compareLatencyP99(histogram(50_000, 40, 200), stable, 20, common);
    expect(same.verdict).toBe('notWorse');
  });

  it('p99 on a handful of requests is too few to judge', () => {
    expect(compareLatencyP99(histogram(50, 80, 400), histogram(50, 40, 200), 20, common).verdict).toBe(
      'tooFewRequests',
    );
  });

  it('distribution: a median shift shows at some bucket bound; the same distribution does not', () => {
    const stable = histogram(20_000, 40, 200);
    const shifted = compareLatencyDistribution(histogram(20_000, 60, 200), stable, 5, common);
    expect(shifted.verdict).toBe('worse');
    expect(shifted.lower).toBeGreaterThan(5);
    expect(shifted.atMs).toBe(50);
    expect(shifted.required).toBeGreaterThan(0.99);
    expect(compareLatencyDistribution(histogram(20_000, 40, 200), stable, 5, common).verdict).toBe(
      'notWorse',
    );
    expect(compareLatencyDistribution(histogram(20_000, 42, 210), stable, 5, common).verdict).not.toBe(
      'worse',
    );
  });
});
