import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { ROLLOUT_PHASES, type RolloutPhase } from '../crds/index.ts';

/** Everything Sluice exports, in one registry of its own (not prom-client's global one). */
export function createMetrics(registry = new Registry()) {
  collectDefaultMetrics({ register: registry });
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
    help: 'Reconcile passes that ended in an error',
    registers: [registry],
  });
  const workqueueDepth = new Gauge({
    name: 'sluice_workqueue_depth',
    help: 'Keys waiting for a worker',
    registers: [registry],
  });

  // Info labels change with the revision; remember the last set so the old series goes away
  // instead of lingering as a second "current" revision.
  const infoLabels = new Map<string, { strategy: string; revision: string }>();
  const key = (namespace: string, name: string) => `${namespace}/${name}`;

  return {
    registry,
    reconcileDuration,
    reconcileErrors,
    workqueueDepth,
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
    /** Drops every series of a deleted Rollout. */
    forgetRollout(namespace: string, name: string): void {
      const prev = infoLabels.get(key(namespace, name));
      if (prev) rolloutInfo.remove({ namespace, name, ...prev });
      infoLabels.delete(key(namespace, name));
      for (const p of ROLLOUT_PHASES) rolloutPhase.remove({ namespace, name, phase: p });
      canaryWeight.remove({ namespace, name });
    },
  };
}

export type SluiceMetrics = ReturnType<typeof createMetrics>;
