// The oracle: what an exact test could catch on the same intervals if it knew what no gate can
// know — the stable's true error ratio and p99 in every interval, and when the regression
// began. It asks the gates' question (is the canary worse than the allowed increase?) with an
// exact one-sided binomial test at each look over the counts since the onset, at α / looks per
// look (Bonferroni), so over a whole release it raises a false alarm at most α of the time,
// the level the Sluice gates are held to. A gate's catch rate is reported as a share of its.

import type { Release } from './corpus.ts';
import type { Outcome } from './gates.ts';

export interface OracleConfig {
  /** The false-alarm level over the whole release (1 − confidence). */
  alpha: number;
  /** The allowed relative increase of the error ratio, percent (compareToStable errors). */
  errorIncreasePercent: number;
  /** Index into Truth.canarySlowerThan: the count above (1 + p99 allowance) × the stable's true p99. */
  latencyFactorIndex: number;
}

/** ln Γ(x), Lanczos (g = 7, n = 9): plenty for binomial tails. */
function logGamma(x: number): number {
  const c = [
    0.9999999999998099, 676.5203681218851, -1259.1392167224028, 771.3234287776531, -176.6150291621406,
    12.507343278686905, -0.13857109526572012, 9.984369578019572e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = c[0] as number;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += (c[i] as number) / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

const logPmf = (j: number, n: number, p: number) =>
  logGamma(n + 1) - logGamma(j + 1) - logGamma(n - j + 1) + j * Math.log(p) + (n - j) * Math.log1p(-p);

/**
 * P(X ≥ k) for X ~ Binomial(n, p), summed exactly term by term away from the mean (upwards
 * from k above it; below it, one minus the terms downwards from k − 1), stopping when terms no
 * longer change the sum.
 */
export function binomialUpperTail(k: number, n: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n || p <= 0) return 0;
  if (p >= 1) return 1;
  const odds = p / (1 - p);
  let sum = 0;
  if (k > n * p) {
    let log = logPmf(k, n, p);
    for (let j = k; j <= n; j++) {
      const term = Math.exp(log);
      sum += term;
      if (term < sum * 1e-15) break;
      log += Math.log((n - j) / (j + 1)) + Math.log(odds);
    }
    return Math.min(1, sum);
  }
  let log = logPmf(k - 1, n, p);
  for (let j = k - 1; j >= 0; j--) {
    const term = Math.exp(log);
    sum += term;
    if (term < sum * 1e-15) break;
    log += Math.log(j / (n - j + 1)) - Math.log(odds);
  }
  return Math.max(0, 1 - sum);
}

/**
 * One exact test over intervals onset..n: `hits` of `requests` against the null rate. With a
 * rate that changes per interval (the stable drifts), the null is the binomial at the
 * request-weighted mean rate: a sum of binomials with unequal rates is less spread than that,
 * so the test stays at or under its level.
 */
function rejects(hits: number, requests: number, nullHits: number, alpha: number): boolean {
  if (requests <= 0) return false;
  return binomialUpperTail(hits, requests, Math.min(1, nullHits / requests)) <= alpha;
}

export function oracle(config: OracleConfig, test: 'errors' | 'latency' | 'both') {
  const tests = test === 'both' ? (['errors', 'latency'] as const) : ([test] as const);
  return {
    name: 'Oracle (exact, knows stable and onset)',
    judge(r: Release): Outcome {
      const looks = r.intervals.length - r.onset;
      // Each test at α / looks per look; with two tests (healthy rows) each gets half.
      const alpha = config.alpha / looks / tests.length;
      const k = 1 + config.errorIncreasePercent / 100;
      const sum = { requests: 0, errors: 0, nullErrors: 0, slow: 0 };
      for (let i = r.onset; i < r.intervals.length; i++) {
        const iv = r.intervals[i] as Release['intervals'][number];
        sum.requests += iv.canary.requests;
        sum.errors += iv.canary.errors;
        sum.nullErrors += iv.canary.requests * Math.min(1, k * iv.truth.stableErrorRatio);
        sum.slow += iv.truth.canarySlowerThan[config.latencyFactorIndex] ?? 0;
        const caught = tests.some((t) =>
          t === 'errors'
            ? rejects(sum.errors, sum.requests, sum.nullErrors, alpha)
            : rejects(sum.slow, sum.requests, 0.01 * sum.requests, alpha),
        );
        if (caught) return { rolledBackAt: i + 1 };
      }
      return {};
    },
  };
}
