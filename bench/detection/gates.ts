// The four ways of judging a release, each fed the same intervals. Peers are modelled from
// their documentation: Flagger counts failed checks (any builtin out of its thresholdRange over
// the interval, or no data) and rolls back at `threshold`; Argo Rollouts counts failed
// measurements per metric (successCondition false, NaN included) and fails past failureLimit.
// Sluice's own gates run through the controller's code: resolveMetrics, then the absolute
// builtins' judge on each interval's counts, or the compareToStable judge on cumulative counts.

import { initialTransition } from 'xstate';
import { judgeAbsoluteSamples } from '../../analysis/absolute-look.ts';
import { type Bucket, quantile } from '../../analysis/compare/histogram.ts';
import { judgeSamples } from '../../analysis/compare/measure.ts';
import type { Sample } from '../../analysis/provider.ts';
import { resolveMetrics } from '../../analysis/resolve.ts';
import { step } from '../../analysis/run-state.ts';
import type { CompareToStable, RunMetric } from '../../crds/index.ts';
import { type AnalysisRunEvent, analysisRunMachine, toRunStatus } from '../../machines/analysis-run.ts';
import { ISTIO_DURATION_BUCKETS_MS } from '../../sandbox/traffic/latency.ts';
import type { Release, Slice } from './corpus.ts';

/** What a gate did with one release: looks are 1-based interval numbers. */
export interface Outcome {
  rolledBackAt?: number;
  /** Sluice only: paused (absolute: inconclusive) or never decided (compare), i.e. not promoted. */
  held?: boolean;
  /** Sluice absolute: still holding for a shared incident at the last look (it resumes by itself once it ends). */
  incidentHeld?: boolean;
  /** Sluice absolute: its newest look undecided at the last look: the release waits for the next one, no person needed. */
  waiting?: boolean;
}

export interface Gate {
  name: string;
  judge(release: Release): Outcome;
}

const BOUNDS = [...ISTIO_DURATION_BUCKETS_MS, Number.POSITIVE_INFINITY];

function cumulative(buckets: Float64Array): Bucket[] {
  let sum = 0;
  return BOUNDS.map((le, i) => {
    sum += buckets[i] ?? 0;
    return { le, count: sum };
  });
}

/** The thresholds a user would write for this service: headroom over its usual numbers. */
export function thresholds(r: Release): { minSuccessPercent: number; maxP99Ms: number } {
  return {
    minSuccessPercent: 100 - Math.max(1, 300 * r.usualErrorRatio),
    maxP99Ms: Math.round(2 * r.usualP99Ms),
  };
}

const successPercent = (s: Slice) =>
  s.requests > 0 ? (100 * (s.requests - s.errors)) / s.requests : Number.NaN;
const p99 = (s: Slice) =>
  s.requests > 0 ? (quantile(cumulative(s.buckets), 0.99) ?? Number.NaN) : Number.NaN;

export function flagger(threshold: number): Gate {
  return {
    name: `Flagger-style (threshold ${threshold})`,
    judge(r) {
      const t = thresholds(r);
      let failed = 0;
      for (const [i, { canary }] of r.intervals.entries()) {
        const sr = successPercent(canary);
        const lat = p99(canary);
        // No values found counts as a failed check, as Flagger's analysis does.
        const ok = sr >= t.minSuccessPercent && lat <= t.maxP99Ms;
        if (!ok) failed++;
        if (failed >= threshold) return { rolledBackAt: i + 1 };
      }
      return {};
    },
  };
}

export function argo(failureLimit: number): Gate {
  return {
    name: `Argo-style (failureLimit ${failureLimit})`,
    judge(r) {
      const t = thresholds(r);
      const failed = { success: 0, latency: 0 };
      for (const [i, { canary }] of r.intervals.entries()) {
        // successCondition false is a failed measurement; NaN compares false.
        if (!(successPercent(canary) / 100 >= t.minSuccessPercent / 100)) failed.success++;
        if (!(p99(canary) <= t.maxP99Ms)) failed.latency++;
        if (failed.success > failureLimit || failed.latency > failureLimit) return { rolledBackAt: i + 1 };
      }
      return {};
    },
  };
}

/** confidence / minRequests of the absolute builtins; absent: the controller's defaults. */
export interface AbsoluteOptions {
  confidence?: number;
  minRequests?: number;
}

const resolve = (gates: Parameters<typeof resolveMetrics>[0]['gates']): RunMetric[] =>
  resolveMetrics({
    gates,
    gate: 'background',
    namespace: 'bench',
    service: 'canary',
    stableService: 'stable',
    templates: new Map(),
  });

/**
 * The absolute builtins as a background gate, through the controller's own code: each look
 * judges one interval's counts of canary and stable (judgeAbsoluteSamples), and the run's own
 * bookkeeping (machines/analysis-run.ts, inconclusiveLimit 0) says what the release does with
 * it. Failed rolls back; Inconclusive or Error pauses for a person; a shared incident holds the
 * release until a look passes again, then it carries on by itself; at the last look a gate not
 * passing then (its newest answer undecided) keeps the release waiting for its next look.
 */
export function sluiceAbsolute(intervalSeconds: number, options: AbsoluteOptions = {}): Gate {
  return {
    name: 'Sluice absolute builtins',
    judge(r) {
      const t = thresholds(r);
      const metrics = resolve({
        interval: `${intervalSeconds}s`,
        successRate: { min: t.minSuccessPercent, ...options },
        latencyP99: { maxMs: t.maxP99Ms, ...options },
      });
      let run = initialTransition(analysisRunMachine, {
        metrics: metrics.map((m) => ({ name: m.name, inconclusiveLimit: 0 })),
      })[0];
      for (let i = 0; i < r.intervals.length; i++) {
        const samples = samplesUpTo(r, i + 1, i);
        // Each builtin's query returns its own series: request counts, or duration buckets.
        const events = metrics.map((m): AnalysisRunEvent => {
          const look = judgeAbsoluteSamples(
            m,
            samples.filter((s) => (s.labels.le !== undefined) === (m.builtin === 'latencyP99')),
          );
          return {
            type: 'MEASURE',
            now: i,
            metric: m.name,
            phase: look.phase,
            absolute: look.absolute,
            ...(look.sharedIncident ? { sharedIncident: true } : {}),
          };
        });
        run = step(run, events);
        const phase = toRunStatus(run).phase;
        if (phase === 'Failed') return { rolledBackAt: i + 1 };
        if (phase === 'Inconclusive' || phase === 'Error') return { held: true };
      }
      const end = toRunStatus(run);
      if (end.sharedIncident) return { incidentHeld: true };
      return end.phase === 'Running' ? {} : { waiting: true };
    },
  };
}

/** The samples Prometheus would return for the compare queries over looks from+1..n. */
function samplesUpTo(r: Release, n: number, from = 0): Sample[] {
  const out: Sample[] = [];
  for (const arm of ['canary', 'stable'] as const) {
    let requests = 0;
    let errors = 0;
    const buckets = new Float64Array(BOUNDS.length);
    for (const iv of r.intervals.slice(from, n)) {
      requests += iv[arm].requests;
      errors += iv[arm].errors;
      iv[arm].buckets.forEach((c, i) => {
        buckets[i] = (buckets[i] ?? 0) + c;
      });
    }
    const name = { destination_service_name: arm };
    out.push({ labels: { ...name, response_code: '200' }, value: requests - errors });
    out.push({ labels: { ...name, response_code: '500' }, value: errors });
    for (const b of cumulative(buckets)) {
      out.push({ labels: { ...name, le: Number.isFinite(b.le) ? String(b.le) : '+Inf' }, value: b.count });
    }
  }
  return out;
}

export function compareToStable(intervalSeconds: number, config: CompareToStable): Gate {
  const metrics = resolve({ interval: `${intervalSeconds}s`, compareToStable: config });
  return {
    name: 'Sluice compareToStable',
    judge(r) {
      const passed = new Set<string>();
      for (let n = 1; n <= r.intervals.length; n++) {
        const samples = samplesUpTo(r, n);
        for (const m of metrics) {
          const look = judgeSamples(m, samples);
          if (look.phase === 'Failed') return { rolledBackAt: n };
          if (look.phase === 'Successful') passed.add(m.name);
        }
      }
      // Background semantics: promotion needs every metric to have passed at least once.
      return passed.size === metrics.length ? {} : { held: true };
    },
  };
}
