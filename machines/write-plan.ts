import type { RoleMetadata } from '../crds/index.ts';
import type { DesiredWorld, RequestRoutes } from './desired.ts';

/**
 * What is there now, as far as the order of writes cares: read by the controller from its
 * caches, so the plan itself is pure and testable without a cluster.
 */
export interface ObservedWorld {
  /** The revision the Rollout's template stands for (the only one a pass may create). */
  templateRevision: string;
  /** Revision → spec.replicas of its ReplicaSet, for the ReplicaSets that exist. */
  replicas: Record<string, number>;
  /** Service name → the revision its selector names (undefined: none). */
  services: Record<string, string | undefined>;
  /**
   * The route, when traffic is routed and the route is there: the canary weight it gives now
   * (undefined when it cannot be read as one) and whether it already gives the desired one.
   */
  route?: { weight: number | undefined; matchesDesired: boolean };
  /** The canary's stable Service, whose move decides the order of a promotion. */
  stableService?: string;
  /** Subset routing: DestinationRule subset name → the revision its labels select (undefined: none). */
  subsets?: Record<string, string | undefined>;
  /** The stable subset, whose move decides the order of a promotion as the stable Service's does. */
  stableSubset?: string;
  /**
   * Revision → its number (1, 2, …: the order releases began), for the ReplicaSets this Rollout
   * controls: only those are history it may delete.
   */
  numbers?: Record<string, number>;
  /** Revision → the role metadata last put on its pods (absent: none). */
  podMetadata?: Record<string, RoleMetadata>;
  /** The revisions in `replicas` whose ReplicaSet is a baseline: they go whole when not wanted. */
  baselines?: string[];
}

export type Write =
  /** `of`: a baseline, running that revision's pod template under its own revision. */
  | { type: 'createReplicaSet'; revision: string; replicas: number; of?: string }
  | { type: 'scaleReplicaSet'; revision: string; from: number; to: number }
  | { type: 'pointService'; service: string; revision: string }
  /** One write for every subset that moves: the DestinationRule is one object. */
  | { type: 'pointSubsets'; revisions: Record<string, string> }
  /**
   * The canary's weight, and the header routes ahead of the weighted ones (absent: none to manage);
   * `baseline`: the baseline destination's weight (absent: no baseline destination).
   */
  | { type: 'setWeight'; weight: number; requestRoutes?: RequestRoutes; baseline?: number }
  | { type: 'deleteReplicaSet'; revision: string }
  | { type: 'setPodMetadata'; revision: string; metadata: RoleMetadata; previous: RoleMetadata };

/** A write that adds capacity: done before any traffic moves, so traffic finds ready pods. */
export const addsCapacity = (w: Write): boolean =>
  w.type === 'createReplicaSet' || (w.type === 'scaleReplicaSet' && w.to > w.from);

/**
 * The writes that make the observed world the desired one, in the order that is safe:
 * 1. capacity first: the template's ReplicaSet created, any revision that must grow grown;
 * 2. traffic: when the canary's weight falls (an abort, a rollback) and the stable Service (or
 *    subset) stays, the weight moves first — it is the fastest way off a bad canary — then the
 *    Services and subsets; otherwise those first: traffic arriving waits until they select the
 *    right pods, and a promotion points the stable Service (or subset) at the new revision before
 *    the canary weight falls to 0, or for one write the whole load would be back on the old one;
 * 3. capacity last: revisions that must shrink shrink once no traffic is sent to them;
 * 4. history: ReplicaSets already at zero beyond `desired.historyLimit` go, oldest first; a
 *    baseline no longer wanted goes whole, after the weight is off it: it is never history.
 * Revisions in `desired.keep` (a scale-down not due yet) are left as they are. An idle world
 * plans nothing.
 */
export function planWrites(observed: ObservedWorld, desired: DesiredWorld): Write[] {
  const wanted = (revision: string): number | undefined =>
    revision in desired.replicas
      ? desired.replicas[revision]
      : desired.keep.includes(revision)
        ? undefined
        : 0;
  const baselines = observed.baselines ?? [];
  const unwantedBaselines = baselines.filter((revision) => revision !== desired.baseline?.revision);
  const scales = Object.entries(observed.replicas).flatMap(([revision, from]) => {
    const to = wanted(revision);
    return to === undefined || to === from || unwantedBaselines.includes(revision)
      ? []
      : [{ type: 'scaleReplicaSet' as const, revision, from, to }];
  });
  const created = desired.replicas[observed.templateRevision];
  const create: Write[] =
    created !== undefined && !(observed.templateRevision in observed.replicas)
      ? [{ type: 'createReplicaSet', revision: observed.templateRevision, replicas: created }]
      : [];
  const baseline = desired.baseline;
  if (baseline !== undefined && !(baseline.revision in observed.replicas))
    create.push({
      type: 'createReplicaSet',
      revision: baseline.revision,
      replicas: desired.replicas[baseline.revision] ?? 0,
      of: baseline.of,
    });

  const points: Write[] = Object.entries(desired.services)
    .filter(([service, revision]) => observed.services[service] !== revision)
    .map(([service, revision]) => ({ type: 'pointService', service, revision }));
  const subsetMoves = Object.entries(desired.subsets ?? {}).filter(
    ([subset, revision]) => observed.subsets !== undefined && observed.subsets[subset] !== revision,
  );
  if (subsetMoves.length > 0)
    points.push({ type: 'pointSubsets', revisions: Object.fromEntries(subsetMoves) });
  const route = observed.route;
  const weight: Write[] =
    route && desired.weight !== undefined && !route.matchesDesired
      ? [
          {
            type: 'setWeight',
            weight: desired.weight,
            ...(desired.requestRoutes ? { requestRoutes: desired.requestRoutes } : {}),
            ...(baseline ? { baseline: baseline.weight } : {}),
          },
        ]
      : [];
  const weightFalls =
    route !== undefined &&
    desired.weight !== undefined &&
    (route.weight === undefined || desired.weight < route.weight);
  const stable = observed.stableService;
  const stableSubset = observed.stableSubset;
  const stableMoves =
    (stable !== undefined &&
      desired.services[stable] !== undefined &&
      observed.services[stable] !== desired.services[stable]) ||
    (stableSubset !== undefined &&
      desired.subsets?.[stableSubset] !== undefined &&
      observed.subsets?.[stableSubset] !== desired.subsets[stableSubset]);
  const traffic = weightFalls && !stableMoves ? [...weight, ...points] : [...points, ...weight];

  return [
    ...create,
    ...scales.filter((w) => w.to > w.from),
    ...traffic,
    ...scales.filter((w) => w.to < w.from),
    ...unwantedBaselines.map((revision) => ({ type: 'deleteReplicaSet' as const, revision })),
    ...roleMetadata(observed, desired),
    ...pastHistory(observed, desired),
  ];
}

/** The revisions whose pods' role metadata is not what their role now asks. */
function roleMetadata(observed: ObservedWorld, desired: DesiredWorld): Write[] {
  return Object.entries(desired.podMetadata ?? {}).flatMap(([revision, metadata]) => {
    const previous = observed.podMetadata?.[revision] ?? {};
    return sameMetadata(previous, metadata)
      ? []
      : [{ type: 'setPodMetadata' as const, revision, metadata, previous }];
  });
}

const sorted = (m: Record<string, string> | undefined) => JSON.stringify(Object.entries(m ?? {}).sort());
const sameMetadata = (a: RoleMetadata, b: RoleMetadata): boolean =>
  sorted(a.labels) === sorted(b.labels) && sorted(a.annotations) === sorted(b.annotations);

/**
 * The old revisions beyond the history limit, as Argo Rollouts' revisionHistoryLimit means it:
 * only ReplicaSets already at zero and not wanted again count as history, so the stable, the
 * canary, the template's revision and any revision whose scale-down is not due are never
 * deleted; of the rest the newest `historyLimit` stay (for `kubectl sluice undo`).
 */
function pastHistory(observed: ObservedWorld, desired: DesiredWorld): Write[] {
  const limit = desired.historyLimit;
  const numbers = observed.numbers;
  if (limit === undefined || numbers === undefined) return [];
  const history = Object.entries(observed.replicas)
    .filter(
      ([revision, replicas]) =>
        replicas === 0 &&
        revision in numbers &&
        revision !== observed.templateRevision &&
        !desired.keep.includes(revision) &&
        !desired.replicas[revision],
    )
    .map(([revision]) => revision)
    .sort((a, b) => (numbers[b] ?? 0) - (numbers[a] ?? 0));
  return history.slice(limit).map((revision) => ({ type: 'deleteReplicaSet' as const, revision }));
}
