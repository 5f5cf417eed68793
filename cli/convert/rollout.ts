// An Argo Rollout becomes a Sluice Rollout field by field under the same names. Only ideas Sluice
// does not have at all are named here (another router, experiments, a paused spec) and the one it has under another name (the Gateway API plugin); which other fields
// Sluice knows is for its schema to say (edit.ts).

import type { Path } from '../judge.ts';
import type { Converted, Edit } from './edit.ts';

/** Traffic routers other than Istio and the Gateway API, by Argo's field name. */
const OTHER_ROUTERS = ['nginx', 'alb', 'smi', 'ambassador', 'appMesh', 'traefik', 'apisix'];

/** Argo's Gateway API plugin, which Sluice has built in as trafficRouting.gatewayAPI. */
const GATEWAY_PLUGIN = 'argoproj-labs/gatewayAPI';

const STEP_IDEAS: Record<string, string> = {
  experiment: 'experiments (side-by-side ReplicaSets with their own analysis) are not a Sluice idea',
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
        `another traffic router (${router}): Sluice routes traffic through Istio or the Gateway API`,
      );
  }
  const plugins = (value as { plugins?: Record<string, unknown> }).plugins;
  if (plugins && typeof plugins === 'object') {
    for (const name of Object.keys(plugins)) {
      if (name === GATEWAY_PLUGIN) gatewayPlugin(edit, routing, plugins[name]);
      else
        edit.drop(
          [...routing, 'plugins', name],
          `another traffic router (plugin ${name}): Sluice routes through Istio or the Gateway API`,
        );
    }
    edit.remove([...routing, 'plugins']);
  }
}

/** The plugin's httpRoute(s) and grpcRoute as Sluice's gatewayAPI; what has no counterpart is named. */
function gatewayPlugin(edit: Edit, routing: Path, config: unknown): void {
  const at = [...routing, 'plugins', GATEWAY_PLUGIN];
  const c = (typeof config === 'object' && config !== null ? config : {}) as Record<string, unknown>;
  const named = (v: unknown) => (typeof v === 'string' ? [{ name: v }] : undefined);
  const list = (v: unknown) =>
    Array.isArray(v)
      ? v.flatMap((r) => (typeof r?.name === 'string' ? [{ name: r.name as string }] : []))
      : undefined;
  const httpRoutes = list(c.httpRoutes) ?? named(c.httpRoute);
  const grpcRoutes = named(c.grpcRoute);
  const gatewayAPI = { ...(httpRoutes && { httpRoutes }), ...(grpcRoutes && { grpcRoutes }) };
  if (Object.keys(gatewayAPI).length > 0) edit.set([...routing, 'gatewayAPI'], gatewayAPI);
  const ns = edit.get(['metadata', 'namespace']);
  if (c.namespace !== undefined && c.namespace !== ns)
    edit.refuse([...at, 'namespace'], "Sluice routes only through routes in the Rollout's own namespace");
  for (const k of ['tcpRoute', 'tcpRoutes', 'tlsRoute', 'tlsRoutes', 'configMap'])
    if (k in c) edit.refuse([...at, k], `${k}: Sluice weighs HTTPRoutes and GRPCRoutes only`);
  if (Array.isArray(c.httpRoutes) && c.httpRoutes.some((r) => r?.useHeaderRoutes !== undefined))
    edit.note(
      'httpRoutes[].useHeaderRoutes is implied: Sluice puts setHeaderRoute rules in every HTTPRoute it weighs',
    );
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
