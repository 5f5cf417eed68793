// What reaches the revision an AnalysisRun measures, read from the controller's caches: the
// observation behind analysis/traffic-start.ts, which decides when a gate's clock starts.
import { type TrafficSeen, weightAtStep } from '../../analysis/traffic-start.ts';
import { type AnalysisRun, progressDeadlineMs } from '../../crds/index.ts';
import { requestRoutesAt } from '../../machines/desired.ts';
import { parseRollout } from '../parse-cache.ts';
import { REVISION_LABEL } from '../revision.ts';
import { type Router, routersFor } from '../traffic/router.ts';
import { RoutingError } from '../traffic/virtual-service.ts';
import type { World } from '../world.ts';

type Caches = Pick<World, 'rollout' | 'replicaSets' | 'service' | 'virtualService' | 'gatewayRoute'>;

/**
 * The run's revision's ready pods and, where a VirtualService or a Service switch decides
 * whether the measured Service gets requests, that too:
 * - canary with Istio routing: the canary weight, counted only as far as Sluice itself set it
 *   (status.canary.weight), so a hand edit the next reconcile undoes does not start the clock;
 *   a step gate at a step the spec runs at weight 0 needs ready pods only (a check before traffic);
 * - blue-green after the switch (post-promotion): the VirtualService's weight when it routes,
 *   else whether the active Service selects the revision;
 * - a canary without routing and a blue-green preview: ready pods behind their Service suffice.
 * Undefined when the Rollout is gone or unreadable: the run then counts from its start.
 */
export function canaryTraffic(
  world: Caches,
  run: AnalysisRun,
): { seen: TrafficSeen; deadlineMs: number } | undefined {
  const namespace = run.metadata.namespace ?? 'default';
  const raw = world.rollout(namespace, run.spec.rollout);
  const parsed = raw && parseRollout(raw);
  if (!raw || !parsed?.ok) return undefined;
  const rollout = parsed.value;
  const rs = world
    .replicaSets(namespace, run.spec.rollout)
    .find((r) => r.metadata?.labels?.[REVISION_LABEL] === run.spec.revision);
  const seen: TrafficSeen = { readyPods: rs?.status?.readyReplicas ?? 0 };
  const { canary, blueGreen } = rollout.spec.strategy;
  const routers = routersFor(rollout.spec);
  const first = routers[0];
  // With several routed objects, the canary has had traffic only as far as every one gives it.
  const routedWeight = () => Math.min(...routers.map((r) => weightIn(r)));
  const weightIn = (router: Router) => {
    const view = router.read(world, namespace);
    if (!view) return 0;
    try {
      return view.weight() ?? 0;
    } catch (err) {
      if (err instanceof RoutingError) return 0; // routes gone: the reconcile stalls and says so
      throw err;
    }
  };
  const beforeTraffic =
    run.spec.gate === 'step' && weightAtStep(canary?.steps ?? [], run.spec.stepIndex ?? 0) === 0;
  if (canary && first && !beforeTraffic) {
    const given = rollout.status?.canary?.weight ?? 0;
    // A header or mirror route already sends the canary requests at weight 0: its pods suffice.
    const status = rollout.status;
    const releasing =
      status?.currentRevision !== undefined && status.currentRevision !== status.stableRevision;
    const byRequest = requestRoutesAt(canary, status?.currentStepIndex ?? 0, releasing && !status?.abort);
    if (byRequest.wanted.length === 0) {
      seen.weight = Math.min(routedWeight(), given);
      seen.routedBy = `${first.kind} ${first.name}`;
      if (given <= 0) seen.weightPlanned = true;
    }
  } else if (blueGreen && run.spec.gate === 'postPromotion') {
    if (first) {
      seen.weight = routedWeight();
      seen.routedBy = `${first.kind} ${first.name}`;
    } else {
      const selector = world.service(namespace, blueGreen.activeService)?.spec?.selector;
      seen.selected = selector?.[REVISION_LABEL] === run.spec.revision;
    }
  }
  return { seen, deadlineMs: progressDeadlineMs(rollout.spec) };
}
