// An Argo Rollout becomes a Sluice Rollout field by field under the same names. Only ideas Sluice
// does not have at all are named here (another router, experiments, header and mirror routes, a
// paused spec); which other fields Sluice knows is for its schema to say (edit.ts).

import type { Path } from '../judge.ts';
import type { Converted, Edit } from './edit.ts';

/** Traffic routers other than Istio, by Argo's field name. */
const OTHER_ROUTERS = ['nginx', 'alb', 'smi', 'ambassador', 'appMesh', 'traefik', 'apisix', 'plugins'];

const STEP_IDEAS: Record<string, string> = {
  experiment: 'experiments (side-by-side ReplicaSets with their own analysis) are not a Sluice idea',
  setHeaderRoute: 'header-based routes are not a Sluice idea: Sluice moves traffic by weight only',
  setMirrorRoute: 'mirrored traffic is not a Sluice idea: Sluice moves traffic by weight only',
};

export interface Workload {
  selector?: unknown;
  template?: unknown;
}

/** Deployments of the same input, by `namespace/name` ('' namespace when the file gives none). */
export type Workloads = Map<string, Workload>;

export const workloadKey = (namespace: unknown, name: unknown): string =>
  `${typeof namespace === 'string' ? namespace : ''}/${String(name)}`;

function dropRouters(edit: Edit, routing: Path): void {
  const value = edit.get(routing);
  if (!value || typeof value !== 'object') return;
  for (const router of OTHER_ROUTERS) {
    if (router in value)
      edit.drop(
        [...routing, router],
        `another traffic router (${router}): Sluice routes traffic through Istio only`,
      );
  }
  if ('managedRoutes' in value)
    edit.drop([...routing, 'managedRoutes'], 'managed header and mirror routes are not a Sluice idea');
}

export function convertRollout(edit: Edit): Converted {
  if (edit.get(['spec', 'paused']) !== undefined)
    edit.drop(
      ['spec', 'paused'],
      'a paused spec is not a Sluice idea: `kubectl sluice pause` / `resume` keep it in status, which a GitOps sync does not undo',
    );
  dropRouters(edit, ['spec', 'strategy', 'canary', 'trafficRouting']);
  dropRouters(edit, ['spec', 'strategy', 'blueGreen', 'trafficRouting']);
  const steps = edit.get(['spec', 'strategy', 'canary', 'steps']);
  if (Array.isArray(steps)) {
    steps.forEach((step, i) => {
      const idea = Object.keys(step ?? {}).find((k) => k in STEP_IDEAS);
      if (idea) edit.drop(['spec', 'strategy', 'canary', 'steps', i], STEP_IDEAS[idea] as string);
    });
  }
  return edit.finish('Rollout');
}
