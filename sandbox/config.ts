import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Versions must match sandbox/build.sh, which keys its cache directories by them.
export const VERSIONS = {
  kubernetes: process.env.K8S_VERSION ?? 'v1.36.3',
  etcd: process.env.ETCD_VERSION ?? 'v3.6.16',
  kwok: process.env.KWOK_VERSION ?? 'v0.8.0',
  istioApi: process.env.ISTIO_API_VERSION ?? 'v1.32.0',
  gatewayApi: process.env.GATEWAY_API_VERSION ?? 'v1.6.3',
  fluxSource: process.env.FLUX_SOURCE_VERSION ?? 'v1.9.6',
  fluxKustomize: process.env.FLUX_KUSTOMIZE_VERSION ?? 'v1.9.6',
  helm: process.env.HELM_VERSION ?? 'v4.3.2',
  krew: process.env.KREW_VERSION ?? 'v0.4.3',
  argocd: process.env.ARGOCD_VERSION ?? 'v3.6.2',
} as const;

function port(name: string, fallback: number): number {
  const raw = process.env[`SLUICE_SANDBOX_${name}_PORT`];
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(n) || n <= 0 || n > 65535)
    throw new Error(`SLUICE_SANDBOX_${name}_PORT=${raw} is not a port`);
  return n;
}

/** Fixed loopback ports, away from common defaults; each can be moved with SLUICE_SANDBOX_<NAME>_PORT. */
export const PORTS = {
  apiserver: port('APISERVER', 16443),
  etcd: port('ETCD', 16379),
  controllerManager: port('CONTROLLER_MANAGER', 16257),
  scheduler: port('SCHEDULER', 16259),
  kwokController: port('KWOK_CONTROLLER', 16247),
  prometheus: port('PROMETHEUS', 19090),
  simulator: port('SIMULATOR', 19091),
  // Only with Flux: the git server it clones from, and source-controller's artifact server.
  git: port('GIT', 19092),
  fluxArtifacts: port('FLUX_ARTIFACTS', 19093),
  // Only with Argo CD: its redis, the repo server's gRPC and metrics ports, the application
  // controller's metrics port (upstream binds that one on every interface, not only loopback).
  argocdRedis: port('ARGOCD_REDIS', 19380),
  argocdRepoServer: port('ARGOCD_REPO_SERVER', 19381),
  argocdRepoServerMetrics: port('ARGOCD_REPO_SERVER_METRICS', 19382),
  argocdControllerMetrics: port('ARGOCD_CONTROLLER_METRICS', 19383),
  // Not ours to start: the Sluice controller's metrics port, scraped when it runs.
  controllerMetrics: port('CONTROLLER_METRICS', 8090),
} as const;

export const HOST = '127.0.0.1';
export const CLUSTER_NAME = 'sluice';
export const NODE_COUNT = 3;

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cache = process.env.SLUICE_CACHE ?? join(homedir(), '.cache', 'sluice');
const state = join(REPO, '.sandbox');

export const PATHS = {
  repo: REPO,
  cache,
  buildScript: join(REPO, 'sandbox', 'build.sh'),
  buildLogs: join(cache, 'logs'),
  k8sBin: join(cache, `kubernetes-${VERSIONS.kubernetes}`),
  etcdBin: join(cache, `etcd-${VERSIONS.etcd}`, 'etcd'),
  kwokBin: join(cache, `kwok-${VERSIONS.kwok}`),
  state,
  env: join(state, 'env'),
  logs: join(state, 'logs'),
  previousLogs: join(state, 'logs', 'previous'),
  pids: join(state, 'pids'),
  // kwokctl keeps its cluster (pki, etcd data, component logs, pids) here, per checkout.
  kwokWorkdir: join(state, 'kwok'),
  kubeconfig: join(state, 'kubeconfig'),
  prometheusDir: join(state, 'prometheus'),
  crdsDir: join(REPO, 'crds'),
  simulatorEntry: join(REPO, 'sandbox', 'traffic', 'main.ts'),
  gitEntry: join(REPO, 'sandbox', 'git', 'main.ts'),
  gitRoot: join(state, 'git'),
  fluxDir: join(state, 'flux'),
  fluxSourceBin: join(cache, `flux-source-controller-${VERSIONS.fluxSource}`),
  fluxKustomizeBin: join(cache, `flux-kustomize-controller-${VERSIONS.fluxKustomize}`),
  argocdBin: join(cache, `argocd-${VERSIONS.argocd}`),
  argocdDir: join(state, 'argocd'),
} as const;

export const kubectlPath = () => join(PATHS.k8sBin, 'kubectl');
export const kwokctlPath = () => join(PATHS.kwokBin, 'kwokctl');
export const clusterLogDir = () => join(PATHS.kwokWorkdir, 'clusters', CLUSTER_NAME, 'logs');
export const clusterLog = (component: string) => join(clusterLogDir(), `${component}.log`);
