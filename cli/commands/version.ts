// `kubectl sluice version`: this plugin's version and the controller's, read off its Deployment.
// The controller's half is best effort: a person asking for versions (often while reporting a
// problem) should get what can be known, and a reason for what cannot, never a failure.
import { REVISION, VERSION } from '../../controller/version.ts';
import type { OutputFormat } from '../args.ts';
import { apiStatus } from '../errors.ts';
import type { Io } from '../io.ts';
import { formatObject } from '../render/output.ts';

/** The Deployment deploy/ and the release manifests create. */
export const CONTROLLER_DEPLOYMENT = 'sluice-controller';
const VERSION_LABEL = 'app.kubernetes.io/version';
/** Asking for versions must not hang on an API server that does not answer. */
const READ_TIMEOUT_MS = 5000;

/** The parts of a Deployment the version is read from. */
export interface DeploymentLike {
  metadata?: { labels?: Record<string, string> };
  spec?: { template?: { spec?: { containers?: { name: string; image?: string }[] } } };
}

/** The one read this command makes; AppsV1Api is one. */
export interface DeploymentReader {
  readNamespacedDeployment(req: { name: string; namespace: string }): Promise<DeploymentLike>;
}

/** The tag of `registry:5000/sluice:0.2.0`, none for a digest-only or untagged image. */
export function imageTag(image: string): string | undefined {
  const name = image.split('@')[0]!;
  const colon = name.lastIndexOf(':');
  return colon > name.lastIndexOf('/') ? name.slice(colon + 1) : undefined;
}

/**
 * The label the release stamps wins: an image tag can be `latest` or a mirror's own, while the
 * label says which release the manifests came from.
 */
export function deploymentVersion(deployment: DeploymentLike): string | undefined {
  const label = deployment.metadata?.labels?.[VERSION_LABEL];
  if (label) return label;
  const containers = deployment.spec?.template?.spec?.containers ?? [];
  const controller = containers.find((c) => c.name === 'controller') ?? containers[0];
  return controller?.image === undefined ? undefined : imageTag(controller.image);
}

function whyUnreadable(err: unknown, namespace: string): string {
  const status = apiStatus(err);
  if (status?.code === 404)
    return `no deployment "${CONTROLLER_DEPLOYMENT}" in namespace "${namespace}" (see --controller-namespace)`;
  if (status?.code === 403) return `forbidden to get deployments in namespace "${namespace}"`;
  if (status !== undefined) return `HTTP ${status.code}: ${status.message ?? status.reason ?? 'no message'}`;
  return err instanceof Error ? err.message : String(err);
}

/** What `version -o` prints; the text form says the same in two lines. */
export interface Versions {
  client: { version: string; revision?: string };
  /** The controller's version, or why it is unknown. */
  controller: { version: string } | { unknown: string };
}

/**
 * `connect` is called here rather than by the caller so that a kubeconfig that cannot be loaded
 * is one more reason the controller's version is unknown, not an error.
 */
export async function runVersion(
  io: Io,
  namespace: string,
  connect: () => DeploymentReader,
  timeoutMs = READ_TIMEOUT_MS,
  output?: OutputFormat,
): Promise<number> {
  const client = { version: VERSION, ...(REVISION ? { revision: REVISION } : {}) };
  if (!output) io.out(`client: ${VERSION}${REVISION ? ` (${REVISION.slice(0, 12)})` : ''}`);
  const controller = await controllerVersion(namespace, connect, timeoutMs);
  if (output) io.out(formatObject(output, { client, controller } satisfies Versions));
  else
    io.out(`controller: ${'version' in controller ? controller.version : `unknown (${controller.unknown})`}`);
  return 0;
}

async function controllerVersion(
  namespace: string,
  connect: () => DeploymentReader,
  timeoutMs: number,
): Promise<Versions['controller']> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer from the API server in ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
  });
  try {
    const read = connect().readNamespacedDeployment({ name: CONTROLLER_DEPLOYMENT, namespace });
    const version = deploymentVersion(await Promise.race([read, timeout]));
    return version === undefined
      ? { unknown: `deployment "${CONTROLLER_DEPLOYMENT}" carries no version label or image tag` }
      : { version };
  } catch (err) {
    return { unknown: whyUnreadable(err, namespace) };
  } finally {
    clearTimeout(timer);
  }
}
