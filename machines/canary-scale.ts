import {
  type CountOrPercent,
  type RolloutSpec,
  replicasOf,
  type SetCanaryScale,
  stepsOf,
} from '../crds/index.ts';

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
  if (weighsByPods(spec)) return share(replicas, targetWeight(spec, at));
  let rule: SetCanaryScale | undefined;
  for (const step of steps.slice(0, at.stepIndex + 1)) if (step.setCanaryScale) rule = step.setCanaryScale;
  if (rule === undefined) return replicas;
  if (rule.replicas !== undefined) return rule.replicas;
  if (rule.weight !== undefined) return share(replicas, rule.weight);
  return share(replicas, Math.max(at.weight, steps[at.stepIndex]?.setWeight ?? 0));
}

/**
 * Whether any step resizes the canary, or pods are the only way to weigh it: only then does a
 * weight wait for pods it may not have.
 */
export const resizesCanary = (spec: RolloutSpec): boolean =>
  weighsByPods(spec) || stepsOf(spec).some((step) => step.setCanaryScale !== undefined);

/** A canary without trafficRouting: its share of traffic is its share of the pods behind one Service. */
export const weighsByPods = (spec: RolloutSpec): boolean =>
  spec.strategy.canary !== undefined && spec.strategy.canary.trafficRouting === undefined;

/** The weight the release is heading for: the step about to give one, else the one it has. */
const targetWeight = (spec: RolloutSpec, at: { stepIndex: number; weight: number; promoteFull?: boolean }) =>
  at.promoteFull || at.stepIndex >= stepsOf(spec).length
    ? 100
    : Math.max(at.weight, stepsOf(spec)[at.stepIndex]?.setWeight ?? 0);

/** A count or a percent of `replicas`; percents rounded up for a surge and down for unavailability. */
export function resolveCountOrPercent(
  value: CountOrPercent | undefined,
  replicas: number,
  round: 'up' | 'down',
): number {
  const v = value ?? '25%';
  if (typeof v === 'number') return v;
  const exact = (replicas * Number(v.slice(0, -1))) / 100;
  return round === 'up' ? Math.ceil(exact) : Math.floor(exact);
}

/** A revision's ReplicaSet as the scaling needs it: pods asked for and pods available. */
export interface PodCount {
  replicas: number;
  available: number;
}

/**
 * Argo Rollouts' canary without traffic routing: the canary gets the share of the pods its
 * weight names (rounded up) and the stable the rest, reached a step at a time so that at most
 * maxSurge pods run above spec.replicas and at most maxUnavailable are missing below it: the
 * canary grows into the surge, the stable shrinks only as far as available pods allow, and the
 * next pass goes on from there. Without observations it gives the targets themselves.
 */
export function podsByWeight(
  spec: RolloutSpec,
  at: { stepIndex: number; weight: number; promoteFull?: boolean },
  now?: { canary: PodCount; stable: PodCount },
): { canary: number; stable: number } {
  const replicas = replicasOf(spec);
  const canaryTarget = share(replicas, targetWeight(spec, at));
  const stableTarget = replicas - canaryTarget;
  if (!now) return { canary: canaryTarget, stable: stableTarget };
  const surge = resolveCountOrPercent(spec.strategy.canary?.maxSurge, replicas, 'up');
  // Percents that both round to zero would leave no room to move; a Deployment then allows one
  // pod unavailable, and so does this.
  const unavailable = Math.max(
    resolveCountOrPercent(spec.strategy.canary?.maxUnavailable, replicas, 'down'),
    surge === 0 ? 1 : 0,
  );
  const floor = replicas - unavailable;
  const toward = (target: number, current: number, ceiling: number, keep: number) =>
    target >= current
      ? Math.max(current, Math.min(target, ceiling))
      : Math.max(target, Math.min(current, keep));
  return {
    canary: toward(
      canaryTarget,
      now.canary.replicas,
      replicas + surge - now.stable.replicas,
      floor - now.stable.available,
    ),
    stable: toward(
      stableTarget,
      now.stable.replicas,
      replicas + surge - now.canary.replicas,
      floor - now.canary.available,
    ),
  };
}

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
