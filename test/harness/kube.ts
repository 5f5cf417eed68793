import { type Clients, loadKubeConfig, makeClients } from '../../controller/kube/client.ts';
import { sandbox } from './env.ts';

export type { Clients };

let cached: Clients | undefined;

/** API clients for the sandbox cluster, from the kubeconfig `up` wrote: the controller's own set. */
export function kube(): Clients {
  cached ??= makeClients(loadKubeConfig({ kubeconfig: sandbox().KUBECONFIG }));
  return cached;
}
