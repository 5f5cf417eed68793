import { and, stateIn } from 'xstate';

/**
 * State-chart fragments both strategies share. Targets are siblings of the fragment's node
 * (`healthy`, `release`, `degraded` at the top level), so the fragments fit either machine.
 */

/** No release in flight: the template matches stable (or there is no stable yet). */
export const healthyState = {
  on: {
    OBSERVE: [
      { guard: 'noStableYet', actions: 'adoptFirstRevision' },
      { guard: 'revisionDiffersFromStable', target: 'release', actions: 'startRelease' },
    ],
  },
} as const;

/** Aborted: stable serves everything until a retry, a new revision, or the template goes back. */
export const degradedState = {
  on: {
    RETRY: { target: 'release', actions: 'retry' },
    OBSERVE: [
      { guard: 'revertedToStable', target: 'healthy', actions: 'settleOnStable' },
      { guard: 'newerRevision', target: 'release', actions: 'startRelease' },
    ],
  },
} as const;

const templateChanges = [
  { guard: 'revertedToStable', target: 'healthy', actions: 'rollBack' },
  { guard: 'newerRevision', target: 'release', reenter: true, actions: 'supersede' },
] as const;
/**
 * A background gate's verdict, whatever the release is doing, paused included: Failed aborts.
 * Undecided pauses, and the gate runs again as a watch for the pause (once: a watch that ends
 * only updates why the release is held), unless running it again could measure nothing.
 */
const backgroundVerdicts = [
  { guard: 'backgroundFailed', target: 'degraded', actions: 'abortBackgroundFailed' },
  {
    guard: and(['backgroundHeld', stateIn({ release: { paused: 'watching' } })]),
    actions: 'noteWatchEnded',
  },
  {
    guard: and(['backgroundHeld', 'backgroundWatchable']),
    target: '.paused.watching',
    actions: 'pauseAndWatch',
  },
  { guard: 'backgroundHeld', target: '.paused', actions: 'pauseForBackground' },
] as const;
const bookkeeping = { actions: 'recordObservation' } as const;

const inIncident = stateIn({ release: { paused: 'incident' } });
/**
 * Shared incidents: a running release whose gate finds the stable breaking the same threshold
 * holds (no rollback, no promotion); it resumes by itself at the first look without one. A
 * release already held (by a person, an undecided gate) stays held as it was.
 */
const incidentEnds = {
  guard: and(['incidentOver', inIncident]),
  target: '.running',
  actions: 'resumeAfterIncident',
} as const;
/** Blue-green after the switch: back to the post-promotion gate that held, not to the preview. */
const incidentEndsAfterSwitch = {
  guard: and(['incidentOver', inIncident, 'activeIsCurrent']),
  target: '.running.postAnalysis',
  actions: 'resumeAfterIncident',
} as const;
const incidentBegins = {
  guard: and(['gateInIncident', 'notHeld']),
  target: '.paused.incident',
  actions: 'holdForIncident',
} as const;

/**
 * Handlers of a release in flight, whatever its step. Order matters: a changed template wins
 * over gate results, which win over routine bookkeeping.
 */
export const releaseHandlers = {
  OBSERVE: [...templateChanges, incidentEnds, incidentBegins, bookkeeping],
  ABORT: { target: 'degraded', actions: 'abortRequested' },
  PAUSE: { guard: 'notHeld', target: '.paused', actions: 'pauseManually' },
  PROMOTE: [
    { guard: 'isFullPromote', target: '.running', actions: 'requestFullPromotion' },
    { actions: 'explainPromoteIgnored' },
  ],
} as const;

/** Blue-green resumes after the switch at its post-promotion gate. */
export const blueGreenReleaseHandlers = {
  ...releaseHandlers,
  OBSERVE: [...templateChanges, incidentEndsAfterSwitch, incidentEnds, incidentBegins, bookkeeping],
} as const;

/** Canary adds background gates, which watch the whole release. */
export const releaseHandlersWithBackground = {
  ...releaseHandlers,
  OBSERVE: [...templateChanges, ...backgroundVerdicts, incidentEnds, incidentBegins, bookkeeping],
} as const;

/** Scale-downs come due whatever the release is doing. */
export const scaleDownWhenDue = { guard: 'scaleDownDue', actions: 'flushScaleDown' } as const;
