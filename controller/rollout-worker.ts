// The Rollout worker: what the work queue runs for one key, the twin of the analysis runner's
// pass. It reconciles the Rollout, then says what happened: metrics, one log line for a pass that
// changed something (with its actions and duration), the rollback counter, and when to come back.
import type { AnalysisMetrics } from './analysis/metrics.ts';
import type { QueueHandler } from './kube/workqueue.ts';
import { type Logger, reconcileLogger } from './log.ts';
import type { SluiceMetrics } from './metrics.ts';
import { type ReconcileDeps, reconcile } from './reconcile.ts';
import { revisionOf } from './revision.ts';
import type { CachedWorld } from './world-cache.ts';
import { NotLeaderError, StaleWrite } from './writer.ts';

export interface RolloutWorkerDeps {
  /** False until the informers synced, and while another replica leads: the key is dropped. */
  ready: () => boolean;
  world: CachedWorld;
  reconcile: ReconcileDeps;
  metrics: SluiceMetrics;
  analysisMetrics: AnalysisMetrics;
  log: Logger;
}

export function rolloutHandler(deps: RolloutWorkerDeps): QueueHandler {
  const { world, metrics, log } = deps;
  return async (key) => {
    if (!deps.ready()) return undefined;
    const [namespace, name] = key.split('/') as [string, string];
    const rollout = world.rollout(namespace, name);
    if (!rollout) {
      world.forget(namespace, name);
      metrics.forgetRollout(namespace, name);
      return undefined;
    }
    const rlog = reconcileLogger(log, { namespace, name, revision: safeRevision(rollout) });
    const started = performance.now();
    let changed = 'error';
    try {
      const outcome = await reconcile(deps.reconcile, rollout);
      const status = world.rollout(namespace, name)?.status;
      if (status?.phase) metrics.setRolloutPhase(namespace, name, status.phase);
      if (status?.canary) metrics.setCanaryWeight(namespace, name, status.canary.weight);
      metrics.setReplicas(namespace, name, {
        desired: rollout.spec?.replicas ?? 1,
        current: status?.replicas,
        updated: status?.updatedReplicas,
        ready: status?.readyReplicas,
        available: status?.availableReplicas,
      });
      metrics.setAnalysisPhase(namespace, name, 'current', status?.analysis?.phase);
      metrics.setAnalysisPhase(namespace, name, 'background', status?.backgroundAnalysis?.phase);
      metrics.setRolloutInfo(
        namespace,
        name,
        rollout.spec?.strategy?.blueGreen ? 'blueGreen' : 'canary',
        status?.currentRevision ?? '',
      );
      changed = String(outcome.actions.length > 0 || outcome.wroteStatus);
      if (changed === 'true') {
        rlog.info(
          {
            actions: outcome.actions.map((a) => a.type),
            phase: status?.phase,
            // Which passes are slow, and doing what: the histogram alone cannot say.
            durationMs: Math.round(performance.now() - started),
          },
          status?.message ?? 'reconciled',
        );
      }
      for (const a of outcome.actions)
        if (a.type === 'markAborted')
          deps.analysisMetrics.rollbacks.inc({ namespace, name, reason: a.params.kind });
      if (outcome.problem) rlog.warn({ reason: outcome.problem.reason }, outcome.problem.message);
      if (outcome.requeueAfterMs === undefined) return undefined;
      return {
        requeueAfterMs: outcome.requeueAfterMs,
        requeuePriority: outcome.requeueIsHousekeeping ? 'routine' : 'due',
      };
    } catch (err) {
      if (err instanceof NotLeaderError) return undefined;
      metrics.reconcileErrors.inc({ namespace, name });
      if (!(err instanceof StaleWrite)) rlog.warn({ err }, 'reconcile failed; will retry');
      throw err;
    } finally {
      metrics.reconcileDuration.observe({ changed }, (performance.now() - started) / 1000);
    }
  };
}

function safeRevision(rollout: { spec?: { template?: unknown } }): string | undefined {
  try {
    return rollout.spec?.template ? revisionOf(rollout.spec.template as never) : undefined;
  } catch {
    return undefined;
  }
}
