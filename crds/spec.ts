import type { GateKind, Gates } from './analysis.ts';
import type { PodTemplate, RolloutSpec, Step } from './rollout.ts';

// Questions asked of a Rollout's spec by the machines, the analysis side and the CLI alike.

export const stepsOf = (spec: RolloutSpec): Step[] => spec.strategy.canary?.steps ?? [];

/** The gates a Rollout puts at this position of a release, if any. */
export function gatesFor(spec: RolloutSpec, gate: GateKind, stepIndex?: number): Gates | undefined {
  const { canary, blueGreen } = spec.strategy;
  if (gate === 'background') return canary?.analysis;
  if (gate === 'step') return stepIndex === undefined ? undefined : canary?.steps?.[stepIndex]?.analysis;
  if (gate === 'prePromotion') return blueGreen?.prePromotionAnalysis;
  return blueGreen?.postPromotionAnalysis;
}

/**
 * The Rollout's own pod template, for code that only ever meets Rollouts that carry one (tests,
 * fixtures); the controller resolves a workloadRef's template from its Deployment instead.
 */
export function templateOf(spec: RolloutSpec): PodTemplate {
  if (!spec.template) throw new Error('spec.template is absent: this Rollout names a workloadRef');
  return spec.template;
}
