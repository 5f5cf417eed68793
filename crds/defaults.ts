import type { Gates } from './analysis.ts';
import type { BlueGreenStrategy, CanaryStrategy, RolloutSpec } from './rollout.ts';

// Defaults live in code, not in the CRD: a defaulted field would appear in the live object
// but not in git, and GitOps tools would report a permanent diff.
export const DEFAULTS = {
  replicas: 1,
  progressDeadlineSeconds: 600,
  scaleDownDelaySeconds: 30,
  abortScaleDownDelaySeconds: 30,
  autoPromotionEnabled: true,
  interval: '30s',
  failureLimit: 0,
  inconclusiveLimit: 0,
  consecutiveErrorLimit: 4,
} as const;

export const replicasOf = (spec: RolloutSpec): number => spec.replicas ?? DEFAULTS.replicas;
export const progressDeadlineMs = (spec: RolloutSpec): number =>
  (spec.progressDeadlineSeconds ?? DEFAULTS.progressDeadlineSeconds) * 1000;
/**
 * The delays give a mesh or a Service time to stop sending to the old pods. A canary without
 * trafficRouting has none to wait for: its pods leave as its share does (as in Argo Rollouts,
 * where both delays apply only with traffic routing).
 */
const delayed = (s: CanaryStrategy | BlueGreenStrategy): boolean =>
  'activeService' in s || s.trafficRouting !== undefined;
export const scaleDownDelayMs = (s: CanaryStrategy | BlueGreenStrategy): number =>
  delayed(s) ? (s.scaleDownDelaySeconds ?? DEFAULTS.scaleDownDelaySeconds) * 1000 : 0;
export const abortScaleDownDelayMs = (s: CanaryStrategy | BlueGreenStrategy): number =>
  delayed(s) ? (s.abortScaleDownDelaySeconds ?? DEFAULTS.abortScaleDownDelaySeconds) * 1000 : 0;
export const gateLimits = (g: Gates) => ({
  failureLimit: g.failureLimit ?? DEFAULTS.failureLimit,
  inconclusiveLimit: g.inconclusiveLimit ?? DEFAULTS.inconclusiveLimit,
  consecutiveErrorLimit: g.consecutiveErrorLimit ?? DEFAULTS.consecutiveErrorLimit,
});
