import { type AnyStateMachine, createActor, type InspectionEvent } from 'xstate';
import { type RolloutSpec, type RolloutStatus, replicasOf, type Step } from '../../../crds/index.ts';
import type { Effect } from '../../../machines/actions.ts';
import { type Decision, decide } from '../../../machines/decide.ts';
import { desiredWorld } from '../../../machines/desired.ts';
import type { GateKind, GateObservation, ReleaseEvent } from '../../../machines/events.ts';
import { type ObservedWorld, planWrites, type Write } from '../../../machines/write-plan.ts';

export const ROLLOUT = 'checkout';
export const T0 = Date.parse('2026-01-01T00:00:00Z');
export const MIN = 60_000;

const base = {
  replicas: 4,
  selector: { matchLabels: { app: 'checkout' } },
  template: {
    metadata: { labels: { app: 'checkout' } },
    spec: { containers: [{ name: 'app', image: 'shop/checkout:1' }] },
  },
};

export const gate = { successRate: { min: 99 } };

export function canarySpec(
  steps: Step[] = [],
  extra: Partial<NonNullable<RolloutSpec['strategy']['canary']>> = {},
): RolloutSpec {
  return {
    ...base,
    strategy: {
      canary: {
        stableService: 's',
        canaryService: 'c',
        trafficRouting: { istio: { virtualService: { name: 'vs' } } },
        steps,
        ...extra,
      },
    },
  };
}

export function blueGreenSpec(
  extra: Partial<NonNullable<RolloutSpec['strategy']['blueGreen']>> = {},
): RolloutSpec {
  return {
    ...base,
    strategy: { blueGreen: { activeService: 'active', previewService: 'preview', ...extra } },
  };
}

export const observe = (
  now: number,
  revision: string,
  extra: {
    ready?: boolean;
    gates?: Partial<Record<GateKind, GateObservation>>;
  } = {},
): ReleaseEvent => ({
  type: 'OBSERVE',
  now,
  revision,
  ready: { canary: extra.ready ?? false, preview: extra.ready ?? false },
  ...(extra.gates ? { gates: extra.gates } : {}),
});

/** The world as the pass that wrote `status` left it: its desired world, carried out. */
export function worldOf(spec: RolloutSpec, status: RolloutStatus | undefined, now: number): ObservedWorld {
  const desired = desiredWorld(spec, status, now);
  // A revision with a scale-down planned still runs: only a later pass scales it down.
  const kept = Object.fromEntries((status?.scaleDown ?? []).map((e) => [e.revision, replicasOf(spec)]));
  return {
    templateRevision: status?.currentRevision ?? '',
    replicas: { ...kept, ...desired.replicas },
    services: { ...desired.services },
    ...(desired.weight === undefined ? {} : { route: { weight: desired.weight, matchesDesired: false } }),
    ...(spec.strategy.canary?.stableService ? { stableService: spec.strategy.canary.stableService } : {}),
    ...(desired.baseline ? { baselines: [desired.baseline.revision] } : {}),
  };
}

/** What a decision changes in the world, in the order the controller writes it (write-plan.ts). */
export function writesOf(
  spec: RolloutSpec,
  before: RolloutStatus | undefined,
  after: RolloutStatus,
  now: number,
): Write[] {
  const observed = worldOf(spec, before, now);
  const desired = desiredWorld(spec, after, now);
  const route = observed.route && {
    ...observed.route,
    matchesDesired: observed.route.weight === desired.weight,
  };
  const templateRevision = after.currentRevision ?? observed.templateRevision;
  return planWrites({ ...observed, templateRevision, ...(route ? { route } : {}) }, desired);
}

/** Traffic writes only (weights and Services), in order. */
export const trafficOf = (writes: Write[]) =>
  writes.filter((w) => w.type === 'setWeight' || w.type === 'pointService');

/** Drives decide() the way the controller will: status in, status out, actions collected per call. */
export class Driver {
  status: RolloutStatus | undefined;
  last: Decision = { status: {}, actions: [], wakeAt: undefined, wakeIsHousekeeping: false };
  /** The writes the last decision makes, from the world the status before it stood for. */
  writes: Write[] = [];
  readonly log: Effect[][] = [];
  constructor(
    readonly spec: RolloutSpec,
    status?: RolloutStatus,
  ) {
    this.status = status;
  }
  send(...events: ReleaseEvent[]): Effect[] {
    const before = this.status;
    this.last = decide({ name: ROLLOUT, spec: this.spec }, this.status, events);
    this.status = this.last.status;
    this.writes = writesOf(this.spec, before, this.status, events.at(-1)?.now ?? 0);
    this.log.push(this.last.actions);
    return this.last.actions;
  }
  get analysis() {
    return this.status?.analysis?.name ?? '';
  }
  get background() {
    return this.status?.backgroundAnalysis?.name ?? '';
  }
}

export const types = (actions: Effect[]) => actions.map((a) => a.type);
/** The reason of each Event a decision emits, in order. */
export const reasons = (actions: Effect[]) => find(actions, 'emitEvent').map((a) => a.params.reason);
export const find = <K extends Effect['type']>(actions: Effect[], type: K) =>
  actions.filter((a): a is Extract<Effect, { type: K }> => a.type === type);

/** A driver already past the first revision (r1 stable). */
export function established(spec: RolloutSpec): Driver {
  const d = new Driver(spec);
  d.send(observe(T0, 'r1', { ready: true }));
  return d;
}

/** Every transition a machine defines, labelled `source#event#index`. */
export function definedTransitions(machine: AnyStateMachine): Map<object, string> {
  const labels = new Map<object, string>();
  const walk = (node: AnyStateMachine['root']) => {
    for (const [event, list] of node.transitions) {
      for (const [i, t] of list.entries()) labels.set(t, `${node.id}#${event}#${i}`);
    }
    for (const [i, t] of (node.always ?? []).entries()) labels.set(t, `${node.id}#always#${i}`);
    for (const child of Object.values(node.states)) walk(child);
  };
  walk(machine.root);
  return labels;
}

/**
 * Replays a path on a real (inspected) actor, then tries each next event from where it ends,
 * collecting every transition definition that fires: all edges out of the path's end state.
 */
export function takenTransitions<TEvent extends { type: string }>(
  machine: AnyStateMachine,
  input: unknown,
  path: TEvent[],
  next: (snapshot: never) => TEvent[],
  into: Set<object>,
): void {
  const inspect = (e: InspectionEvent) => {
    if (e.type === '@xstate.microstep') for (const t of e._transitions) into.add(t);
  };
  const actor = createActor(machine, { input, inspect }).start();
  for (const event of path) actor.send(event);
  const end = actor.getPersistedSnapshot();
  for (const event of next(actor.getSnapshot() as never)) {
    const probe = createActor(machine, { input, snapshot: end, inspect }).start();
    probe.send(event);
    probe.stop();
  }
  actor.stop();
}
