// What the controller would still write to a Rollout's routes, worked out from the objects as
// the API server stores them: the check that a release at rest sends no write on every pass.
import { requestJson } from '../../controller/kube/client.ts';
import type { GatewayRoute } from '../../controller/traffic/gateway-route.ts';
import { routersFor } from '../../controller/traffic/router.ts';
import type { VirtualService } from '../../controller/traffic/virtual-service.ts';
import type { Rollout } from '../../crds/index.ts';
import { requestRoutesAt } from '../../machines/desired.ts';
import { kube } from '../harness/kube.ts';

const get = <T>(path: string) => requestJson<T>(kube().kc, { method: 'GET', path });

/**
 * What the controller would write to the Rollout's routes next, worked out from the objects as
 * the API server stores them (its key order, its defaults). A release at rest has nothing to
 * write: anything else is a write sent on every pass.
 */
export async function pendingWrites(ns: string): Promise<unknown[]> {
  const rollout = await get<Rollout>(`/apis/sluice.dev/v1alpha1/namespaces/${ns}/rollouts/web`);
  const canary = rollout.spec.strategy.canary ?? {};
  const status = rollout.status;
  const releasing = status?.currentRevision !== undefined && status.currentRevision !== status.stableRevision;
  const wanted = requestRoutesAt(
    canary,
    status?.currentStepIndex ?? 0,
    releasing && !status?.abort,
    status?.currentRevision,
  );
  const stored = new Map<string, unknown>();
  for (const r of routersFor(rollout.spec)) {
    const path =
      r.kind === 'VirtualService'
        ? `/apis/networking.istio.io/v1/namespaces/${ns}/virtualservices/${r.name}`
        : `/apis/gateway.networking.k8s.io/v1/namespaces/${ns}/${r.kind.toLowerCase()}s/${r.name}`;
    stored.set(`${r.kind}/${r.name}`, await get(path));
  }
  const caches = {
    virtualService: (_: string, name: string) => stored.get(`VirtualService/${name}`) as VirtualService,
    gatewayRoute: (kind: string, _: string, name: string) => stored.get(`${kind}/${name}`) as GatewayRoute,
  };
  return routersFor(rollout.spec).flatMap((r): unknown[] => {
    const view = r.read(caches, ns);
    return view ? view.patch(view.weight() ?? 0, wanted) : [`${r.kind} ${r.name} not found`];
  });
}
