import type { Step } from '../../crds/rollout.ts';
import type { AnalysisRun, Rollout } from '../model.ts';
import { type Paint, PLAIN, paintPhase } from './paint.ts';

/** kubectl's compact duration (`45s`, `3m12s`, `2h5m`, `4d`), so ages read the same as in `kubectl get`. */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  const d = Math.floor(h / 24);
  const pair = (a: number, ua: string, b: number, ub: string) =>
    b === 0 ? `${a}${ua}` : `${a}${ua}${b}${ub}`;
  if (s < 120) return `${s}s`;
  if (m < 10) return pair(m, 'm', s % 60, 's');
  if (h < 3) return `${m}m`;
  if (h < 8) return pair(h, 'h', m % 60, 'm');
  if (h < 48) return `${h}h`;
  if (d < 8) return pair(d, 'd', h % 24, 'h');
  if (d < 730) return `${d}d`;
  return `${Math.floor(d / 365)}y`;
}

/** Time since an ISO timestamp; `<unknown>` when absent or unparsable, as kubectl prints. */
export function age(iso: string | undefined, now: Date): string {
  const t = iso === undefined ? Number.NaN : Date.parse(iso);
  return Number.isNaN(t) ? '<unknown>' : humanDuration(now.getTime() - t);
}

export function strategyOf(rollout: Rollout): 'Canary' | 'BlueGreen' | '-' {
  const strategy = rollout.spec?.strategy;
  if (strategy?.canary) return 'Canary';
  if (strategy?.blueGreen) return 'BlueGreen';
  return '-';
}

/**
 * `3/6`: the step being worked on, counted from 1, over the step count. An index equal to the count
 * means every step is done, shown as `6/6`.
 */
export function stepProgress(rollout: Rollout): string | undefined {
  const steps = rollout.spec?.strategy?.canary?.steps;
  if (!rollout.spec?.strategy?.canary) return undefined;
  const total = steps?.length ?? 0;
  if (total === 0) return undefined;
  const index = rollout.status?.currentStepIndex;
  if (index === undefined) return `-/${total}`;
  return `${Math.min(index + 1, total)}/${total}`;
}

export function describeStep(step: Step): string {
  if (step.setWeight !== undefined) return `set weight ${step.setWeight}%`;
  if (step.pause !== undefined) {
    return step.pause.duration === undefined ? 'pause until promoted' : `pause ${step.pause.duration}`;
  }
  if (step.analysis !== undefined) {
    const gates: string[] = [];
    if (step.analysis.successRate) gates.push(`success rate ≥ ${step.analysis.successRate.min}%`);
    if (step.analysis.latencyP99) gates.push(`p99 ≤ ${step.analysis.latencyP99.maxMs}ms`);
    for (const t of step.analysis.templates ?? []) gates.push(t.templateName);
    return gates.length > 0 ? `analysis: ${gates.join(', ')}` : 'analysis';
  }
  if (step.setCanaryScale !== undefined) {
    const s = step.setCanaryScale;
    if (s.replicas !== undefined) return `scale canary to ${s.replicas} pods`;
    if (s.weight !== undefined) return `scale canary to ${s.weight}% of replicas`;
    return 'scale canary with its weight';
  }
  if (step.setHeaderRoute !== undefined) {
    const r = step.setHeaderRoute;
    if (!r.match) return `remove header route ${r.name}`;
    const matches = r.match.map((m) => {
      const v = m.headerValue;
      return v.exact !== undefined
        ? `${m.headerName}=${v.exact}`
        : v.prefix !== undefined
          ? `${m.headerName}=${v.prefix}*`
          : `${m.headerName}~${v.regex}`;
    });
    return `header route ${r.name}: ${matches.join(', ')} → canary`;
  }
  if (step.setMirrorRoute !== undefined) {
    const r = step.setMirrorRoute;
    return r.match
      ? `mirror ${r.percentage ?? 100}% of route ${r.name} to canary`
      : `remove mirror route ${r.name}`;
  }
  return 'empty step';
}

/** Where a run sits in its release: `background`, `step 3` (counted from 1), `prePromotion`… */
export function gateOf(run: AnalysisRun): string {
  const gate = run.spec?.gate;
  if (gate === undefined) return '-';
  if (gate === 'step') return run.spec.stepIndex === undefined ? 'step' : `step ${run.spec.stepIndex + 1}`;
  return gate;
}

/**
 * Each metric's verdict and its looks so far, `successRate: Successful (✔4), errorBudget: Failed
 * (✔1 ✖2)`: ✔ successful, ✖ failed, ? inconclusive, ⚠ error, as Argo Rollouts marks them.
 */
export function metricVerdicts(run: AnalysisRun, paint: Paint = PLAIN): string {
  const results = run.status?.metricResults ?? [];
  if (results.length === 0) {
    const metrics = run.spec?.metrics ?? [];
    return metrics.length === 0
      ? '-'
      : metrics.map((m) => `${m.name}: ${paintPhase(paint, 'Pending')}`).join(', ');
  }
  return results
    .map((r) => {
      const counts = [
        ['✔', r.successful],
        ['✖', r.failed],
        ['?', r.inconclusive],
        ['⚠', r.error],
      ]
        .filter(([, n]) => (n as number) > 0)
        .map(([mark, n]) => `${mark}${n}`);
      const dryRun = r.dryRun ? ' dry-run' : '';
      return `${r.name}: ${paintPhase(paint, r.phase)}${dryRun}${counts.length ? ` (${counts.join(' ')})` : ''}`;
    })
    .join(', ');
}
