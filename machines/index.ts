/**
 * Pure release logic: xstate v5 machines used only through `initialTransition` / `transition`.
 * Nothing here does I/O or reads the clock. The controller calls one function:
 *
 * ```ts
 * decide({ name, spec }, status, events) // → { status, actions, wakeAt }
 * ```
 *
 * It restores the machine from `status` (`fromStatus`), applies `events` in order, and maps the
 * result back (`toStatus`). Carry out `actions` in order, write `status`, requeue at `wakeAt`.
 *
 * ## Events (facts in)
 *
 * Time is **epoch milliseconds** (`now` on every event); status keeps ISO strings.
 *
 * - `OBSERVE { now, revision, ready: { canary?, preview? }, gates: { step?, background?, prePromotion?, postPromotion? } }`
 *   — once per reconcile, last. `revision` is the pod-template hash of `spec.template`; `ready`
 *   says whether that revision's ReplicaSet is fully ready; each gate is `{ name, phase, message? }`
 *   read from the AnalysisRun of that name (results of runs with other names are ignored).
 * - Signals, before the OBSERVE of the same reconcile: `PROMOTE { now, full? }`, `ABORT { now, reason? }`,
 *   `RETRY`, `PAUSE`, `RESUME` (each with `now`).
 *
 * ## Actions (effects out), each idempotent
 *
 * What the status does not already say: `startAnalysis {gate, name, revision, stepIndex?, watch?}`,
 * `stopAnalysis {name}`, `emitEvent {reason, message, type}`, `markAborted {reason, kind}`.
 * Replicas, Service selectors and the canary weight are the status's desired world
 * (`desired.ts`), written in the order of `write-plan.ts`.
 * Run names are deterministic: `<rollout>-<revision>-<bg|step|pre|post>[-<step>]-a<attempt>[-r<gate restarts>]`,
 * at most 253 characters (the rollout part is shortened).
 *
 * ## Decisions worth knowing
 *
 * - First revision: stable at once (history "first revision").
 * - The canary runs at full size from the start unless a `setCanaryScale` step resizes it, or it
 *   has no trafficRouting (then its weight is its share of the pods, paced by maxSurge and
 *   maxUnavailable: machines/canary-scale.ts); a weight only once it has the pods it needs.
 * - Plain `PROMOTE` ends a pause step (or blue-green's wait for promotion); it never skips a gate.
 *   `PROMOTE full` skips all steps and gates once the new revision is ready; it is recorded in
 *   `status.promoteFull` and the history reason.
 * - Inconclusive / Error analysis pauses (`Inconclusive` / `AnalysisError`); `RESUME` or `PROMOTE`
 *   re-run the gates under new names (`gateRestarts`). Failed analysis aborts.
 * - A pause (person, pause step, gate) never stops a canary's background gate, and its Failed look
 *   aborts as while running. One that ends Inconclusive / Error runs again at once as a watch
 *   (`startAnalysis {watch: true}`, state `release.paused.watching`), unless it could measure
 *   nothing (InvalidAnalysis, Prometheus unreachable); a watch that ends is not started again.
 * - Background gates must have measured (`Running` or `Successful`) before promotion; never on missing data.
 * - Resuming a pause re-checks readiness on the next OBSERVE, then continues at the same step.
 * - Abort, supersede, rollback: the first action routes all traffic to stable.
 * - Progress deadline (`lastProgressAt + progressDeadlineSeconds`) applies while waiting for the new
 *   revision to be ready and for background gates before promotion.
 *
 * ## Status mapping
 *
 * Context fields map one-to-one to `RolloutStatus` (times as ISO strings). `status.machineState`
 * is the resting state path (e.g. `release.running.stepPause`); status written without it restores
 * to the nearest safe state. `phase`, `message`, and step / awaiting-promotion `pause` entries are
 * derived from the state. The property tests check that restoring from status after any event
 * decides exactly like an uninterrupted machine.
 *
 */
export * from './actions.ts';
export * from './analysis-run.ts';
export { blueGreenMachine } from './blue-green.ts';
export { canaryMachine } from './canary.ts';
export type { ReleaseContext, ReleaseInput } from './context.ts';
export { type Decision, decide, nextWakeAt, step } from './decide.ts';
export * from './events.ts';
export { runName } from './gates.ts';
export { fromStatus, machineFor, type ReleaseSnapshot, statePath, toStatus } from './status.ts';
export { isRequestedAbort, type WriteBackDue, writeBackDue } from './write-back.ts';
