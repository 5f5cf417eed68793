// Validating a Rollout with zod costs more CPU than deciding its next step (a CPU profile of
// bench/scale at 100 Rollouts: parseResource ~25% of reconcile time), and a Rollout is
// reconciled many times per version (every ReplicaSet, run and Service change enqueues it).
// Informer objects are never mutated, only replaced, so one parse per object is enough.
import { type Parsed, parseResource } from '../crds/index.ts';

const parsedRollouts = new WeakMap<object, Parsed<'Rollout'>>();

export function parseRollout(raw: object): Parsed<'Rollout'> {
  let parsed = parsedRollouts.get(raw);
  if (!parsed) {
    parsed = parseResource('Rollout', raw);
    parsedRollouts.set(raw, parsed);
  }
  return parsed;
}
