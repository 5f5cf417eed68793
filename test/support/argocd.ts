// Helpers for the suites that run against the sandbox's real Argo CD (`npm run test:argocd`).
import type { Application } from '../../sandbox/gitops-argocd.ts';
import { sandbox } from '../harness/env.ts';

/** The sandbox's git server, which Argo CD reads; throws when the sandbox runs without Argo CD. */
export function argoGit(): { url: string; root: string } {
  const env = sandbox();
  if (!env.ARGOCD_NAMESPACE || !env.GIT_URL || !env.GIT_ROOT)
    throw new Error('the sandbox runs without Argo CD (sandbox:up -- --with-argocd)');
  return { url: env.GIT_URL, root: env.GIT_ROOT };
}

/**
 * The Application once Argo CD itself concluded it is Synced to `sha` and Healthy, with its sync
 * operation to `sha` finished (Synced is a comparison and can come first: one run failed on it);
 * until then it throws what Argo CD says instead, which a timeout reports as the last observed.
 */
export function syncedAndHealthy(app: Application, sha: string): Application {
  const s = app.status;
  if (
    s?.sync?.status === 'Synced' &&
    s.sync.revision === sha &&
    s.health?.status === 'Healthy' &&
    s.operationState?.phase === 'Succeeded' &&
    s.operationState.syncResult?.revision === sha
  )
    return app;
  throw new Error(
    JSON.stringify({
      sync: s?.sync,
      health: s?.health,
      operation: s?.operationState?.phase,
      operationRevision: s?.operationState?.syncResult?.revision,
      message: s?.operationState?.message,
      conditions: s?.conditions,
    }),
  );
}
