import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
} from '@kubernetes/client-node';
import { sandbox } from './env.ts';

export interface Clients {
  kc: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  custom: CustomObjectsApi;
  objects: KubernetesObjectApi;
}

let cached: Clients | undefined;

/** API clients for the sandbox cluster, from the kubeconfig `up` wrote. */
export function kube(): Clients {
  if (cached) return cached;
  const kc = new KubeConfig();
  kc.loadFromFile(sandbox().KUBECONFIG);
  cached = {
    kc,
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    objects: KubernetesObjectApi.makeApiClient(kc),
  };
  return cached;
}
