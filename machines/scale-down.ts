import type { ScaleDownEntry } from './context.ts';
import type { Millis } from './events.ts';

/** Schedules `revision` to go to zero at `at`, replacing an earlier plan for it. */
export const scheduleScaleDown = (plan: ScaleDownEntry[], revision: string, at: Millis): ScaleDownEntry[] => [
  ...cancelScaleDown(plan, revision),
  { revision, at },
];

/** A revision that serves again (retry, re-release) must not be scaled down by an old plan. */
export const cancelScaleDown = (plan: ScaleDownEntry[], revision: string | undefined): ScaleDownEntry[] =>
  plan.filter((entry) => entry.revision !== revision);

export const scaleDownDue = (plan: ScaleDownEntry[], now: Millis): boolean => plan.some((e) => e.at <= now);

/** The plan without the scale-downs that came due (the desired world no longer keeps them up). */
export const flushScaleDown = (plan: ScaleDownEntry[], now: Millis): ScaleDownEntry[] =>
  plan.filter((e) => e.at > now);
