// The simulated releases: one analysis interval at a time, canary and stable side by side,
// fixed by a seed. Sampling reuses the traffic simulator's seeded generators and Istio's
// latency buckets, so the gates see what Prometheus would show them.
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

export interface Release {
  kind: Kind;
  rps: number;
  /** The service's usual error ratio and p99, from which a user sets absolute thresholds. */
  usualErrorRatio: number;
  usualP99Ms: number;
  intervals: { canary: Slice; stable: Slice }[];
}

export interface CorpusOptions {
  seed: number;
  /** Looks per release (one per analysis interval). */
  intervals: number;
  intervalSeconds: number;
  /** The canary's share of traffic while it is analysed. */
  canaryWeight: number;
}

const logUniform = (rng: Rng, lo: number, hi: number) => lo * (hi / lo) ** rng.next();

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
export function release(opts: CorpusOptions, rps: number, kind: Kind, index: number): Release {
  const rng = seededRng(seedOf(opts.seed, rps, kind, index));
  const usualErrorRatio = logUniform(rng, 0.001, 0.02);
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
          length: 2 + Math.floor(rng.next() * 4),
          errorRatio: logUniform(rng, 0.02, 0.1),
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
    intervals.push({
      canary: slice(
        rng,
        rps * opts.canaryWeight,
        opts.intervalSeconds,
        base * factor.errors,
        model(slow * factor.latency),
      ),
      stable: slice(
        rng,
        rps * (1 - opts.canaryWeight),
        opts.intervalSeconds,
        base,
        slow === 1 ? stableModel : model(slow),
      ),
    });
  }
  return { kind, rps, usualErrorRatio, usualP99Ms: p99, intervals };
}
