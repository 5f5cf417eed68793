// At a compareToStable run's start: ask the admin's Prometheus for the last hour's traffic (one
// query, short deadline, cached per Services), work out what the gate can see, and say it as a
// Warning Event on the Rollout when the configured effect cannot be seen in the time it has.
import { sideOf } from '../../analysis/compare/queries.ts';
import { assessGate } from '../../analysis/detectability.ts';
import { flavourOf } from '../../analysis/flavour.ts';
import type { Destination } from '../../analysis/promql.ts';
import type { ProviderPool } from '../../analysis/provider.ts';
import type { TrafficHistoryCache } from '../../analysis/traffic-history.ts';
import { type AnalysisRun, API_VERSION, type Detectability, type Rollout } from '../../crds/index.ts';
import type { EventRecorder } from '../kube/events.ts';
import { envoyClusters } from '../traffic/envoy-clusters.ts';
import type { GatewayRoute, GatewayRouteKind } from '../traffic/gateway-route.ts';
import { WATCH_INCONCLUSIVE_LIMIT } from './runs.ts';

export interface DetectabilityDeps {
  traffic: TrafficHistoryCache;
  providers: ProviderPool;
  /** The admin's --prometheus-url. Only it is asked: a tenant's address is never sent extra queries. */
  address?: string;
  /** Per query. Default 3 s: the run's first pass waits on it. */
  timeoutMs?: number;
  events?: Pick<EventRecorder, 'record'>;
}

/**
 * The run's errors or p99 comparison, if it has one: its Services are the ones measured (the
 * checks of one gate compare the same sides).
 */
const comparedMetric = (run: AnalysisRun) =>
  run.spec.metrics.find((m) => m.builtin === 'compareErrors' || m.builtin === 'compareLatencyP99');

/** What the run's gate can see; undefined when it has no errors or p99 comparison, or nothing to ask. */
export async function assessRun(
  deps: DetectabilityDeps,
  run: AnalysisRun,
  rollout: Rollout | undefined,
  /** The Gateway API routes in the caches, for a run reading Envoy Gateway's clusters. */
  routes?: (kind: GatewayRouteKind, namespace: string, name: string) => GatewayRoute | undefined,
): Promise<Detectability | undefined> {
  const metric = comparedMetric(run);
  // A watch (the background gate run again while the release is paused) was said at its first run.
  if (!metric?.compare || metric.inconclusiveLimit === WATCH_INCONCLUSIVE_LIMIT) return undefined;
  if (!rollout || deps.address === undefined) return undefined;
  const namespace = run.metadata.namespace ?? 'default';
  const provider = deps.providers.get(deps.address, deps.timeoutMs ?? 3000);
  const { canaryService, stableService, canaryRevision, stableRevision } = metric.compare;
  const canary: Destination = { namespace, ...sideOf(canaryService, canaryRevision) };
  const stable: Destination = { namespace, ...sideOf(stableService, stableRevision) };
  const flavour = flavourOf(metric.builtinMetrics);
  if (flavour.name === 'envoyGateway') {
    // The run keeps its sides' clusters only inside its queries: they are found again in the
    // routes as they are now, which a release does not change.
    const clusters = envoyClusters(rollout.spec, namespace, (kind, name) => routes?.(kind, namespace, name));
    if (typeof clusters === 'string') {
      return assessGate(rollout.spec, run.spec.gate, run.spec.stepIndex, { missing: clusters });
    }
    canary.clusters = clusters.get(canaryService) ?? [];
    stable.clusters = clusters.get(stableService) ?? [];
  }
  const traffic = await deps.traffic.get(provider, canary, stable, flavour);
  return assessGate(rollout.spec, run.spec.gate, run.spec.stepIndex, traffic);
}

/** The Warning a person needs before trusting the gate: what it can and cannot see, with the numbers. */
export async function warnIfBlind(
  events: Pick<EventRecorder, 'record'> | undefined,
  run: AnalysisRun,
  rollout: Rollout,
  d: Detectability,
): Promise<void> {
  if (!events || d.outcome !== 'CannotSee') return;
  await events.record(
    {
      apiVersion: API_VERSION,
      kind: 'Rollout',
      name: rollout.metadata.name ?? '',
      namespace: rollout.metadata.namespace ?? 'default',
      ...(rollout.metadata.uid ? { uid: rollout.metadata.uid } : {}),
    },
    {
      type: 'Warning',
      reason: 'GateCannotSee',
      action: 'StartAnalysis',
      note: `analysis ${run.metadata.name}: ${d.message} (${d.basis})`,
    },
  );
}
