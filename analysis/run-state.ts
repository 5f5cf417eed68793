// The AnalysisRun object <-> the bookkeeping machine (machines/analysis-run.ts): restore the
// machine from status, feed it measurements, and write what it says back as status.
import { initialTransition, transition } from 'xstate';
import type { AnalysisPhase, AnalysisRun, AnalysisRunStatus, RunMetric } from '../crds/index.ts';
import { DEFAULTS } from '../crds/index.ts';
import {
  type AnalysisRunEvent,
  type AnalysisRunSnapshot,
  analysisRunMachine,
  isNoData,
  type MetricLimits,
  toRunStatus,
} from '../machines/analysis-run.ts';

export const TERMINAL: readonly AnalysisPhase[] = ['Successful', 'Failed', 'Inconclusive', 'Error'];
export const isTerminal = (phase: AnalysisPhase | undefined) =>
  phase !== undefined && TERMINAL.includes(phase);

export const REASON_INVALID = 'InvalidAnalysis';
export const REASON_UNREACHABLE = 'PrometheusUnreachable';

const limitsOf = (m: RunMetric): MetricLimits => ({
  name: m.name,
  ...(m.count === undefined ? {} : { count: m.count }),
  ...(m.failureLimit === undefined ? {} : { failureLimit: m.failureLimit }),
  ...(m.inconclusiveLimit === undefined ? {} : { inconclusiveLimit: m.inconclusiveLimit }),
  ...(m.consecutiveErrorLimit === undefined ? {} : { consecutiveErrorLimit: m.consecutiveErrorLimit }),
  ...(m.dryRun ? { dryRun: true } : {}),
  ...(m.compare ? { sequential: true } : {}),
});

const STATE_OF: Record<AnalysisPhase, string> = {
  Pending: 'pending',
  Running: 'running',
  Successful: 'successful',
  Failed: 'failed',
  Inconclusive: 'inconclusive',
  Error: 'error',
};

/** The machine as the run's status left it (status is the truth; nothing lives in memory). */
export function restore(run: AnalysisRun): AnalysisRunSnapshot {
  const metrics = run.spec.metrics.map(limitsOf);
  const [initial] = initialTransition(analysisRunMachine, { metrics });
  const status = run.status;
  if (!status?.phase) return initial;
  const saved = new Map((status.metricResults ?? []).map((r) => [r.name, r]));
  const results = initial.context.results.map((r) => saved.get(r.name) ?? r);
  const at = (iso?: string) => (iso ? Date.parse(iso) : undefined);
  return analysisRunMachine.resolveState({
    value: STATE_OF[status.phase],
    context: {
      metrics,
      results,
      ...(status.startedAt ? { startedAt: at(status.startedAt) } : {}),
      ...(status.finishedAt ? { finishedAt: at(status.finishedAt) } : {}),
    },
  });
}

export function step(snapshot: AnalysisRunSnapshot, events: AnalysisRunEvent[]): AnalysisRunSnapshot {
  let s = snapshot;
  for (const e of events) [s] = transition(analysisRunMachine, s, e);
  return s;
}

/** Status for the run: the machine's bookkeeping plus a message naming what decided it. */
export function statusOf(
  run: AnalysisRun,
  snapshot: AnalysisRunSnapshot,
  terminated = false,
): AnalysisRunStatus {
  const base = toRunStatus(snapshot);
  const out: AnalysisRunStatus = {
    ...base,
    ...(run.status?.conditions ? { conditions: run.status.conditions } : {}),
    // Recorded by the runner when the canary's traffic began; the machine does not keep it.
    ...(run.status?.trafficSince ? { trafficSince: run.status.trafficSince } : {}),
    // Worked out by the runner at the run's start (controller/analysis/detectability.ts).
    ...(run.status?.detectability ? { detectability: run.status.detectability } : {}),
  };
  const decided = explain(run, base.phase, base.metricResults ?? [], terminated);
  if (decided.message) out.message = decided.message;
  if (decided.reason) out.reason = decided.reason;
  return out;
}

function explain(
  run: AnalysisRun,
  phase: AnalysisPhase,
  results: NonNullable<AnalysisRunStatus['metricResults']>,
  terminated: boolean,
): { message?: string; reason?: string } {
  const metricOf = (name: string) => run.spec.metrics.find((m) => m.name === name);
  if (phase === 'Pending' || phase === 'Running') {
    const pending = results.filter((r) => !r.dryRun && r.phase === 'Pending');
    // A sequential metric that has looked but not yet decided says what it saw.
    const undecided = pending
      .filter((r) => r.count > 0)
      .map((r) => `${r.name} undecided after ${r.count} looks: ${r.measurements.at(-1)?.message ?? ''}`);
    const waiting = pending.filter((r) => r.count === 0).map((r) => r.name);
    const incidents = results
      .filter((r) => !r.dryRun && r.sharedIncident)
      .map((r) => `${r.name} holds: ${r.sharedIncident}`);
    const parts = [
      ...incidents,
      ...undecided,
      ...(waiting.length ? [`waiting for a first measurement of ${waiting.join(', ')}`] : []),
    ];
    return parts.length ? { message: parts.join('; ') } : {};
  }
  if (phase === 'Successful') {
    return {
      message: terminated ? 'stopped; every gating measurement taken passed' : 'every gating metric passed',
    };
  }
  const culprit = results.find((r) => !r.dryRun && r.phase === phase);
  if (!culprit) {
    // Terminated before every metric had a measurement: inconclusive, never a silent pass.
    const missing = results.filter((r) => !r.dryRun && r.phase === 'Pending').map((r) => r.name);
    return {
      message: `stopped before ${missing.join(', ') || 'every metric'} had a measurement`,
      reason: phase,
    };
  }
  const metric = metricOf(culprit.name);
  const last =
    [...culprit.measurements].reverse().find((m) => m.phase === phase) ?? culprit.measurements.at(-1);
  const detail = last?.message ?? (last?.value !== undefined ? `value ${last.value}` : '');
  if (phase === 'Failed') {
    const limit = metric?.failureLimit ?? DEFAULTS.failureLimit;
    return {
      message: `metric ${culprit.name} failed: ${detail} (${culprit.failed} failed, limit ${limit})`,
      reason: 'Failed',
    };
  }
  if (phase === 'Error') {
    const limit = metric?.consecutiveErrorLimit ?? DEFAULTS.consecutiveErrorLimit;
    const unreachable = /cannot be reached|did not answer in time/.test(detail);
    const why =
      culprit.consecutiveError > limit
        ? `${culprit.consecutiveError} consecutive errors (limit ${limit})`
        : `${culprit.count} measurements, none successful (${culprit.error} errors)`;
    return {
      message: `metric ${culprit.name}: ${why}: ${detail}`,
      reason: unreachable ? REASON_UNREACHABLE : 'Error',
    };
  }
  if (metric?.compare) {
    // The limit in the gate's own terms tells the reader which field buys the test more time.
    const limit = metric.compare.budget === undefined ? '' : ` (${metric.compare.budget})`;
    return {
      message: `metric ${culprit.name}: no verdict after ${culprit.count} looks${limit}: ${detail}`,
      reason: 'Inconclusive',
    };
  }
  const newest = culprit.measurements.at(-1);
  if (isNoData(newest)) {
    const limit = metric?.consecutiveErrorLimit ?? DEFAULTS.consecutiveErrorLimit;
    return {
      message: `metric ${culprit.name} inconclusive: ${newest?.message ?? 'no data'} (${culprit.consecutiveError} looks in a row, consecutiveErrorLimit ${limit})`,
      reason: 'Inconclusive',
    };
  }
  const limit = metric?.inconclusiveLimit ?? DEFAULTS.inconclusiveLimit;
  return {
    message: `metric ${culprit.name} inconclusive: ${detail} (${culprit.inconclusive} inconclusive, limit ${limit})`,
    reason: 'Inconclusive',
  };
}
