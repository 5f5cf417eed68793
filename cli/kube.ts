import { existsSync, readFileSync } from 'node:fs';
import type * as https from 'node:https';
import {
  AppsV1Api,
  type Cluster,
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  KubeConfig,
  PatchStrategy,
  type RequestContext,
  type User,
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
      // An empty one (/dev/null) is no configuration, as kubectl reads it: the flags are the connection.
      if (readFileSync(flags.kubeconfig, 'utf8').trim() === '')
        kc.loadFromOptions({ clusters: [], users: [], contexts: [], currentContext: '' });
      else kc.loadFromFile(flags.kubeconfig);
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
  return withFlags(kc, flags);
}

/** Who the requests are made as, and how long each may take: what kubectl's flags add to a kubeconfig. */
interface RequestFlags {
  as?: string;
  groups: string[];
  timeoutMs?: number;
}

/**
 * A kubeconfig that adds --as and --as-group headers to every request and --request-timeout to
 * each one-shot request (a watch lasts as long as the command). client-node 1.4 impersonates a
 * user only from the kubeconfig (`as:`) and never a group, so both are added here, to the two
 * paths requests take: the generated API clients (applySecurityAuthentication) and watches
 * (applyToHTTPSOptions, whose array values become one header line each).
 */
class FlaggedKubeConfig extends KubeConfig {
  constructor(private readonly flags: RequestFlags) {
    super();
  }

  private impersonation(): Record<string, string | string[]> {
    const headers: Record<string, string | string[]> = {};
    if (this.flags.as !== undefined) headers['Impersonate-User'] = this.flags.as;
    if (this.flags.groups.length > 0) headers['Impersonate-Group'] = this.flags.groups;
    return headers;
  }

  override async applyToHTTPSOptions(opts: https.RequestOptions): Promise<void> {
    await super.applyToHTTPSOptions(opts);
    opts.headers = { ...opts.headers, ...this.impersonation() };
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const groups = this.flags.groups;
    if (this.flags.as !== undefined) context.setHeaderParam('Impersonate-User', this.flags.as);
    if (groups.length === 1) context.setHeaderParam('Impersonate-Group', groups[0]!);
    if (groups.length > 1) {
      // One header line per group: the request's headers are a plain object, which node-fetch sends as
      // one line per key, so the list of pairs it also takes is handed over instead.
      const headers = context.getHeaders.bind(context);
      context.getHeaders = () =>
        [...Object.entries(headers()), ...groups.map((g) => ['Impersonate-Group', g])] as unknown as {
          [key: string]: string;
        };
    }
    if (this.flags.timeoutMs !== undefined && context.getSignal() === undefined)
      context.setSignal(AbortSignal.timeout(this.flags.timeoutMs));
  }
}

/**
 * The kubeconfig with kubectl's flags applied to its current context: --server and the TLS flags
 * to its cluster, --token in place of its user's credentials (kubectl would also send a client
 * certificate, which the API server checks first, so the token would not be who asks), --as,
 * --as-group and --request-timeout to every request.
 */
function withFlags(kc: KubeConfig, flags: KubeFlags): KubeConfig {
  const { server, token, as, asGroups, requestTimeoutMs, insecureSkipTlsVerify, certificateAuthority } =
    flags;
  if (
    [server, token, as, asGroups, requestTimeoutMs, insecureSkipTlsVerify, certificateAuthority].every(
      (f) => f === undefined,
    )
  )
    return kc;
  const context = kc.getContextObject(kc.getCurrentContext());
  const cluster: Cluster = kc.getCurrentCluster() ?? { name: 'cluster', server: '', skipTLSVerify: false };
  const user: User = kc.getCurrentUser() ?? { name: 'user' };
  const tls =
    insecureSkipTlsVerify === true
      ? { skipTLSVerify: true, caData: undefined, caFile: undefined }
      : certificateAuthority !== undefined
        ? { caData: undefined, caFile: certificateAuthority }
        : {};
  if (certificateAuthority !== undefined && !existsSync(certificateAuthority))
    throw new CliError(`--certificate-authority "${certificateAuthority}" does not exist`);
  const flagged = new FlaggedKubeConfig({
    ...(as === undefined ? {} : { as }),
    groups: asGroups ?? [],
    ...(requestTimeoutMs === undefined ? {} : { timeoutMs: requestTimeoutMs }),
  });
  const name = context?.name ?? 'flags';
  flagged.loadFromOptions({
    // client-node refuses a plain-http server unless TLS checks are off, which mean nothing there.
    clusters: [
      {
        ...cluster,
        ...(server === undefined ? {} : { server }),
        ...(server?.startsWith('http:') ? { skipTLSVerify: true } : {}),
        ...tls,
      },
    ],
    users: [token === undefined ? user : { name: user.name, token }],
    contexts: [{ name, cluster: cluster.name, user: user.name, namespace: context?.namespace }],
    currentContext: name,
  });
  return flagged;
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
      // A --token's owner is the API server's to say (its 403s name them); "by" cannot know it.
      user: flags.as ?? (flags.token === undefined ? kubeconfigUser(kc) : 'the --token bearer'),
      server: kc.getCurrentCluster()?.server ?? '(no cluster in kubeconfig)',
      ...(flags.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: flags.requestTimeoutMs }),
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
