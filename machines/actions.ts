import type { GateKind } from '../crds/index.ts';

/**
 * The effects a decision asks the controller to carry out, in order. Each is idempotent for
 * the controller: applying one twice leaves the world as applying it once.
 */
export interface EffectParams {
  /** Canary: share of traffic (percent) the canary gets; the rest goes to stable. */
  setWeight: { weight: number };
  /** Run `revision` with `replicas` pods (canary or blue-green preview). */
  scaleRevision: { revision: string; replicas: number };
  /** Scale a revision that no longer serves to zero. */
  scaleDownOld: { revision: string };
  /**
   * `watch`: a background gate started again while the release is paused; undecided looks
   * (no traffic, no data) never end it, so it watches for as long as the pause lasts.
   */
  startAnalysis: { gate: GateKind; name: string; revision: string; stepIndex?: number; watch?: boolean };
  stopAnalysis: { name: string };
  /** Blue-green: the active Service (or VirtualService 0/100) now sends traffic to `revision`. */
  switchActive: { revision: string };
  /** Blue-green: the preview Service selects `revision`. */
  setPreview: { revision: string };
  emitEvent: { reason: string; message: string; type: 'Normal' | 'Warning' };
  /** `revision` is the new stable: point the stable Service at it and run it at full size. */
  markPromoted: { revision: string; full: boolean };
  /** `kind`, a bounded set, labels the rollback metric; `reason` is the text people read. */
  markAborted: { reason: string; kind: AbortKind };
}

/** Why a release was aborted, as a bounded set (`sluice_rollbacks_total{reason}`). */
export type AbortKind = 'AnalysisFailed' | 'ProgressDeadline' | 'Requested';

export type EffectType = keyof EffectParams;
export type Effect = { [K in EffectType]: { type: K; params: EffectParams[K] } }[EffectType];

export const effect = <K extends EffectType>(type: K, params: EffectParams[K]): Effect =>
  ({ type, params }) as Effect;

// No-op implementations: the machines are only used through the pure transition functions,
// which return these as `{type, params}` for the controller to execute.
const noop = () => undefined;
export const EFFECT_IMPLEMENTATIONS = {
  setWeight: noop,
  scaleRevision: noop,
  scaleDownOld: noop,
  startAnalysis: noop,
  stopAnalysis: noop,
  switchActive: noop,
  setPreview: noop,
  emitEvent: noop,
  markPromoted: noop,
  markAborted: noop,
} satisfies Record<EffectType, () => undefined>;

export const EFFECT_TYPES = Object.keys(EFFECT_IMPLEMENTATIONS) as EffectType[];
export const isEffect = (action: { type: string }): action is Effect =>
  (EFFECT_TYPES as string[]).includes(action.type);
