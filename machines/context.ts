import type { AnalysisPhase, HistoryEntry, RolloutSpec } from '../crds/index.ts';
import type { Millis } from './events.ts';

export type StrategyKind = 'canary' | 'blueGreen';

export interface GateRef {
  name: string;
  phase: AnalysisPhase;
  message?: string;
}

/** Pauses that outlive their cause; step pauses and awaiting promotion are derived from the state. */
export type HeldPauseReason = 'Manual' | 'Inconclusive' | 'AnalysisError' | 'SharedIncident';
export interface HeldPause {
  reason: HeldPauseReason;
  message?: string;
  startTime: Millis;
}

export interface ScaleDownEntry {
  revision: string;
  at: Millis;
}

/**
 * Everything a release decision depends on besides the state value. Each field maps to one
 * RolloutStatus field (machines/status.ts), so a restored machine decides like one that never
 * stopped. `spec` and `rollout` come from the object itself, never from status.
 */
export interface ReleaseContext {
  rollout: string;
  spec: RolloutSpec;
  stableRevision?: string;
  currentRevision?: string;
  stepIndex: number;
  attempt: number;
  /** Gates re-run after an inconclusive or errored run in this attempt: part of run names. */
  gateRestarts: number;
  releaseStartedAt?: Millis;
  stepStartedAt?: Millis;
  lastProgressAt?: Millis;
  weight: number;
  pause?: HeldPause;
  abortedAt?: Millis;
  promoteFull: boolean;
  scaleDown: ScaleDownEntry[];
  /** The gate of the current step, or blue-green pre/post promotion. */
  analysis?: GateRef;
  background?: GateRef;
  history: HistoryEntry[];
  activeRevision?: string;
  previewReadyAt?: Millis;
  promotedAt?: Millis;
}

export interface ReleaseInput {
  rollout: string;
  spec: RolloutSpec;
}

export const strategyOf = (spec: RolloutSpec): StrategyKind =>
  spec.strategy.blueGreen ? 'blueGreen' : 'canary';

export const emptyContext = ({ rollout, spec }: ReleaseInput): ReleaseContext => ({
  rollout,
  spec,
  stepIndex: 0,
  attempt: 0,
  gateRestarts: 0,
  weight: 0,
  promoteFull: false,
  scaleDown: [],
  history: [],
});

export const iso = (ms: Millis): string => new Date(ms).toISOString();
