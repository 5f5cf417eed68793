import { type AnyStateMachine, createActor, type InspectionEvent } from 'xstate';
import type { RolloutSpec, RolloutStatus, Step } from '../../../crds/index.ts';
import type { Effect } from '../../../machines/actions.ts';
import { type Decision, decide } from '../../../machines/decide.ts';
import type { GateKind, GateObservation, ReleaseEvent } from '../../../machines/events.ts';

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
  return { ...base, strategy: { canary: { stableService: 's', canaryService: 'c', steps, ...extra } } };
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

/** Drives decide() the way the controller will: status in, status out, actions collected per call. */
export class Driver {
  status: RolloutStatus | undefined;
  last: Decision = { status: {}, actions: [], wakeAt: undefined, wakeIsHousekeeping: false };
  readonly log: Effect[][] = [];
  constructor(
    readonly spec: RolloutSpec,
    status?: RolloutStatus,
  ) {
    this.status = status;
  }
  send(...events: ReleaseEvent[]): Effect[] {
    this.last = decide({ name: ROLLOUT, spec: this.spec }, this.status, events);
    this.status = this.last.status;
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
