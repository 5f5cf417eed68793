import type { GateKind, Gates } from './analysis.ts';
import type { RolloutSpec, Step } from './rollout.ts';

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
