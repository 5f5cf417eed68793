import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Bucket } from '../../../../analysis/compare/histogram.ts';
import {
  type Common,
  compareErrors,
  compareLatencyDistribution,
  compareLatencyP99,
  type ErrorEffect,
} from '../../../../analysis/compare/judge.ts';
import { judgeSamples } from '../../../../analysis/compare/measure.ts';
import { resolveMetrics } from '../../../../analysis/resolve.ts';
import type { RunMetric } from '../../../../crds/index.ts';
import {
  fitLognormal,
  ISTIO_DURATION_BUCKETS_MS,
  sampleLatencies,
} from '../../../../sandbox/traffic/latency.ts';
import { binomial, poisson, type Rng, seededRng } from '../../../../sandbox/traffic/rng.ts';

// The passing rule under simulation: a release looks after every batch of requests and stops at
// the first verdict, as a gate does. Fixed seeds, so each rate is the same number every run.

type Outcome = 'rolledBack' | 'passed' | 'undecided';

function errorsRelease(
  rng: Rng,
  perLook: number,
  looks: number,
  stableRatio: number,
  canaryRatio: number,
  effect: ErrorEffect,
  common: Common,
): Outcome {
  const c = { requests: 0, errors: 0 };
  const s = { requests: 0, errors: 0 };
  for (let i = 0; i < looks; i++) {
    const nc = poisson(rng, perLook);
    const ns = poisson(rng, perLook);
    c.requests += nc;
    c.errors += binomial(rng, nc, canaryRatio);
    s.requests += ns;
    s.errors += binomial(rng, ns, stableRatio);
    const v = compareErrors(c, s, effect, common).verdict;
    if (v === 'worse') return 'rolledBack';
    if (v === 'notWorse') return 'passed';
  }
  return 'undecided';
}

const rates = (outcomes: Outcome[]) => ({
  rolledBack: outcomes.filter((o) => o === 'rolledBack').length / outcomes.length,
  passed: outcomes.filter((o) => o === 'passed').length / outcomes.length,
});

const ALPHA = 0.05; // a level whose breaches a few hundred releases can show
const common: Common = { alpha: ALPHA, minRequests: 100, power: 0.9 };

describe('compareToStable passes with stated power', () => {
  it('errors, relative: at the allowed increase it rolls back at most α; at twice it, it passes at most 1 − power; equal versions pass', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0.002, 0.01, 0.05),
        fc.constantFrom(25, 50, 100),
        fc.constantFrom(2_000, 20_000),
        fc.integer({ min: 1, max: 2 ** 31 }),
        (p, m, perLook, seed) => {
          const rng = seededRng(seed);
          const effect = { maxIncreasePercent: m };
          const run = (canary: number, n = 300) =>
            rates(
              Array.from({ length: n }, () => errorsRelease(rng, perLook, 40, p, canary, effect, common)),
            );
          const atAllowed = run(p * (1 + m / 100));
          expect(atAllowed.rolledBack).toBeLessThanOrEqual(ALPHA + 0.03);
          const regression = run(p * (1 + (2 * m) / 100));
          expect(regression.passed).toBeLessThanOrEqual(1 - (common.power ?? 0) + 0.04);
          const same = run(p, 100);
          expect(same.rolledBack).toBeLessThanOrEqual(ALPHA + 0.03);
        },
      ),
      { seed: 20261207, numRuns: 8 },
    );
  });

  it('errors: a canary 10% worse (within 25%) passes once the power is there, where the bounds alone hold some for a person', () => {
    const rng = seededRng(11);
    const effect = { maxIncreasePercent: 25 };
    const run = (c: Common) =>
      rates(Array.from({ length: 200 }, () => errorsRelease(rng, 15_000, 20, 0.01, 0.011, effect, c)));
    const withPower = run({ alpha: 0.01, minRequests: 100, power: 0.9 });
    const boundsOnly = run({ alpha: 0.01, minRequests: 100 });
    expect(withPower.passed).toBe(1);
    expect(boundsOnly.passed).toBeLessThan(0.95);
  });

  it('says why it passed: the power reached, the power needed and the regression it is against', () => {
    const c = compareErrors(
      { requests: 400_000, errors: 4_000 },
      { requests: 400_000, errors: 4_000 },
      { maxIncreasePercent: 25 },
      common,
    );
    expect(c.verdict).toBe('notWorse');
    expect(c.power).toBeGreaterThanOrEqual(0.9);
    expect(c.powerRequired).toBe(0.9);
    expect(c.regression).toBeCloseTo(0.5, 1); // 1% → 1.5%, less the stable read low
    // The same counts a hundred times smaller cannot have that power: undecided.
    const small = compareErrors(
      { requests: 4_000, errors: 40 },
      { requests: 4_000, errors: 40 },
      { maxIncreasePercent: 25 },
      common,
    );
    expect(small.verdict).toBe('undecided');
    expect(small.power).toBeLessThan(0.9);
  });

  it('latency p99: a canary with twice the allowed share of slow requests is passed at most 1 − power of the time', () => {
    const rng = seededRng(5);
    const stableModel = fitLognormal(50, 200);
    // 1.7% of the canary's requests far slower: with the stable's own few above 1.2 × its p99,
    // about the configured regression (2% slower than the bar), seen through Istio's buckets.
    const slowModel = fitLognormal(1500, 3000);
    const cumulative = (counts: Float64Array): Bucket[] => {
      let sum = 0;
      return [...ISTIO_DURATION_BUCKETS_MS, Number.POSITIVE_INFINITY].map((le, i) => {
        sum += counts[i] ?? 0;
        return { le, count: sum };
      });
    };
    const outcomes: Outcome[] = [];
    for (let r = 0; r < 300; r++) {
      const c = new Float64Array(ISTIO_DURATION_BUCKETS_MS.length + 1);
      const s = new Float64Array(ISTIO_DURATION_BUCKETS_MS.length + 1);
      let outcome: Outcome = 'undecided';
      for (let i = 0; i < 30 && outcome === 'undecided'; i++) {
        const n = poisson(rng, 500);
        const slow = binomial(rng, n, 0.017);
        sampleLatencies(rng, slowModel, slow, c);
        sampleLatencies(rng, stableModel, n - slow, c);
        sampleLatencies(rng, stableModel, poisson(rng, 500), s);
        const v = compareLatencyP99(cumulative(c), cumulative(s), 20, common).verdict;
        if (v === 'worse') outcome = 'rolledBack';
        if (v === 'notWorse') outcome = 'passed';
      }
      outcomes.push(outcome);
    }
    expect(rates(outcomes).passed).toBeLessThanOrEqual(0.1 + 0.04);
    expect(rates(outcomes).rolledBack).toBeGreaterThan(0.8);
  });

  it('the message says which way it passed, and an undecided look says the power it has so far', () => {
    const metric = (errors: Record<string, number>, power?: number) =>
      resolveMetrics({
        gates: { compareToStable: { errors, ...(power === undefined ? {} : { power }) } },
        gate: 'step',
        namespace: 'shop',
        service: 'web-canary',
        stableService: 'web-stable',
        templates: new Map(),
      })[0] as RunMetric;
    const counts = (service: string, ok: number, errors: number) => [
      { labels: { destination_service_name: service, response_code: '200' }, value: ok },
      { labels: { destination_service_name: service, response_code: '503' }, value: errors },
    ];
    const samples = (n: number, errors: number) => [
      ...counts('web-canary', n - errors, errors),
      ...counts('web-stable', n - errors, errors),
    ];
    expect(metric({ maxIncreasePercent: 25 }).compare?.power).toBe(0.9);
    expect(metric({ maxIncreasePercent: 25 }, 0.8).compare?.power).toBe(0.8);
    const onPower = judgeSamples(metric({ maxIncreasePercent: 25 }), samples(400_000, 4_000));
    expect(onPower.phase).toBe('Successful');
    expect(onPower.message).toMatch(/would have been caught with probability [\d.]+ \(need 0\.9\)/);
    const undecided = judgeSamples(metric({ maxIncreasePercent: 25 }), samples(4_000, 40));
    expect(undecided.phase).toBe('Inconclusive');
    expect(undecided.message).toMatch(/^undecided so far: .*caught with probability [\d.]+ \(need 0\.9\)/);
    // Few errors against a wide absolute allowance: confidently within it before the power is there.
    const onBounds = judgeSamples(metric({ maxIncreasePoints: 3 }), samples(1_500, 15));
    expect(onBounds.phase).toBe('Successful');
    expect(onBounds.comparison.power).toBeLessThan(0.9);
    expect(onBounds.message).toMatch(/allowed 3 \(confidence reached [\d.]+;/);
  });

  it('latency distribution: 20 points more slow requests at some bound pass at most 1 − power of the time; the same distribution passes', () => {
    const rng = seededRng(3);
    const stable = fitLognormal(60, 300);
    const slowMode = fitLognormal(400, 900);
    const cumulative = (counts: Float64Array): Bucket[] => {
      let sum = 0;
      return [...ISTIO_DURATION_BUCKETS_MS, Number.POSITIVE_INFINITY].map((le, i) => {
        sum += counts[i] ?? 0;
        return { le, count: sum };
      });
    };
    // A quarter of the canary's requests in a slow mode: about 20 points more above 250 ms.
    const run = (moved: number) => {
      const outcomes: Outcome[] = [];
      for (let r = 0; r < 200; r++) {
        const c = new Float64Array(ISTIO_DURATION_BUCKETS_MS.length + 1);
        const s = new Float64Array(ISTIO_DURATION_BUCKETS_MS.length + 1);
        let outcome: Outcome = 'undecided';
        for (let i = 0; i < 30 && outcome === 'undecided'; i++) {
          const n = poisson(rng, 300);
          const k = binomial(rng, n, moved);
          sampleLatencies(rng, slowMode, k, c);
          sampleLatencies(rng, stable, n - k, c);
          sampleLatencies(rng, stable, poisson(rng, 300), s);
          const v = compareLatencyDistribution(cumulative(c), cumulative(s), 10, common).verdict;
          if (v === 'worse') outcome = 'rolledBack';
          if (v === 'notWorse') outcome = 'passed';
        }
        outcomes.push(outcome);
      }
      return rates(outcomes);
    };
    expect(run(0.26).passed).toBeLessThanOrEqual(0.1 + 0.04);
    const same = run(0);
    expect(same.passed).toBeGreaterThan(0.9);
    expect(same.rolledBack).toBeLessThanOrEqual(ALPHA + 0.03);
  });
});
