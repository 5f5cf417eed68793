import { existsSync } from 'node:fs';
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  KubeConfig,
  PatchStrategy,
} from '@kubernetes/client-node';
import { patchOptions } from '../controller/kube/client.ts';
import type { CommandName, KubeFlags } from './args.ts';
import { CliError, explainFailure, type Identity } from './errors.ts';

/** An API connection resolved the way kubectl resolves one, plus who is calling and for which command. */
export interface Kube {
  kc: KubeConfig;
  /** The namespace commands act in: --namespace, else the context's, else "default". */
  namespace: string;
  identity: Identity;
  command: CommandName;
  custom: CustomObjectsApi;
  apps: AppsV1Api;
  core: CoreV1Api;
  events: EventsV1Api;
}

/** Loads the kubeconfig from --kubeconfig, else $KUBECONFIG, else ~/.kube/config (else in-cluster). */
export function loadKubeConfig(flags: KubeFlags): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (flags.kubeconfig !== undefined) {
      if (!existsSync(flags.kubeconfig))
        throw new CliError(`kubeconfig "${flags.kubeconfig}" does not exist`);
      kc.loadFromFile(flags.kubeconfig);
    } else {
      kc.loadFromDefault();
    }
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot load kubeconfig: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (flags.context !== undefined) {
    if (kc.getContextObject(flags.context) === null) {
      const known = kc.getContexts().map((c) => c.name);
      throw new CliError(
        `context "${flags.context}" not found in kubeconfig (contexts: ${known.join(', ') || 'none'})`,
      );
    }
    kc.setCurrentContext(flags.context);
  }
  return kc;
}

/** Best effort at a person's name for `by` in signals: the kubeconfig user's username, else its entry name. */
export function kubeconfigUser(kc: KubeConfig): string {
  const context = kc.getContextObject(kc.getCurrentContext());
  const user = context ? kc.getUser(context.user) : kc.getCurrentUser();
  return user?.username ?? user?.name ?? context?.user ?? 'unknown';
}

export function connect(flags: KubeFlags, command: CommandName): Kube {
  const kc = loadKubeConfig(flags);
  const context = kc.getContextObject(kc.getCurrentContext());
  return {
    kc,
    namespace: flags.namespace ?? context?.namespace ?? 'default',
    identity: {
      user: kubeconfigUser(kc),
      server: kc.getCurrentCluster()?.server ?? '(no cluster in kubeconfig)',
    },
    command,
    custom: kc.makeApiClient(CustomObjectsApi),
    apps: kc.makeApiClient(AppsV1Api),
    core: kc.makeApiClient(CoreV1Api),
    events: kc.makeApiClient(EventsV1Api),
  };
}

/** Runs one request, turning any failure into a CliError that names what was attempted. */
export async function request<T>(
  kube: Kube,
  verb: string,
  resource: string,
  namespace: string | undefined,
  send: () => Promise<T>,
): Promise<T> {
  try {
    return await send();
  } catch (err) {
    throw explainFailure(err, { command: kube.command, verb, resource, namespace }, kube.identity);
  }
}

/** Patch calls on the generated clients send JSON Patch unless told otherwise. */
export const MERGE_PATCH = patchOptions(PatchStrategy.MergePatch);
export const JSON_PATCH = patchOptions(PatchStrategy.JsonPatch);
