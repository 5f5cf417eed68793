import type { AnalysisRun, Rollout } from '../../crds/index.ts';
import { setLoad, setProfile } from '../harness/traffic.ts';
import { waitFor } from '../harness/wait.ts';
import { hostOf, runOf } from '../support/analysis.ts';
import { apply, canaryApp, getRollout, kubectlSluice, setImage } from '../support/apps.ts';
import type { Outcome, ReleaseChecker } from './checker.ts';

export interface Member {
  name: string;
  outcome: Outcome;
  image: (version: number) => string;
}

export const FIRST_WEIGHT = 20;

/**
 * Short windows over the sandbox's 1 s scrape: 3 s windows, the first after 6 s of traffic. On a
 * loaded machine the simulator can take seconds to route to a new canary, so a window may hold
 * no canary traffic yet: two such (inconclusive) measurements are tolerated, never passed.
 */
const GATE = { interval: '3s', initialDelay: '6s', inconclusiveLimit: 2, successRate: { min: 90 } };

/**
 * Every release first takes FIRST_WEIGHT of the traffic and stops there until something lets it
 * on: a step gate (`promote` and `abort` members) or a person (`manual`). So a bad canary must
 * never carry more than FIRST_WEIGHT, and a manual one not before it is promoted.
 */
function stepsFor(outcome: Outcome, o: FleetOptions) {
  const hold =
    outcome === 'manual'
      ? { pause: {} }
      : o.gate === 'background'
        ? { pause: { duration: `${o.holdSeconds ?? 20}s` } }
        : { analysis: { ...GATE, count: o.stepLooks ?? 3 } };
  return [{ setWeight: FIRST_WEIGHT }, hold, { setWeight: 60 }, { pause: { duration: '2s' } }];
}

export interface FleetOptions {
  promote: number;
  abort: number;
  manual: number;
  /** `step` (default): gates are analysis steps. `background`: one background gate, timed pauses. */
  gate?: 'step' | 'background';
  /** The timed pause at FIRST_WEIGHT with a background gate (default 20 s). */
  holdSeconds?: number;
  /**
   * Measurements a step gate takes before it passes (default 3, about 15 s). A scenario that must
   * meet step gates still counting gives them more, so a loaded machine cannot finish them first.
   */
  stepLooks?: number;
  /** Changes to the background gate (e.g. consecutiveErrorLimit). */
  gateOverrides?: Record<string, unknown>;
  /** Before each member's name, for two fleets in one namespace. */
  prefix?: string;
  rps?: number;
}

/** The fleet's Rollouts, each with its Services, VirtualService and load; all first revisions Healthy. */
export async function deployFleet(namespace: string, o: FleetOptions): Promise<Member[]> {
  const members: Member[] = [];
  const add = (outcome: Outcome, n: number) => {
    for (let i = 0; i < n; i++) {
      const name = `${o.prefix ?? ''}${outcome}-${i}`;
      members.push({ name, outcome, image: (v) => `shop/${namespace}-${name}:${v}` });
    }
  };
  add('promote', o.promote);
  add('abort', o.abort);
  add('manual', o.manual);
  for (const m of members) {
    await apply(
      canaryApp(namespace, {
        name: m.name,
        image: m.image(1),
        replicas: 1,
        steps: stepsFor(m.outcome, o) as never,
        canary: o.gate === 'background' ? { analysis: { ...GATE, ...o.gateOverrides } as never } : {},
      }),
    );
    await setLoad(hostOf(m.name, namespace), o.rps ?? 30);
  }
  return members;
}

/** Waits for every first revision to be Healthy; returns the stable revision of each. */
export async function firstRevisions(namespace: string, members: Member[], timeout = 180_000) {
  const stable = new Map<string, string>();
  await waitFor(
    async () => {
      for (const m of members) {
        if (stable.has(m.name)) continue;
        const r = await getRollout(namespace, m.name);
        if (r.status?.phase === 'Healthy' && r.status.stableRevision)
          stable.set(m.name, r.status.stableRevision);
      }
      return stable.size === members.length ? stable : undefined;
    },
    { description: `${members.length} first revisions to be Healthy`, timeout, interval: 1000 },
  );
  return stable;
}

/**
 * Holds each member to its outcome in `checker`, makes the bad ones fail, and sets version 2.
 * `hold`: good releases too must not be promoted until the scenario allows it (an outage).
 */
export async function releaseFleet(
  namespace: string,
  members: Member[],
  stable: Map<string, string>,
  checker: ReleaseChecker,
  opts: { hold?: boolean } = {},
): Promise<void> {
  for (const m of members) {
    checker.expect(m.name, opts.hold && m.outcome === 'promote' ? 'manual' : m.outcome, {
      stableBefore: stable.get(m.name) ?? '',
      maxCanaryWeight: FIRST_WEIGHT,
    });
    if (m.outcome === 'abort') await setProfile(m.image(2), { errorRate: 0.6 });
  }
  for (const m of members) await setImage(namespace, m.image(2), m.name);
}

const atManualPause = (r: Rollout, stableBefore: string | undefined) =>
  r.status?.phase === 'Paused' &&
  r.status.currentStepIndex === 1 &&
  r.status.currentRevision !== stableBefore &&
  r.status.canary?.weight === FIRST_WEIGHT;

/**
 * A person promoting each `manual` release once it waits at its manual pause, while whatever
 * else the scenario does goes on. Resolves when all were promoted.
 */
export async function promoteManuals(
  namespace: string,
  members: Member[],
  stable: Map<string, string>,
  checker: ReleaseChecker,
  timeout = 300_000,
): Promise<void> {
  const waiting = new Set(members.filter((m) => m.outcome === 'manual').map((m) => m.name));
  await waitFor(
    async () => {
      for (const name of waiting) {
        if (!atManualPause(await getRollout(namespace, name), stable.get(name))) continue;
        checker.allowPromotion(name);
        const run = await kubectlSluice(namespace, 'promote', name);
        if (run.code !== 0) throw new Error(`promote ${name}: ${run.err}`);
        waiting.delete(name);
      }
      return waiting.size === 0 ? true : undefined;
    },
    {
      description: `${waiting.size} manual releases to reach their pause and be promoted`,
      timeout,
      interval: 1000,
    },
  );
}

/** Every gating metric of the run has passed at least once: the canary is getting measured traffic. */
export const passedOnce = (run: AnalysisRun | undefined) =>
  run?.status?.metricResults?.every((m) => m.successful > 0) === true;

/**
 * Waits until each `promote` member's background gate has passed a measurement: traffic reaches
 * its canary and is measured, so a fault injected now hits a release mid-analysis rather than
 * one whose canary the data plane has not routed to yet.
 */
export async function waitForMeasuredTraffic(namespace: string, members: Member[], timeout = 120_000) {
  const pending = new Set(members.filter((m) => m.outcome === 'promote').map((m) => m.name));
  await waitFor(
    async () => {
      for (const name of pending) {
        if (passedOnce(await runOf(namespace, await getRollout(namespace, name), 'backgroundAnalysis')))
          pending.delete(name);
      }
      return pending.size === 0 ? true : undefined;
    },
    { description: 'every good canary to pass a first measurement', timeout, interval: 1000 },
  );
}
