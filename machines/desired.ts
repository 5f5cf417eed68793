import { parseDuration } from '../crds/duration.ts';
import {
  type CanaryStrategy,
  type HeaderMatch,
  type RoleMetadata,
  type RolloutSpec,
  type RolloutStatus,
  type RouteMatch,
  replicasOf,
} from '../crds/index.ts';
import { canaryReplicas, type PodCount, podsByWeight, weighsByPods } from './canary-scale.ts';
import type { Millis } from './events.ts';

/**
 * The world a status stands for, level-triggered: what each revision's ReplicaSet runs, what
 * each Service selects and what weight the mesh gives the new revision. The controller makes
 * the world match this on every reconcile, so a missed effect or a hand edit is repaired, and
 * `kubectl scale` (spec.replicas) reaches every serving revision without a release.
 */
export interface DesiredWorld {
  /** Revision → replicas. Revisions not listed go to zero, except those in `keep`. */
  replicas: Record<string, number>;
  /** Revisions whose scale-down is scheduled but not due: left exactly as they are. */
  keep: string[];
  /** Service name → revision it selects. */
  services: Record<string, string>;
  /** Subset routing: DestinationRule subset name → the revision its labels select. */
  subsets?: Record<string, string>;
  /** Percent of traffic the VirtualService gives the new revision, when traffic is routed. */
  weight?: number;
  /**
   * baselineService, while a release runs: a fresh copy of the stable (`of`) under its own
   * revision, in `replicas` at the canary's size, taking `weight` percent. Absent: no baseline
   * ReplicaSet and no baseline destination in the route.
   */
  baseline?: Baseline;
  /**
   * Routes by request (setHeaderRoute, setMirrorRoute steps taken so far), in the order they go
   * ahead of the user's routes; with `managed`, every name Sluice owns.
   */
  requestRoutes?: RequestRoutes;
  /** How many old revisions, already at zero, keep their ReplicaSet (spec.revisionHistoryLimit). */
  historyLimit?: number;
  /** Revision → the labels and annotations its pods carry for their role (canary/stableMetadata). */
  podMetadata?: Record<string, RoleMetadata>;
}

export interface Baseline {
  revision: string;
  /** The revision whose pod template the baseline runs: the stable's. */
  of: string;
  weight: number;
}

/**
 * The revision label of a stable's baseline: its own value, so the stable Service (which selects
 * the stable's value alone) never sends the stable's share to the baseline's pods.
 */
export const baselineRevisionOf = (stable: string): string => `${stable}-baseline`;

/**
 * The baseline's share: as much as the canary's, so both are measured under the same load, and
 * never more than the stable has left to give.
 */
export const baselineWeight = (canaryWeight: number): number => Math.min(canaryWeight, 100 - canaryWeight);

/** A route Sluice puts ahead of the user's: by header to the canary alone, or mirroring to it. */
export type RequestRoute =
  | { name: string; header: HeaderMatch[] }
  | { name: string; mirror: { match: RouteMatch[]; percentage: number } };

export interface RequestRoutes {
  /** The routes wanted now, in order. */
  wanted: RequestRoute[];
  /** Every route name the Rollout may add: any of them not wanted is removed. */
  managed: string[];
  /**
   * sessionAffinity: the cookie Sluice sets and routes by. `revision` (the cookie's value, the
   * canary's revision) only while a release wants sessions kept on its canary; without it the
   * sticky routes and cookies are taken down.
   */
  session?: Session;
}

export interface Session {
  cookieName: string;
  maxAgeSeconds: number;
  revision?: string;
}

/** Flagger's default cookie lifetime. */
export const DEFAULT_SESSION_MAX_AGE_S = 86_400;

/**
 * The header and mirror routes of the steps a canary has taken: the last step of each name wins
 * (one without `match` removes it), in managedRoutes' order or else the order first set.
 */
export function requestRoutesAt(
  canary: CanaryStrategy,
  stepIndex: number,
  releasing: boolean,
  /** The canary's revision, for sessionAffinity's cookie. */
  revision?: string,
): RequestRoutes {
  const steps = canary.steps ?? [];
  const named = steps.flatMap((s) =>
    [s.setHeaderRoute?.name, s.setMirrorRoute?.name].filter((n) => n !== undefined),
  );
  const managed = [
    ...new Set([...(canary.trafficRouting?.managedRoutes ?? []).map((m) => m.name), ...named]),
  ];
  const current = new Map<string, RequestRoute>();
  if (releasing) {
    for (const step of steps.slice(0, stepIndex)) {
      const header = step.setHeaderRoute;
      const mirror = step.setMirrorRoute;
      if (header?.match) current.set(header.name, { name: header.name, header: header.match });
      else if (header) current.delete(header.name);
      if (mirror?.match)
        current.set(mirror.name, {
          name: mirror.name,
          mirror: { match: mirror.match, percentage: mirror.percentage ?? 100 },
        });
      else if (mirror) current.delete(mirror.name);
    }
  }
  const wanted = managed.flatMap((name) => {
    const route = current.get(name);
    return route ? [route] : [];
  });
  const affinity = canary.sessionAffinity;
  if (!affinity) return { wanted, managed };
  const session: Session = {
    cookieName: affinity.cookieName,
    maxAgeSeconds: affinity.maxAge
      ? Math.floor(parseDuration(affinity.maxAge) / 1000)
      : DEFAULT_SESSION_MAX_AGE_S,
    ...(releasing && revision !== undefined && { revision }),
  };
  return { wanted, managed, session };
}

/** Argo Rollouts' default for revisionHistoryLimit. */
export const DEFAULT_HISTORY_LIMIT = 10;

/** What some decisions pace themselves by: the world as the pass found it. */
export interface Seen {
  /** Revision → pods asked for and available. */
  pods?: Record<string, PodCount>;
  /** The canary's weight in the VirtualServices now (the highest, with several). */
  canaryWeight?: number;
}

/**
 * `seen` paces what must not move faster than pods become available: a canary without traffic
 * routing (within maxSurge and maxUnavailable) and the way back from an abort under
 * dynamicStableScale; without it the targets are given.
 */
export function desiredWorld(
  spec: RolloutSpec,
  status: RolloutStatus | undefined,
  now: Millis,
  seen: Seen = {},
): DesiredWorld {
  const pods = seen.pods;
  const stable = status?.stableRevision ?? status?.currentRevision;
  const current = status?.currentRevision ?? stable;
  const replicas = replicasOf(spec);
  const keep = (status?.scaleDown ?? []).filter((e) => Date.parse(e.at) > now).map((e) => e.revision);
  const releasing = current !== undefined && current !== stable;
  const world: DesiredWorld = {
    replicas: {},
    keep,
    services: {},
    historyLimit: spec.revisionHistoryLimit ?? DEFAULT_HISTORY_LIMIT,
  };
  if (stable === undefined || current === undefined) return world;

  const { canary, blueGreen } = spec.strategy;
  if (canary) {
    world.replicas[stable] = replicas;
    const at = {
      stepIndex: status?.currentStepIndex ?? 0,
      weight: status?.canary?.weight ?? 0,
      promoteFull: status?.promoteFull === true,
    };
    if (releasing && !status?.abort && weighsByPods(spec)) {
      const seen = (revision: string) => pods?.[revision] ?? { replicas: 0, available: 0 };
      const byWeight = podsByWeight(spec, at, pods && { canary: seen(current), stable: seen(stable) });
      world.replicas[stable] = byWeight.stable;
      world.replicas[current] = byWeight.canary;
    } else if (releasing && !status?.abort) {
      // The canary runs at full size (as Flagger does) unless a setCanaryScale step resizes it.
      world.replicas[current] = canaryReplicas(spec, at);
      // dynamicStableScale: the stable gives up the pods for the share it no longer serves,
      // after the weight has moved (the plan shrinks last).
      if (canary.dynamicStableScale && canary.trafficRouting)
        world.replicas[stable] = Math.ceil((replicas * (100 - at.weight)) / 100);
    }
    if (canary.stableService) world.services[canary.stableService] = stable;
    if (canary.canaryService)
      world.services[canary.canaryService] = releasing && !status?.abort ? current : stable;
    if (canary.trafficRouting) {
      world.weight = status?.canary?.weight ?? 0;
      if (canary.baselineService) {
        // Only a release compares, so only a release has a baseline; at rest its Service selects
        // the stable, so it always selects pods that exist.
        const baseline = releasing && !status?.abort ? baselineRevisionOf(stable) : undefined;
        world.services[canary.baselineService] = baseline ?? stable;
        if (baseline !== undefined) {
          world.replicas[baseline] = world.replicas[current] ?? 0;
          world.baseline = { revision: baseline, of: stable, weight: baselineWeight(world.weight) };
        }
      }
      const headers = requestRoutesAt(
        canary,
        status?.currentStepIndex ?? 0,
        releasing && !status?.abort,
        current,
      );
      if (headers.managed.length > 0 || headers.session) world.requestRoutes = headers;
    }
    if (canary.trafficRouting && canary.dynamicStableScale && releasing && status?.abort) {
      // Back from an abort no faster than the stable's pods come back: the canary keeps the share
      // the stable cannot serve yet (never more than it had), and its pods while it has any.
      // Pods of a ReplicaSet just scaled down still count as available until they go: only
      // those it is asked to keep may take traffic back.
      const seenStable = pods?.[stable];
      const available = Math.min(seenStable?.available ?? 0, seenStable?.replicas ?? 0);
      const unserved = 100 - Math.floor((100 * Math.min(available, replicas)) / Math.max(replicas, 1));
      world.weight = Math.min(seen.canaryWeight ?? 0, unserved);
      if (world.weight > 0 && !keep.includes(current)) keep.push(current);
      // The share still on the canary is served by the canary's pods, not by a stable that
      // has not grown back yet: the canary Service follows the canary while it has weight.
      if (world.weight > 0 && canary.canaryService) world.services[canary.canaryService] = current;
    }
    const destinationRule = canary.trafficRouting?.istio?.destinationRule;
    if (destinationRule) {
      // The canary subset follows the canary while it may take traffic, the way back from an
      // abort under dynamicStableScale included; otherwise both subsets select the stable.
      const comingBack = canary.dynamicStableScale === true && (world.weight ?? 0) > 0;
      const canaryServes = releasing && (!status?.abort || comingBack);
      world.subsets = {
        [destinationRule.stableSubsetName]: stable,
        [destinationRule.canarySubsetName]: canaryServes ? current : stable,
      };
    }
    // A role's metadata goes with the role: the canary's pods lose it when they become stable.
    world.podMetadata = { [stable]: canary.stableMetadata ?? {} };
    if (releasing && !status?.abort) world.podMetadata[current] = canary.canaryMetadata ?? {};
    return world;
  }
  if (blueGreen) {
    const active = status?.blueGreen?.activeRevision ?? stable;
    world.replicas[active] = replicas;
    // The old revision stays up at full size while the new one is on trial after the switch.
    if (stable !== active) world.replicas[stable] = replicas;
    if (releasing && !status?.abort && current !== active) {
      world.replicas[current] = blueGreen.previewReplicaCount ?? replicas;
    }
    if (blueGreen.trafficRouting) {
      // The switch is a weight: the active Service keeps the last promoted revision and the
      // VirtualService sends everything to the preview Service while the new one is active.
      world.services[blueGreen.activeService] = stable;
      if (blueGreen.previewService) world.services[blueGreen.previewService] = current;
      world.weight = releasing && active === current ? 100 : 0;
    } else {
      world.services[blueGreen.activeService] = active;
      if (blueGreen.previewService) world.services[blueGreen.previewService] = current;
    }
  }
  return world;
}
