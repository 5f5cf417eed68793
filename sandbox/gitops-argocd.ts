// An app delivered through Argo CD on the sandbox: a repository on the sandbox's git server and
// an Argo CD Application syncing one folder of it into a namespace. Commits go through git
// (simple-git), never kubectl; what Argo CD concluded is read from the Application's status.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { applyPatch, isNotFound, mergePatch, requestJson } from '../controller/kube/client.ts';
import { ARGOCD_NAMESPACE, IN_CLUSTER_SERVER } from './argocd.ts';
import { PATHS } from './config.ts';
import { commitFiles, createBareRepo } from './git/repo.ts';

export interface Application {
  metadata: { name: string; annotations?: Record<string, string> };
  status?: {
    sync?: { status?: string; revision?: string };
    health?: { status?: string; message?: string };
    operationState?: {
      phase?: string;
      message?: string;
      syncResult?: { revision?: string };
      operation?: { initiatedBy?: { username?: string; automated?: boolean } };
      startedAt?: string;
    };
    resources?: {
      group?: string;
      kind: string;
      namespace?: string;
      name: string;
      status?: string;
      health?: { status?: string };
    }[];
    conditions?: { type: string; message?: string }[];
  };
}

export interface ArgoAppOptions {
  /** Names the repository and the Application. */
  name: string;
  /** The namespace Argo CD syncs into (the Application's destination). */
  namespace: string;
  /** The folder Argo CD applies. */
  path?: string;
  /** Automated sync with self-heal (Argo CD reverts changes made outside git). Default on. */
  selfHeal?: boolean;
  /** `spec.ignoreDifferences`, as examples/argocd/application.yaml gives it for weights. */
  ignoreDifferences?: unknown[];
  /** `spec.syncPolicy.syncOptions` (e.g. RespectIgnoreDifferences=true). */
  syncOptions?: string[];
}

export interface ArgoApp {
  name: string;
  url: string;
  bareDir: string;
  /** Commits files (null deletes) to main, pushes, and asks Argo CD to refresh now. Returns the sha. */
  commit(files: Record<string, string | null>, message: string): Promise<string>;
  /** What a git host's push webhook or `argocd app get --refresh` does: refresh from git now. */
  refresh(): Promise<void>;
  /**
   * What `argocd app sync` (or the UI's Sync button) does: asks the controller for a sync
   * operation, here by a user named `by`; its result shows in status.operationState under that name.
   * argocd-server copies the Application's syncOptions into the operation; so does this.
   */
  sync(by: string): Promise<void>;
  application(): Promise<Application>;
  remove(): Promise<void>;
}

/**
 * What examples/argocd/application.yaml tells users to set so a sync leaves Sluice's fields alone
 * (weights, the Services' revision selector key): read from the file, so what runs is what ships.
 */
export function documentedSyncSettings(): Pick<ArgoAppOptions, 'ignoreDifferences' | 'syncOptions'> {
  const file = join(PATHS.repo, 'examples', 'argocd', 'application.yaml');
  const doc = parseYaml(readFileSync(file, 'utf8')) as {
    spec: { ignoreDifferences: unknown[]; syncPolicy: { syncOptions: string[] } };
  };
  return { ignoreDifferences: doc.spec.ignoreDifferences, syncOptions: doc.spec.syncPolicy.syncOptions };
}

const APPS_PATH = `/apis/argoproj.io/v1alpha1/namespaces/${ARGOCD_NAMESPACE}/applications`;

/**
 * Seeds a repository with `files` (one commit), then creates the Application: Argo CD's first
 * look at the repository finds that commit. `seed` is its sha.
 */
export async function createArgoApp(
  kc: KubeConfig,
  git: { url: string; root: string },
  opts: ArgoAppOptions,
  files: Record<string, string>,
): Promise<ArgoApp & { seed: string }> {
  const { name } = opts;
  const bareDir = createBareRepo(git.root, name);
  const url = `${git.url}/${name}.git`;
  const path = `${APPS_PATH}/${name}`;
  const seed = await commitFiles(url, files, `${name}: first commit`);
  await applyPatch(
    kc,
    path,
    {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Application',
      metadata: { name, namespace: ARGOCD_NAMESPACE },
      spec: {
        project: 'default',
        source: { repoURL: url, targetRevision: 'main', path: opts.path ?? 'apps' },
        destination: { server: IN_CLUSTER_SERVER, namespace: opts.namespace },
        ...(opts.ignoreDifferences && { ignoreDifferences: opts.ignoreDifferences }),
        syncPolicy: {
          automated: { prune: false, selfHeal: opts.selfHeal ?? true },
          ...(opts.syncOptions && { syncOptions: opts.syncOptions }),
        },
      },
    },
    { fieldManager: 'sluice-sandbox', force: true },
  );
  const refresh = async () => {
    await mergePatch(kc, path, { metadata: { annotations: { 'argocd.argoproj.io/refresh': 'normal' } } });
  };
  return {
    name,
    url,
    bareDir,
    seed,
    async commit(changes, message) {
      const sha = await commitFiles(url, changes, message);
      await refresh();
      return sha;
    },
    refresh,
    async sync(by) {
      await mergePatch(kc, path, {
        operation: {
          initiatedBy: { username: by },
          sync: { revision: 'main', ...(opts.syncOptions && { syncOptions: opts.syncOptions }) },
        },
      });
    },
    application: () => requestJson<Application>(kc, { method: 'GET', path }),
    remove: () => removeArgoApp(kc, name),
  };
}

/** Deletes the Application only (no finalizer: what it applied stays, like Flux's prune: false). */
export async function removeArgoApp(kc: KubeConfig, name: string): Promise<void> {
  await requestJson(kc, { method: 'DELETE', path: `${APPS_PATH}/${name}` }).catch((err: unknown) => {
    if (!isNotFound(err)) throw err;
  });
}
