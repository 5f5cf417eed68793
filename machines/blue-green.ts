import { initialContext, releaseSetup } from './release.ts';
import { blueGreenReleaseHandlers, degradedState, healthyState, scaleDownWhenDue } from './release-states.ts';

/**
 * Blue-green: the new revision comes up beside the active one, reachable only through the
 * preview Service; after pre-promotion gates and (auto-)promotion the active Service switches
 * to it; post-promotion gates decide whether it stays. The old revision stays up until then,
 * so a failed post-promotion gate switches back at once.
 */
export const blueGreenMachine = releaseSetup.createMachine({
  id: 'blueGreen',
  context: initialContext,
  initial: 'healthy',
  always: scaleDownWhenDue,
  states: {
    healthy: healthyState,
    release: {
      initial: 'running',
      on: blueGreenReleaseHandlers,
      states: {
        running: {
          initial: 'awaitingPreview',
          states: {
            awaitingPreview: {
              always: [
                { guard: 'previewReady', target: 'prePromotion', actions: 'previewReady' },
                { guard: 'progressDeadlinePassed', target: '#blueGreen.degraded', actions: 'abortDeadline' },
              ],
            },
            prePromotion: {
              always: [
                { guard: 'promoteFullRequested', target: 'switching' },
                { guard: 'hasPrePromotionGate', target: 'preAnalysis', actions: 'startPreAnalysis' },
                { target: 'awaitingPromotion' },
              ],
            },
            preAnalysis: {
              always: [
                { guard: 'gateSuccessful', target: 'awaitingPromotion', actions: 'passGate' },
                { guard: 'gateFailed', target: '#blueGreen.degraded', actions: 'abortGateFailed' },
                { guard: 'gateHeld', target: '#blueGreen.release.paused', actions: 'pauseForGate' },
              ],
            },
            awaitingPromotion: {
              always: { guard: 'autoPromotionDue', target: 'switching' },
              on: { PROMOTE: { guard: 'isPlainPromote', target: 'switching', actions: 'acceptPromote' } },
            },
            switching: {
              always: [
                {
                  guard: 'postPromotionGateRequired',
                  target: 'postAnalysis',
                  actions: ['switchToPreview', 'startPostAnalysis'],
                },
                { target: '#blueGreen.healthy', actions: ['switchToPreview', 'promote'] },
              ],
            },
            postAnalysis: {
              always: [
                { guard: 'gateSuccessful', target: '#blueGreen.healthy', actions: 'promote' },
                { guard: 'gateFailed', target: '#blueGreen.degraded', actions: 'abortGateFailed' },
                { guard: 'gateHeld', target: '#blueGreen.release.paused', actions: 'pauseForGate' },
              ],
            },
          },
        },
        // After the switch, resuming goes back to the post-promotion gates rather than the preview.
        paused: {
          initial: 'held',
          states: {
            held: {},
            // A gate found a shared incident: held without a person, until a look passes again.
            // A person's pause turns it into theirs: the incident ending no longer resumes it.
            incident: { on: { PAUSE: { target: 'held', actions: 'pauseManually' } } },
          },
          on: {
            RESUME: [
              { guard: 'activeIsCurrent', target: 'running.switching', actions: 'resume' },
              { target: 'running', actions: 'resume' },
            ],
            PROMOTE: [
              { guard: 'isFullPromote', target: 'running', actions: ['resume', 'requestFullPromotion'] },
              { guard: 'activeIsCurrent', target: 'running.switching', actions: 'resume' },
              { target: 'running', actions: 'resume' },
            ],
          },
        },
      },
    },
    degraded: degradedState,
  },
});
