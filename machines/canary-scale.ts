import { type RolloutSpec, replicasOf, type SetCanaryScale, stepsOf } from '../crds/index.ts';

/** Percent of the Rollout's replicas, rounded up: a canary with any share has at least one pod. */
const share = (replicas: number, percent: number): number => Math.ceil((replicas * percent) / 100);

/**
 * How many pods the canary runs at, as Argo Rollouts' setCanaryScale means it. Until a step
 * says otherwise the canary runs at full size (Sluice's default, as Flagger's: any weight finds
 * its pods). The last setCanaryScale at or before the current step rules: a count, a percent,
 * or `matchTrafficWeight`, which sizes it to the larger of its weight and the weight the current
 * step is about to give it, so the pods are there before the traffic. Once the steps are done,
 * or a full promotion is asked for, the canary is about to take everything: full size.
 */
export function canaryReplicas(
  spec: RolloutSpec,
  at: { stepIndex: number; weight: number; promoteFull?: boolean },
): number {
  const replicas = replicasOf(spec);
  const steps = stepsOf(spec);
  if (at.promoteFull || at.stepIndex >= steps.length) return replicas;
  let rule: SetCanaryScale | undefined;
  for (const step of steps.slice(0, at.stepIndex + 1)) if (step.setCanaryScale) rule = step.setCanaryScale;
  if (rule === undefined) return replicas;
  if (rule.replicas !== undefined) return rule.replicas;
  if (rule.weight !== undefined) return share(replicas, rule.weight);
  return share(replicas, Math.max(at.weight, steps[at.stepIndex]?.setWeight ?? 0));
}

/** Whether any step resizes the canary: only then does a weight wait for pods it may not have. */
export const resizesCanary = (spec: RolloutSpec): boolean =>
  stepsOf(spec).some((step) => step.setCanaryScale !== undefined);

/** What the canary needs at the release's current point, from the context the machine keeps. */
export const canaryReplicasNow = (ctx: {
  spec: RolloutSpec;
  stepIndex: number;
  weight: number;
  promoteFull: boolean;
}): number => canaryReplicas(ctx.spec, ctx);

/** Whether this observation shows the canary with the available pods its current step needs. */
export const hasCanaryPods = (
  ctx: { spec: RolloutSpec; stepIndex: number; weight: number; promoteFull: boolean },
  event: { type: string; canaryAvailable?: number },
): boolean => event.type === 'OBSERVE' && (event.canaryAvailable ?? 0) >= canaryReplicasNow(ctx);
