// How many looks compareToStable takes for a first verdict before the release holds for a
// person. A sequential test needs time, not a number of looks: the budget is a duration the
// gate states (maxDuration), else the time the Rollout already allows a release to stall
// (its progress deadline), turned into looks at the gate's interval. A count (steps) or an
// inconclusiveLimit (background) the gate sets is a stated maximum and wins.
import type { GateKind, Gates } from '../../crds/index.ts';
import { DEFAULTS, parseDuration } from '../../crds/index.ts';

export interface LookBudget {
  /** Looks before the gate gives up on a first verdict; 0 for a step only when count says so. */
  looks: number;
  /** What set it, in the gate's own terms, for the message when it runs out. */
  limit: string;
}

export function lookBudget(
  gates: Gates,
  gate: GateKind,
  progressDeadlineSeconds: number = DEFAULTS.progressDeadlineSeconds,
): LookBudget {
  if (gate !== 'background' && gates.count !== undefined)
    return { looks: gates.count, limit: `count ${gates.count}` };
  if (gate === 'background' && gates.inconclusiveLimit !== undefined)
    return { looks: gates.inconclusiveLimit + 1, limit: `inconclusiveLimit ${gates.inconclusiveLimit}` };
  const stated = gates.compareToStable?.maxDuration;
  const ms = stated === undefined ? progressDeadlineSeconds * 1000 : parseDuration(stated);
  const looks = Math.max(1, Math.ceil(ms / parseDuration(gates.interval ?? DEFAULTS.interval)));
  return {
    looks,
    limit:
      stated === undefined ? `the progress deadline, ${progressDeadlineSeconds}s` : `maxDuration ${stated}`,
  };
}
