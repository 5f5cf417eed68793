// An app delivered the GitOps way on the sandbox: a repository on the sandbox's git server,
// and a Flux GitRepository + Kustomization applying one folder of it. Commits go through
// git (simple-git), never kubectl; used by the demo and the GitOps tests alike.
import type { KubeConfig } from '@kubernetes/client-node';
import { applyPatch, isNotFound, mergePatch, requestJson } from '../controller/kube/client.ts';
import { FLUX_NAMESPACE } from './flux.ts';
import { commitFiles, createBareRepo } from './git/repo.ts';

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface Kustomization {
  metadata: { name: string; resourceVersion?: string };
  status?: {
    conditions?: Condition[];
    lastAppliedRevision?: string;
    lastAttemptedRevision?: string;
    lastHandledReconcileAt?: string;
  };
}

export interface FluxAppOptions {
  /** Names the repository, the GitRepository and the Kustomization. */
  name: string;
  /** The folder Flux applies. */
  path?: string;
  /** Flux waits for every applied object to be Current (kstatus) before calling a revision Ready. */
  wait?: boolean;
  /** How long Flux waits for health before it calls the revision failed. */
  timeout?: string;
}

export interface FluxApp {
  name: string;
  /** Clone URL on the sandbox's git server. */
  url: string;
  /** The bare repository on disk, for reading what git holds. */
  bareDir: string;
  /** Flux's name for a commit: `main@sha1:<sha>`. */
  revision(sha: string): string;
  /** Commits files (null deletes) to main, pushes, and asks Flux to sync now. Returns the sha. */
  commit(files: Record<string, string | null>, message: string): Promise<string>;
  /**
   * What a git host's push webhook does through Flux's notification receiver: asks both
   * objects to reconcile now rather than at their next interval. Returns the request token.
   */
  sync(): Promise<string>;
  kustomization(): Promise<Kustomization>;
  remove(): Promise<void>;
}

const SOURCE_PATH = `/apis/source.toolkit.fluxcd.io/v1/namespaces/${FLUX_NAMESPACE}/gitrepositories`;
const KUSTOMIZATION_PATH = `/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/${FLUX_NAMESPACE}/kustomizations`;

export async function createFluxApp(
  kc: KubeConfig,
  git: { url: string; root: string },
  opts: FluxAppOptions,
): Promise<FluxApp> {
  const { name } = opts;
  const bareDir = createBareRepo(git.root, name);
  const url = `${git.url}/${name}.git`;
  const manager = { fieldManager: 'sluice-sandbox', force: true };
  await applyPatch(
    kc,
    `${SOURCE_PATH}/${name}`,
    {
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'GitRepository',
      metadata: { name, namespace: FLUX_NAMESPACE },
      spec: { interval: '1m', url, ref: { branch: 'main' } },
    },
    manager,
  );
  await applyPatch(
    kc,
    `${KUSTOMIZATION_PATH}/${name}`,
    {
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      kind: 'Kustomization',
      metadata: { name, namespace: FLUX_NAMESPACE },
      spec: {
        interval: '1m',
        // Short, so a failed health check is retried soon after the fix lands in git.
        retryInterval: '5s',
        path: opts.path ?? './',
        prune: false,
        wait: opts.wait ?? true,
        timeout: opts.timeout ?? '3m',
        sourceRef: { kind: 'GitRepository', name },
      },
    },
    manager,
  );
  const sync = async () => {
    const token = new Date().toISOString();
    const body = { metadata: { annotations: { 'reconcile.fluxcd.io/requestedAt': token } } };
    await mergePatch(kc, `${SOURCE_PATH}/${name}`, body);
    await mergePatch(kc, `${KUSTOMIZATION_PATH}/${name}`, body);
    return token;
  };
  return {
    name,
    url,
    bareDir,
    revision: (sha) => `main@sha1:${sha}`,
    async commit(files, message) {
      const sha = await commitFiles(url, files, message);
      await sync();
      return sha;
    },
    sync,
    kustomization: () =>
      requestJson<Kustomization>(kc, { method: 'GET', path: `${KUSTOMIZATION_PATH}/${name}` }),
    remove: () => removeFluxApp(kc, name),
  };
}

/** Deletes an app's Kustomization and GitRepository (not what they applied: prune is off). */
export async function removeFluxApp(kc: KubeConfig, name: string): Promise<void> {
  for (const path of [`${KUSTOMIZATION_PATH}/${name}`, `${SOURCE_PATH}/${name}`]) {
    await requestJson(kc, { method: 'DELETE', path }).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  }
}

export const condition = (k: { status?: { conditions?: Condition[] } }, type: string) =>
  k.status?.conditions?.find((c) => c.type === type);
