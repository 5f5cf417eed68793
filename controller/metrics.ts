import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { ANALYSIS_PHASES, type AnalysisPhase, ROLLOUT_PHASES, type RolloutPhase } from '../crds/index.ts';
import { registerBuildInfo } from './build-info.ts';
import type { QueueObserver } from './kube/workqueue.ts';

/** Everything Sluice exports, in one registry of its own (not prom-client's global one). */
export function createMetrics(registry = new Registry()) {
  collectDefaultMetrics({ register: registry });
  registerBuildInfo(registry);
  const rolloutInfo = new Gauge({
    name: 'sluice_rollout_info',
    help: 'Always 1; labels carry the Rollout strategy and current revision',
    labelNames: ['namespace', 'name', 'strategy', 'revision'] as const,
    registers: [registry],
  });
  const rolloutPhase = new Gauge({
    name: 'sluice_rollout_phase',
    help: 'Rollout phase: 1 for the current phase, 0 for the others',
    labelNames: ['namespace', 'name', 'phase'] as const,
    registers: [registry],
  });
  const canaryWeight = new Gauge({
    name: 'sluice_rollout_canary_weight',
    help: 'Percent of traffic routed to the canary',
    labelNames: ['namespace', 'name'] as const,
    registers: [registry],
  });
  const reconcileDuration = new Histogram({
    name: 'sluice_reconcile_duration_seconds',
    help: 'Time spent in one reconcile pass; changed="true" when it acted or wrote status (and so waited on the API server), "error" when it failed',
    labelNames: ['changed'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const reconcileErrors = new Counter({
    name: 'sluice_reconcile_errors_total',
    help: 'Reconcile passes of a Rollout that ended in an error',
    labelNames: ['namespace', 'name'] as const,
    registers: [registry],
  });
  const replicas = new Gauge({
    name: 'sluice_rollout_replicas',
    help: "A Rollout's pods: desired (spec), current, updated (the release's revision), ready, available",
    labelNames: ['namespace', 'name', 'state'] as const,
    registers: [registry],
  });
  const analysisPhase = new Gauge({
    name: 'sluice_rollout_analysis_phase',
    help: "Phase of a Rollout's current gates: 1 for the phase of each gate (step/promotion, background), 0 for the others",
    labelNames: ['namespace', 'name', 'gate', 'phase'] as const,
    registers: [registry],
  });
  const queues = workqueueMetrics(registry);

  // Info labels change with the revision; remember the last set so the old series goes away
  // instead of lingering as a second "current" revision.
  const infoLabels = new Map<string, { strategy: string; revision: string }>();
  const key = (namespace: string, name: string) => `${namespace}/${name}`;

  return {
    registry,
    reconcileDuration,
    reconcileErrors,
    /** client-go's workqueue metrics for the queue of this name. */
    queueObserver: queues.observer,
    setRolloutInfo(namespace: string, name: string, strategy: string, revision: string): void {
      const prev = infoLabels.get(key(namespace, name));
      if (prev && (prev.strategy !== strategy || prev.revision !== revision)) {
        rolloutInfo.remove({ namespace, name, ...prev });
      }
      infoLabels.set(key(namespace, name), { strategy, revision });
      rolloutInfo.set({ namespace, name, strategy, revision }, 1);
    },
    setRolloutPhase(namespace: string, name: string, phase: RolloutPhase): void {
      for (const p of ROLLOUT_PHASES) rolloutPhase.set({ namespace, name, phase: p }, p === phase ? 1 : 0);
    },
    setCanaryWeight(namespace: string, name: string, weight: number): void {
      canaryWeight.set({ namespace, name }, weight);
    },
    setReplicas(namespace: string, name: string, counts: Record<ReplicaState, number | undefined>): void {
      for (const state of REPLICA_STATES) replicas.set({ namespace, name, state }, counts[state] ?? 0);
    },
    setAnalysisPhase(
      namespace: string,
      name: string,
      gate: GateSlot,
      phase: AnalysisPhase | undefined,
    ): void {
      for (const p of ANALYSIS_PHASES) {
        if (phase === undefined) analysisPhase.remove({ namespace, name, gate, phase: p });
        else analysisPhase.set({ namespace, name, gate, phase: p }, p === phase ? 1 : 0);
      }
    },
    /**
     * A replica that stops leading stops knowing: its gauges of each Rollout's state would go
     * on saying what it last saw, beside the new leader's. Counters stay: they are history.
     */
    forgetRolloutState(): void {
      for (const g of [rolloutInfo, rolloutPhase, canaryWeight, replicas, analysisPhase]) g.reset();
      infoLabels.clear();
    },
    /** Drops every series of a deleted Rollout. */
    forgetRollout(namespace: string, name: string): void {
      const prev = infoLabels.get(key(namespace, name));
      if (prev) rolloutInfo.remove({ namespace, name, ...prev });
      infoLabels.delete(key(namespace, name));
      for (const p of ROLLOUT_PHASES) rolloutPhase.remove({ namespace, name, phase: p });
      canaryWeight.remove({ namespace, name });
      reconcileErrors.remove({ namespace, name });
      for (const state of REPLICA_STATES) replicas.remove({ namespace, name, state });
      for (const gate of GATE_SLOTS)
        for (const phase of ANALYSIS_PHASES) analysisPhase.remove({ namespace, name, gate, phase });
    },
  };
}

export type SluiceMetrics = ReturnType<typeof createMetrics>;

export const REPLICA_STATES = ['desired', 'current', 'updated', 'ready', 'available'] as const;
export type ReplicaState = (typeof REPLICA_STATES)[number];
/** `gate`: the step's or promotion's gate (status.analysis), or the background one. */
const GATE_SLOTS = ['current', 'background'] as const;
export type GateSlot = (typeof GATE_SLOTS)[number];

/**
 * The workqueue metrics client-go controllers export (`workqueue_*{name}`), so dashboards and
 * alerts written for them read Sluice's queues too.
 */
function workqueueMetrics(registry: Registry) {
  const labelNames = ['name'] as const;
  const seconds = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60];
  const adds = new Counter({
    name: 'workqueue_adds_total',
    help: 'Adds handled by the workqueue',
    labelNames,
    registers: [registry],
  });
  const depth = new Gauge({
    name: 'workqueue_depth',
    help: 'Current depth of the workqueue',
    labelNames,
    registers: [registry],
  });
  const queued = new Histogram({
    name: 'workqueue_queue_duration_seconds',
    help: 'How long an item stays in the workqueue before being requested',
    labelNames,
    buckets: seconds,
    registers: [registry],
  });
  const work = new Histogram({
    name: 'workqueue_work_duration_seconds',
    help: 'How long processing an item from the workqueue takes',
    labelNames,
    buckets: seconds,
    registers: [registry],
  });
  const retries = new Counter({
    name: 'workqueue_retries_total',
    help: 'Retries handled by the workqueue',
    labelNames,
    registers: [registry],
  });
  return {
    observer(name: string): QueueObserver {
      const l = { name };
      depth.set(l, 0);
      adds.inc(l, 0);
      retries.inc(l, 0);
      return {
        added: () => adds.inc(l),
        depth: (n) => depth.set(l, n),
        waited: (s) => queued.observe(l, s),
        worked: (s) => work.observe(l, s),
        retried: () => retries.inc(l),
      };
    },
  };
}
