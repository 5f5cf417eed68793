import { describe, expect, it } from 'vitest';
import { type AnyStateMachine, type AnyTransitionDefinition, initialTransition } from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import type { AnalysisPhase, RolloutSpec } from '../../../crds/index.ts';
import {
  type AnalysisRunEvent,
  analysisRunMachine,
  type MetricLimits,
} from '../../../machines/analysis-run.ts';
import { blueGreenMachine } from '../../../machines/blue-green.ts';
import { canaryMachine } from '../../../machines/canary.ts';
import type { ReleaseEvent } from '../../../machines/events.ts';
import {
  autoPromotionAt,
  pauseEndsAt,
  pauseOverdueAt,
  progressDeadlineAt,
} from '../../../machines/release.ts';
import { atomicPaths, type ReleaseSnapshot, statePath } from '../../../machines/status.ts';
import {
  blueGreenSpec,
  canarySpec,
  definedTransitions,
  gate,
  ROLLOUT,
  T0,
  takenTransitions,
} from './fixtures.ts';

const PHASES: AnalysisPhase[] = ['Running', 'Successful', 'Failed', 'Inconclusive', 'Error'];
const POOL = ['r1', 'r2', 'r3'];

/**
 * Representative events for a snapshot: each revision relation (stable, current, newer), ready
 * or not, every phase of each known gate run, each pending deadline reached, and every signal.
 */
function releaseEvents(snapshot: ReleaseSnapshot): ReleaseEvent[] {
  const ctx = snapshot.context;
  const t = (ctx.lastProgressAt ?? T0) + 1;
  const current = ctx.currentRevision ?? 'r1';
  const newer = POOL.find((r) => r !== ctx.stableRevision && r !== ctx.currentRevision) as string;
  const events: ReleaseEvent[] = [];
  for (const revision of new Set([ctx.stableRevision ?? 'r1', current, newer])) {
    for (const ready of [true, false])
      events.push({
        type: 'OBSERVE',
        now: t,
        revision,
        ready: { canary: ready, preview: ready },
        canaryAvailable: ready ? 100 : 0,
      });
  }
  for (const phase of PHASES) {
    if (ctx.analysis) {
      const seen = { name: ctx.analysis.name, phase };
      events.push({ type: 'OBSERVE', now: t, revision: current, gates: { step: seen, postPromotion: seen } });
    }
    if (ctx.background) {
      events.push({
        type: 'OBSERVE',
        now: t,
        revision: current,
        gates: { background: { name: ctx.background.name, phase } },
      });
    }
  }
  // A gate still measuring that holds for a shared incident (the stable breaks the same threshold).
  for (const ref of [ctx.analysis, ctx.background]) {
    if (!ref) continue;
    const seen = { name: ref.name, phase: 'Running' as const, sharedIncident: 'stable breaks it too' };
    events.push({ type: 'OBSERVE', now: t, revision: current, gates: { step: seen } });
  }
  // A background run that cannot measure again (Prometheus unreachable) is held, not watched.
  if (ctx.background) {
    const unreachable = {
      name: ctx.background.name,
      phase: 'Error' as const,
      reason: 'PrometheusUnreachable',
    };
    events.push({ type: 'OBSERVE', now: t, revision: current, gates: { background: unreachable } });
  }
  const deadlines = [
    progressDeadlineAt(ctx),
    pauseEndsAt(ctx),
    pauseOverdueAt(ctx),
    autoPromotionAt(ctx),
    ...ctx.scaleDown.map((e) => e.at),
  ];
  for (const now of deadlines)
    if (now !== undefined) events.push({ type: 'OBSERVE', now, revision: current });
  events.push(
    { type: 'PROMOTE', now: t },
    { type: 'PROMOTE', now: t, full: true },
    { type: 'ABORT', now: t },
    { type: 'RETRY', now: t },
    { type: 'PAUSE', now: t },
    { type: 'RESUME', now: t },
  );
  return events;
}

/** Two snapshots are the same graph node when value and the context that steers decisions agree. */
function serializeRelease(snapshot: ReleaseSnapshot): string {
  const c = snapshot.context;
  return JSON.stringify([
    snapshot.value,
    c.stepIndex,
    c.weight,
    c.promoteFull,
    c.pause?.reason,
    c.analysis?.phase,
    c.background?.phase,
    c.stableRevision === undefined,
    c.currentRevision === c.stableRevision,
    c.activeRevision === c.currentRevision,
    c.scaleDown.length > 0,
  ]);
}

const transientPaths = (machine: AnyStateMachine): string[] =>
  atomicPaths(machine).filter((path) => {
    const node = machine.getStateNodeById(`${machine.id}.${path}`);
    return (node.always ?? []).some((t: AnyTransitionDefinition) => !t.guard);
  });

function explore<TEvent extends { type: string }>(
  machine: AnyStateMachine,
  inputs: unknown[],
  events: (snapshot: never) => TEvent[],
  serializeState: (snapshot: never) => string,
) {
  const resting = new Set<string>();
  const taken = new Set<object>();
  let paths = 0;
  for (const input of inputs) {
    const found = getShortestPaths(machine, { input, events, serializeState } as never) as unknown as {
      state: { value: never };
      steps: { event: TEvent }[];
    }[];
    paths += found.length;
    for (const path of found) {
      resting.add(statePath(path.state.value));
      takenTransitions(
        machine,
        input,
        path.steps.map((s) => s.event).filter((e) => !e.type.startsWith('xstate.')),
        events,
        taken,
      );
    }
  }
  const labels = definedTransitions(machine);
  return {
    paths,
    resting: [...resting].sort(),
    expectedResting: atomicPaths(machine)
      .filter((p) => !transientPaths(machine).includes(p))
      .sort(),
    taken: [...taken].map((t) => labels.get(t) ?? 'unknown').sort(),
    defined: [...labels.values()].sort(),
  };
}

const input = (spec: RolloutSpec) => ({ rollout: ROLLOUT, spec });

describe('canary machine, walked with xstate/graph', () => {
  const specs = [
    canarySpec([{ setWeight: 20 }, { pause: { duration: '1m' } }, { analysis: gate }, { pause: {} }, {}], {
      analysis: gate,
    }),
    // A canary resized by setCanaryScale: weights and the promotion wait for its pods.
    canarySpec([
      { setCanaryScale: { replicas: 1 } },
      { setWeight: 20 },
      { setCanaryScale: { matchTrafficWeight: true } },
      { setWeight: 50 },
      { pause: {} },
    ]),
  ];
  const result = explore(canaryMachine, specs.map(input), releaseEvents, serializeRelease);

  it('reaches every resting state', () => {
    expect(result.resting).toEqual(result.expectedResting);
  });
  it('takes every transition the machine defines', () => {
    expect(result.taken).toEqual(result.defined);
    expect(result.paths).toBeGreaterThan(result.defined.length / 2);
  });
});

describe('blue-green machine, walked with xstate/graph', () => {
  const specs = [
    blueGreenSpec({ prePromotionAnalysis: gate, postPromotionAnalysis: gate, autoPromotionSeconds: 60 }),
    blueGreenSpec({ autoPromotionEnabled: false }),
  ];
  const result = explore(blueGreenMachine, specs.map(input), releaseEvents, serializeRelease);

  it('reaches every resting state', () => {
    expect(result.resting).toEqual(result.expectedResting);
  });
  it('takes every transition the machine defines', () => {
    expect(result.taken).toEqual(result.defined);
  });
});

describe('analysis-run machine, walked with xstate/graph', () => {
  const inputs: { metrics: MetricLimits[] }[] = [
    {
      metrics: [
        { name: 'rate', count: 2, failureLimit: 0, inconclusiveLimit: 0, consecutiveErrorLimit: 0 },
        { name: 'latency', count: 2 },
        { name: 'shadow', dryRun: true },
      ],
    },
    { metrics: [{ name: 'shadow', dryRun: true }] },
  ];
  const measurePhases = ['Successful', 'Failed', 'Inconclusive', 'Error'] as const;
  const events = (snapshot: { status: string; context: { metrics: MetricLimits[] } }): AnalysisRunEvent[] =>
    snapshot.status === 'done'
      ? []
      : [
          ...snapshot.context.metrics.flatMap((m) =>
            measurePhases.map((phase) => ({ type: 'MEASURE' as const, now: T0, metric: m.name, phase })),
          ),
          { type: 'TERMINATE', now: T0 },
        ];
  const serialize = (snapshot: {
    value: unknown;
    context: { results: { count: number; phase: string }[] };
  }) =>
    JSON.stringify([snapshot.value, snapshot.context.results.map((r) => [Math.min(r.count, 5), r.phase])]);
  const result = explore(analysisRunMachine, inputs, events as never, serialize as never);

  it('reaches every resting state', () => {
    expect(result.resting).toEqual(result.expectedResting);
  });
  it('takes every transition the machine defines', () => {
    expect(result.taken).toEqual(result.defined);
  });
  it('starts pending', () => {
    expect(initialTransition(analysisRunMachine, inputs[0] as { metrics: MetricLimits[] })[0].value).toBe(
      'pending',
    );
  });
});
