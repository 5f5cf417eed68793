// The simulated releases: one analysis interval at a time, canary and stable side by side,
// fixed by a seed. Sampling reuses the traffic simulator's seeded generators and Istio's
// latency buckets, so the gates see what Prometheus would show them.

import { normalCdf } from '../../analysis/compare/confidence.ts';
import {
  fitLognormal,
  ISTIO_DURATION_BUCKETS_MS,
  type LatencyModel,
  sampleLatencies,
} from '../../sandbox/traffic/latency.ts';
import { binomial, poisson, type Rng, seededRng, standardNormal } from '../../sandbox/traffic/rng.ts';

export const KINDS = [
  'healthy',
  'healthy-incident',
  'errors x1.5',
  'errors x2',
  'errors x4',
  'latency x1.5',
  'latency x2',
] as const;
export type Kind = (typeof KINDS)[number];
export const isRegression = (k: Kind) => !k.startsWith('healthy');

/** What one arm served during one interval. */
export interface Slice {
  requests: number;
  errors: number;
  /** Non-cumulative counts per Istio bucket, +Inf last. */
  buckets: Float64Array;
}

/**
 * What only the oracle knows of one interval: the stable's true error ratio and p99, and how
 * many of the canary's requests were slower than each multiple of that p99 asked for in
 * CorpusOptions.oracleLatencyFactors (drawn from the canary's true model with the canary's
 * request count, from a stream of its own so the gates' corpus is the same with or without it).
 */
export interface Truth {
  stableErrorRatio: number;
  stableP99Ms: number;
  canarySlowerThan: number[];
}

export interface Release {
  kind: Kind;
  rps: number;
  /** The service's usual error ratio and p99, from which a user sets absolute thresholds. */
  usualErrorRatio: number;
  usualP99Ms: number;
  /** 0-based interval at which a regression starts (0: from the start). */
  onset: number;
  intervals: { canary: Slice; stable: Slice; truth: Truth }[];
}

export interface CorpusOptions {
  seed: number;
  /** Looks per release (one per analysis interval). */
  intervals: number;
  intervalSeconds: number;
  /** The canary's share of traffic while it is analysed. */
  canaryWeight: number;
  /** The service's usual error ratio: log-uniform in [lo, hi]. */
  baseline?: [number, number];
  /** Shared incidents: length in intervals [min, max] and error ratio log-uniform in [lo, hi]. */
  incident?: { length: [number, number]; errorRatio: [number, number] };
  /** 0-based interval at which regressions start. */
  onset?: number;
  /** Multiples of the stable's true p99 at which the oracle counts slow canary requests. */
  oracleLatencyFactors?: number[];
}

/** The corpus the gates were tuned on (bench/RESULTS.md, Detection quality). */
export const CORPUS_A = {
  seed: 20261127,
  intervals: 10,
  intervalSeconds: 60,
  canaryWeight: 0.5,
  baseline: [0.001, 0.02],
  incident: { length: [2, 5], errorRatio: [0.02, 0.1] },
  onset: 0,
} satisfies CorpusOptions;

/**
 * The second corpus, made after the tuning and never tuned on: another seed, a higher and
 * wider baseline, a smaller canary share, shorter and more numerous looks, short sharp
 * incidents, and regressions that begin two looks into the release.
 */
export const CORPUS_B = {
  seed: 20261207,
  intervals: 20,
  intervalSeconds: 30,
  canaryWeight: 0.2,
  baseline: [0.002, 0.05],
  incident: { length: [1, 3], errorRatio: [0.05, 0.2] },
  onset: 2,
} satisfies CorpusOptions;

const logUniform = (rng: Rng, lo: number, hi: number) => lo * (hi / lo) ** rng.next();

/** P(latency ≤ ms) under a lognormal model, for the oracle's slow counts. */
function lognormalCdf(m: LatencyModel, ms: number): number {
  return normalCdf((Math.log(ms) - m.mu) / m.sigma);
}

/** A stable seed per (seed, rps, kind, index): rows do not depend on which others ran. */
function seedOf(seed: number, rps: number, kind: Kind, index: number): number {
  let h = seed ^ 0x9e3779b9;
  for (const c of `${rps}/${kind}/${index}`) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193);
  return h >>> 0;
}

function slice(rng: Rng, rps: number, seconds: number, errorRatio: number, latency: LatencyModel): Slice {
  const requests = poisson(rng, rps * seconds);
  const buckets = new Float64Array(ISTIO_DURATION_BUCKETS_MS.length + 1);
  sampleLatencies(rng, latency, requests, buckets);
  return { requests, errors: binomial(rng, requests, Math.min(1, errorRatio)), buckets };
}

/**
 * One release. The service's error ratio is log-uniform in [0.1%, 2%] and drifts (a shared
 * random walk, ±10% per interval); its p50 is 20–100 ms with p99 3–6× that. A healthy canary
 * differs from stable by realistic noise (error ratio ±5%, latency ±2%, fixed per release).
 * An incident, 2–5 intervals long, raises both arms to 2–10% errors and doubles their latency.
 * Regressions multiply the canary's error ratio or its whole latency distribution from the start.
 */
export function release(options: CorpusOptions, rps: number, kind: Kind, index: number): Release {
  // Options left out: corpus A's shape, and no oracle counts.
  const opts = { ...CORPUS_A, oracleLatencyFactors: [] as number[], ...options };
  const rng = seededRng(seedOf(opts.seed, rps, kind, index));
  const oracleRng = seededRng(seedOf(opts.seed ^ 0x5bd1e995, rps, kind, index));
  const usualErrorRatio = logUniform(rng, opts.baseline[0], opts.baseline[1]);
  const p50 = 20 + 80 * rng.next();
  const p99 = p50 * (3 + 3 * rng.next());
  const noise = { errors: 1 + 0.05 * standardNormal(rng), latency: 1 + 0.02 * standardNormal(rng) };
  const factor = { errors: 1, latency: 1 };
  if (kind.startsWith('errors')) factor.errors = Number(kind.split('x')[1]);
  else if (kind.startsWith('latency')) factor.latency = Number(kind.split('x')[1]);
  else factor.errors = Math.max(0.5, noise.errors);
  if (kind.startsWith('healthy')) factor.latency = noise.latency;
  const incident =
    kind === 'healthy-incident'
      ? {
          from: Math.floor(rng.next() * Math.max(1, opts.intervals - 2)),
          length:
            opts.incident.length[0] +
            Math.floor(rng.next() * (opts.incident.length[1] - opts.incident.length[0] + 1)),
          errorRatio: logUniform(rng, opts.incident.errorRatio[0], opts.incident.errorRatio[1]),
        }
      : undefined;
  const stableModel = fitLognormal(p50, p99);
  const models = new Map<number, LatencyModel>();
  const model = (scale: number) => {
    const key = Math.round(scale * 1000);
    let m = models.get(key);
    if (!m) {
      m = fitLognormal(p50 * scale, p99 * scale);
      models.set(key, m);
    }
    return m;
  };
  let drift = 1;
  const intervals: Release['intervals'] = [];
  for (let i = 0; i < opts.intervals; i++) {
    drift = Math.min(3, Math.max(1 / 3, drift * Math.exp(0.1 * standardNormal(rng))));
    const inIncident = incident !== undefined && i >= incident.from && i < incident.from + incident.length;
    const base = inIncident
      ? Math.max(incident.errorRatio, usualErrorRatio * drift)
      : usualErrorRatio * drift;
    const slow = inIncident ? 2 : 1;
    const regressed = i >= opts.onset || kind.startsWith('healthy');
    const canaryModel = model(slow * (regressed ? factor.latency : 1));
    const canary = slice(
      rng,
      rps * opts.canaryWeight,
      opts.intervalSeconds,
      base * (regressed ? factor.errors : 1),
      canaryModel,
    );
    const stableP99Ms = p99 * slow;
    intervals.push({
      canary,
      truth: {
        stableErrorRatio: base,
        stableP99Ms,
        canarySlowerThan: opts.oracleLatencyFactors.map((f) =>
          binomial(oracleRng, canary.requests, 1 - lognormalCdf(canaryModel, f * stableP99Ms)),
        ),
      },
      stable: slice(
        rng,
        rps * (1 - opts.canaryWeight),
        opts.intervalSeconds,
        base,
        slow === 1 ? stableModel : model(slow),
      ),
    });
  }
  return {
    kind,
    rps,
    usualErrorRatio,
    usualP99Ms: p99,
    onset: kind.startsWith('healthy') ? 0 : opts.onset,
    intervals,
  };
}
