import { and } from 'xstate';
import { initialContext, releaseSetup } from './release.ts';
import {
  degradedState,
  healthyState,
  releaseHandlersWithBackground,
  scaleDownWhenDue,
} from './release-states.ts';

/**
 * Canary: the new revision runs beside stable and gets a growing share of traffic, step by
 * step, until the implicit last step (100%, then promotion). `step` is transient: it routes to
 * the current step's state, applying setWeight steps on the way.
 */
export const canaryMachine = releaseSetup.createMachine({
  id: 'canary',
  context: initialContext,
  initial: 'healthy',
  always: scaleDownWhenDue,
  states: {
    healthy: healthyState,
    release: {
      initial: 'running',
      on: releaseHandlersWithBackground,
      states: {
        running: {
          initial: 'awaitingCanary',
          states: {
            // Traffic only goes to pods that are ready; a canary that never gets there aborts
            // at the progress deadline.
            awaitingCanary: {
              always: [
                { guard: 'canaryReady', target: 'step', actions: 'beginSteps' },
                { guard: 'progressDeadlinePassed', target: '#canary.degraded', actions: 'abortDeadline' },
              ],
            },
            step: {
              always: [
                { guard: 'stepNeedsPods', target: 'scalingCanary' },
                { guard: 'promoteFullRequested', target: '#canary.healthy', actions: 'promote' },
                { guard: 'stepsDone', target: 'finalizing' },
                { guard: 'stepIsSetWeight', target: 'step', actions: 'applyStepWeight' },
                { guard: 'stepIsSetCanaryScale', target: 'step', actions: 'advanceStep' },
                { guard: 'stepIsPause', target: 'stepPause' },
                { guard: 'stepIsAnalysis', target: 'stepAnalysis', actions: 'startStepAnalysis' },
                { target: 'step', actions: 'advanceStep' },
              ],
            },
            // setCanaryScale: the canary is resized first, and a weight (or the promotion) waits
            // until it has the available pods that share needs; pods that never come abort at
            // the progress deadline, as a canary that never gets ready does.
            scalingCanary: {
              always: [
                { guard: 'canaryScaled', target: 'step' },
                { guard: 'progressDeadlinePassed', target: '#canary.degraded', actions: 'abortDeadline' },
              ],
            },
            // A timed pause ends when its time is up and the background gate passes: a canary
            // whose gate has not measured it yet (a failover, a slow first scrape) keeps its share.
            stepPause: {
              always: [
                { guard: and(['pauseElapsed', 'pauseMayEnd']), target: 'step', actions: 'advanceStep' },
                { guard: 'pauseOverdue', target: '#canary.degraded', actions: 'abortDeadline' },
              ],
              on: { PROMOTE: { guard: 'isPlainPromote', target: 'step', actions: 'skipPause' } },
            },
            stepAnalysis: {
              always: [
                { guard: 'gateSuccessful', target: 'step', actions: 'advanceStep' },
                { guard: 'gateFailed', target: '#canary.degraded', actions: 'abortGateFailed' },
                { guard: 'gateHeld', target: '#canary.release.paused', actions: 'pauseForGate' },
              ],
            },
            // All steps done; background gates must have data before the canary takes it all, and
            // data that never comes counts as no progress.
            finalizing: {
              always: [
                { guard: 'backgroundSettled', target: '#canary.healthy', actions: 'promote' },
                { guard: 'progressDeadlinePassed', target: '#canary.degraded', actions: 'abortDeadline' },
              ],
            },
          },
        },
        // Held by a person or by a gate that could not decide. Resuming re-checks that the
        // canary is ready, then continues at the same step (gates re-run after a gate pause).
        // A pause never stops the background gate: the canary keeps its traffic, so it stays
        // measured, and a Failed look aborts as it would while running.
        paused: {
          initial: 'held',
          states: {
            // Gates as they were when the pause began; a running background gate runs on.
            held: {},
            // The background gate ended undecided and runs again as a watch for this pause.
            watching: {},
            // A gate found a shared incident: held without a person, until a look passes again.
            // A person's pause turns it into theirs: the incident ending no longer resumes it.
            incident: { on: { PAUSE: { target: 'held', actions: 'pauseManually' } } },
          },
          on: {
            RESUME: { target: 'running', actions: 'resume' },
            PROMOTE: [
              { guard: 'isFullPromote', target: 'running', actions: ['resume', 'requestFullPromotion'] },
              { target: 'running', actions: 'resume' },
            ],
          },
        },
      },
    },
    degraded: degradedState,
  },
});
