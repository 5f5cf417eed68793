import type { GateKind } from '../crds/index.ts';

/**
 * The effects a decision asks the controller to carry out beyond the world it stands for:
 * replicas, Services and weights come from the desired world (desired.ts) and the order of
 * their writes from write-plan.ts; these are the rest. Each is idempotent for the controller.
 */
export interface EffectParams {
  /**
   * `watch`: a background gate started again while the release is paused; undecided looks
   * (no traffic, no data) never end it, so it watches for as long as the pause lasts.
   */
  startAnalysis: { gate: GateKind; name: string; revision: string; stepIndex?: number; watch?: boolean };
  stopAnalysis: { name: string };
  emitEvent: { reason: string; message: string; type: 'Normal' | 'Warning' };
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
  startAnalysis: noop,
  stopAnalysis: noop,
  emitEvent: noop,
  markAborted: noop,
} satisfies Record<EffectType, () => undefined>;

export const EFFECT_TYPES = Object.keys(EFFECT_IMPLEMENTATIONS) as EffectType[];
export const isEffect = (action: { type: string }): action is Effect =>
  (EFFECT_TYPES as string[]).includes(action.type);
