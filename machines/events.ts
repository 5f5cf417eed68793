import type { AnalysisPhase, GateKind } from '../crds/index.ts';

export type { GateKind };

/**
 * Time on events is epoch milliseconds. Numbers compare and add without parsing; status keeps
 * ISO strings for people, and the mapping converts at the edge (machines/status.ts).
 */
export type Millis = number;

/** What the controller read from an AnalysisRun. Results of runs with another name are ignored. */
export interface GateObservation {
  name: string;
  phase: AnalysisPhase;
  message?: string;
  /** Why the run ended, as the runner wrote it (`status.reason`): a fact of this look, not kept. */
  reason?: string;
  /** The run holds for a shared incident (`status.sharedIncident`): the stable breaks the same threshold. */
  sharedIncident?: string;
}

/**
 * The one fact-carrying event: each reconcile reports the world as it is (level-triggered).
 * `revision` is the pod-template hash of spec.template; `ready.canary` / `ready.preview` say
 * whether the release's new ReplicaSet has all its replicas ready.
 */
export interface ObserveEvent {
  type: 'OBSERVE';
  now: Millis;
  revision: string;
  ready?: { canary?: boolean; preview?: boolean };
  /** Available pods of the release's new ReplicaSet: whether the canary has what a step's weight needs. */
  canaryAvailable?: number;
  gates?: Partial<Record<GateKind, GateObservation>>;
}

/** Signals a person leaves through `kubectl sluice`; pass them before the OBSERVE of the same reconcile. */
export type SignalEvent =
  | { type: 'PROMOTE'; now: Millis; full?: boolean }
  | { type: 'ABORT'; now: Millis; reason?: string }
  | { type: 'RETRY'; now: Millis }
  | { type: 'PAUSE'; now: Millis }
  | { type: 'RESUME'; now: Millis };

export type ReleaseEvent = ObserveEvent | SignalEvent;
