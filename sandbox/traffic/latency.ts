import { multinomial, type Rng, standardNormal } from './rng.ts';

/** Istio's default buckets for istio_request_duration_milliseconds. */
export const ISTIO_DURATION_BUCKETS_MS = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000,
  3600000,
] as const;

const Z99 = 2.3263478740408408;

/** A lognormal through the profile's p50 and p99, with per-bucket probabilities precomputed. */
export interface LatencyModel {
  mu: number;
  sigma: number;
  mean: number;
  variance: number;
  /** Probability of landing in each bucket (non-cumulative); last entry is +Inf. */
  bucketProbabilities: number[];
}

export function fitLognormal(p50: number, p99: number): LatencyModel {
  const median = Math.max(p50, 0.001);
  const mu = Math.log(median);
  const sigma = p99 > median ? Math.log(p99 / median) / Z99 : 1e-6;
  const mean = Math.exp(mu + (sigma * sigma) / 2);
  const variance = (Math.exp(sigma * sigma) - 1) * Math.exp(2 * mu + sigma * sigma);
  const cdf = (x: number) => normalCdf((Math.log(x) - mu) / sigma);
  const bucketProbabilities: number[] = [];
  let previous = 0;
  for (const le of ISTIO_DURATION_BUCKETS_MS) {
    const c = cdf(le);
    bucketProbabilities.push(Math.max(0, c - previous));
    previous = c;
  }
  bucketProbabilities.push(Math.max(0, 1 - previous));
  return { mu, sigma, mean, variance, bucketProbabilities };
}

export function bucketIndex(ms: number): number {
  for (let i = 0; i < ISTIO_DURATION_BUCKETS_MS.length; i++) {
    if (ms <= (ISTIO_DURATION_BUCKETS_MS[i] as number)) return i;
  }
  return ISTIO_DURATION_BUCKETS_MS.length;
}

/** Above this many requests per draw, sampling each one costs more than the aggregate draw. */
const PER_REQUEST_LIMIT = 64;

/**
 * Adds n latencies to `counts` (non-cumulative, one slot per bucket plus +Inf) and returns
 * their sum. Small n: one sample per request. Large n: bucket counts from a multinomial and
 * the sum from the central limit theorem, which is what keeps 50k requests/s cheap.
 */
export function sampleLatencies(rng: Rng, model: LatencyModel, n: number, counts: Float64Array): number {
  if (n <= 0) return 0;
  if (n <= PER_REQUEST_LIMIT) {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const ms = Math.exp(model.mu + model.sigma * standardNormal(rng));
      sum += ms;
      const b = bucketIndex(ms);
      counts[b] = (counts[b] ?? 0) + 1;
    }
    return sum;
  }
  const split = multinomial(rng, n, model.bucketProbabilities);
  for (let i = 0; i < split.length; i++) counts[i] = (counts[i] ?? 0) + (split[i] ?? 0);
  return Math.max(0, n * model.mean + Math.sqrt(n * model.variance) * standardNormal(rng));
}

// Abramowitz-Stegun 7.1.26 via erf; accurate to ~1e-7, plenty for bucket probabilities.
function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}
