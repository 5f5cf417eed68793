// When a gate's clock starts: at the canary's first traffic, not at the run's creation. A run
// can begin before anything reaches the revision it measures (a background gate at a release
// whose first step is a pause at weight 0, a step gate before any setWeight), and a look at a
// canary nobody can reach finds "no data", which used to end the run Inconclusive and pause a
// release that had done nothing wrong. Pure: the controller brings what it saw and the clock.
import type { AnalysisRun } from '../crds/index.ts';

/** What the controller saw of the revision a run measures, from its caches. */
export interface TrafficSeen {
  /** Ready pods of the revision under test. */
  readyPods: number;
  /**
   * The share a VirtualService gives it, when one routes this gate's traffic: for a canary the
   * smaller of what the VirtualService says and what Sluice wrote in status, so an edit by
   * someone else (which the next reconcile undoes) does not start the clock.
   */
  weight?: number;
  /** Whether the Service the gate measures selects the revision, where that can differ (blue-green after the switch). */
  selected?: boolean;
  /** Where the weight lives, for the message: `VirtualService web`, `HTTPRoute web`. */
  routedBy?: string;
  /**
   * The release itself has not given the canary any weight yet (a leading pause at 0): its own
   * steps or a person will, so the wait is not a hang and the progress deadline does not end it.
   */
  weightPlanned?: boolean;
}

/**
 * The weight a canary has at step `stepIndex`: the last setWeight before it, 0 when none. A step
 * gate at weight 0 is a check before any traffic (e.g. on the canary pods' own metrics): it
 * cannot wait for a weight its own release only gives after it passes.
 */
export function weightAtStep(steps: readonly { setWeight?: number }[], stepIndex: number): number {
  for (let i = Math.min(stepIndex, steps.length) - 1; i >= 0; i--) {
    const weight = steps[i]?.setWeight;
    if (weight !== undefined) return weight;
  }
  return 0;
}

/** What the run waits for, in words; undefined when traffic reaches the revision. */
export function waitingFor(seen: TrafficSeen): string | undefined {
  const missing: string[] = [];
  if (seen.weight !== undefined && seen.weight <= 0)
    missing.push(`weight ${seen.weight} in ${seen.routedBy ?? 'its route'}`);
  if (seen.selected === false) missing.push('its Service does not select it yet');
  if (seen.readyPods <= 0) missing.push('no ready pods');
  return missing.length ? `waiting for canary traffic (${missing.join(', ')})` : undefined;
}

const ms = (iso: string | undefined): number | undefined => {
  if (!iso) return undefined;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : t;
};

const measured = (run: AnalysisRun) =>
  (run.status?.metricResults ?? []).some((r) => r.measurements.length > 0);

/**
 * When the run's canary began receiving traffic, as the run recorded it. A run that measured
 * before this was recorded (written by an older controller) counts from its start, as it did.
 */
export function trafficStart(run: AnalysisRun, runStart: number): number | undefined {
  return ms(run.status?.trafficSince) ?? (measured(run) ? runStart : undefined);
}

export type TrafficStep =
  /** Traffic reaches the canary since `since`; `record` when that is news to the run's status. */
  | { kind: 'flowing'; since: number; record: boolean }
  /** Nothing reaches it yet: no look is due; look again at `recheckAt`. */
  | { kind: 'waiting'; message: string; recheckAt: number }
  /** Nothing reached it within the release's progress deadline: the run ends, saying what it waited for. */
  | { kind: 'gaveUp'; message: string };

/** How often a waiting run looks at the world again: cache reads only, so cheap, and the clock starts at most this late. */
export const TRAFFIC_RECHECK_MS = 1000;

/**
 * One pass's decision for a run whose traffic may not have started. `seen` undefined means
 * the caller cannot observe traffic (no world to read): the run counts from its start.
 * `deadlineMs` is the release's progress deadline: a canary that never gets the traffic its
 * release gave it ends the run then (Inconclusive, so the release pauses and says why) instead
 * of waiting silently. A wait for a weight the release has not given yet has no deadline: the
 * release's own steps move it on, and its status says where it is.
 */
export function trafficStep(
  run: AnalysisRun,
  runStart: number,
  seen: TrafficSeen | undefined,
  now: number,
  deadlineMs: number,
): TrafficStep {
  const started = trafficStart(run, runStart);
  if (started !== undefined) return { kind: 'flowing', since: started, record: false };
  if (seen === undefined) return { kind: 'flowing', since: runStart, record: false };
  const waiting = waitingFor(seen);
  if (waiting === undefined) return { kind: 'flowing', since: now, record: true };
  if (now >= runStart + deadlineMs && !seen.weightPlanned) {
    return {
      kind: 'gaveUp',
      message: `no canary traffic within ${Math.round(deadlineMs / 1000)}s (progressDeadlineSeconds) of the run's start: ${waiting.replace(/^waiting for canary traffic /, '')}; no look was taken`,
    };
  }
  return {
    kind: 'waiting',
    message: waiting,
    recheckAt: seen.weightPlanned
      ? now + TRAFFIC_RECHECK_MS
      : Math.max(now, Math.min(now + TRAFFIC_RECHECK_MS, runStart + deadlineMs)),
  };
}

/** Why a run ended without traffic (status.reason). */
export const REASON_NO_TRAFFIC = 'NoTraffic';
