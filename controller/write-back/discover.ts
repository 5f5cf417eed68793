// Where a Rollout's YAML lives in git, found rather than configured: Flux's labels lead to its
// Kustomization and GitRepository, Argo CD's tracking annotation to its Application. Fields in
// spec.writeBack.repository override what was found. The mapping functions are pure; `discover`
// does the reads.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Rollout } from '../../crds/index.ts';
import { isNotFound, requestJson, resourcePath } from '../kube/client.ts';

export const FLUX_NAME_LABEL = 'kustomize.toolkit.fluxcd.io/name';
export const FLUX_NAMESPACE_LABEL = 'kustomize.toolkit.fluxcd.io/namespace';
export const ARGO_TRACKING_ANNOTATION = 'argocd.argoproj.io/tracking-id';

export interface Repository {
  url?: string;
  /** Undefined: the remote's default branch (Argo CD's `HEAD`). */
  branch?: string;
  /** Relative to the repository root, without `./`; '' is the root. */
  path?: string;
  secretRef?: { name: string; namespace: string };
  /** Where each part came from, for messages. */
  origin: string;
}

export type Origin =
  | { kind: 'flux'; name: string; namespace: string }
  | { kind: 'argocd'; application: string; namespace?: string };

type Meta = { labels?: Record<string, string>; annotations?: Record<string, string> };

/** Which GitOps object applied this Rollout, from its labels and annotations. */
export function originOf(metadata: Meta): Origin | undefined {
  const name = metadata.labels?.[FLUX_NAME_LABEL];
  const namespace = metadata.labels?.[FLUX_NAMESPACE_LABEL];
  if (name && namespace) return { kind: 'flux', name, namespace };
  const tracking = metadata.annotations?.[ARGO_TRACKING_ANNOTATION];
  if (!tracking) return undefined;
  // `<app>:<group>/<kind>:<namespace>/<name>`; with apps in any namespace, `<ns>_<app>`.
  const app = tracking.split(':')[0] ?? '';
  if (!app) return undefined;
  const underscore = app.indexOf('_');
  return underscore > 0
    ? { kind: 'argocd', namespace: app.slice(0, underscore), application: app.slice(underscore + 1) }
    : { kind: 'argocd', application: app };
}

export const normalizePath = (path: string | undefined): string | undefined =>
  path === undefined
    ? undefined
    : path
        .replace(/^(\.\/)+/, '')
        .replace(/^\/+/, '')
        .replace(/\/+$/, '')
        .replace(/^\.$/, '');

interface FluxKustomization {
  metadata: { name?: string; namespace?: string };
  spec?: { path?: string; sourceRef?: { kind?: string; name?: string; namespace?: string } };
}
interface FluxGitRepository {
  metadata: { name?: string; namespace?: string };
  spec?: { url?: string; ref?: { branch?: string }; secretRef?: { name?: string } };
}

/** The GitRepository a Kustomization reads, or why it cannot be used. */
export function fluxSourceOf(k: FluxKustomization): { name: string; namespace: string } | string {
  const ref = k.spec?.sourceRef;
  if (ref?.kind !== 'GitRepository' || !ref.name)
    return `Kustomization ${k.metadata.namespace}/${k.metadata.name} reads a ${ref?.kind ?? 'missing'} source, not a GitRepository`;
  return { name: ref.name, namespace: ref.namespace ?? k.metadata.namespace ?? 'default' };
}

export function fromFlux(k: FluxKustomization, repo: FluxGitRepository): Repository {
  const namespace = repo.metadata.namespace ?? 'default';
  const out: Repository = {
    url: repo.spec?.url,
    branch: repo.spec?.ref?.branch,
    path: normalizePath(k.spec?.path ?? ''),
    origin: `Flux Kustomization ${k.metadata.namespace}/${k.metadata.name} and GitRepository ${namespace}/${repo.metadata.name}`,
  };
  if (repo.spec?.secretRef?.name) out.secretRef = { name: repo.spec.secretRef.name, namespace };
  return out;
}

interface ArgoApplication {
  metadata: { name?: string; namespace?: string };
  spec?: {
    source?: { repoURL?: string; targetRevision?: string; path?: string };
    sources?: { repoURL?: string; targetRevision?: string; path?: string }[];
  };
}

export function fromArgo(app: ArgoApplication): Repository {
  // Multi-source apps: the first source with a path is where manifests live.
  const source = app.spec?.source ?? app.spec?.sources?.find((s) => s.path !== undefined);
  const revision = source?.targetRevision;
  return {
    url: source?.repoURL,
    branch: !revision || revision === 'HEAD' ? undefined : revision,
    path: normalizePath(source?.path ?? ''),
    origin: `Argo CD Application ${app.metadata.namespace}/${app.metadata.name}`,
  };
}

/** Explicit fields in the spec win over discovered ones; a secretRef there lives in the Rollout's namespace. */
export function withOverrides(found: Repository | undefined, rollout: Rollout): Repository {
  const spec = rollout.spec.writeBack?.repository;
  const namespace = rollout.metadata.namespace ?? 'default';
  const out: Repository = { ...(found ?? { origin: 'spec.writeBack.repository' }) };
  if (spec?.url) out.url = spec.url;
  if (spec?.branch) out.branch = spec.branch;
  if (spec?.path) out.path = normalizePath(spec.path);
  if (spec?.secretRef) out.secretRef = { name: spec.secretRef.name, namespace };
  if (spec && found) out.origin = `${found.origin}, overridden by spec.writeBack.repository`;
  return out;
}

export interface DiscoverOptions {
  /** Where Argo CD Applications live when the tracking id names no namespace. Default `argocd`. */
  argoNamespace?: string;
}

export class DiscoveryError extends Error {}

/** Reads what the Rollout's origin points to. A missing object is a DiscoveryError with its name. */
export async function discover(
  kc: KubeConfig,
  rollout: Rollout,
  opts: DiscoverOptions = {},
): Promise<Repository> {
  const origin = originOf(rollout.metadata);
  const found = origin ? await readOrigin(kc, origin, opts) : undefined;
  const repo = withOverrides(found, rollout);
  const missing = (['url', 'path'] as const).filter((k) => repo[k] === undefined);
  if (missing.length)
    throw new DiscoveryError(
      `cannot tell where Rollout ${rollout.metadata.namespace}/${rollout.metadata.name} lives in git: ${origin ? `${repo.origin} give no ${missing.join(' or ')}` : 'no Flux labels, no Argo CD tracking annotation, and no spec.writeBack.repository'}`,
    );
  return repo;
}

async function readOrigin(kc: KubeConfig, origin: Origin, opts: DiscoverOptions): Promise<Repository> {
  if (origin.kind === 'flux') {
    const k = await get<FluxKustomization>(kc, 'kustomize.toolkit.fluxcd.io', 'kustomizations', origin);
    const source = fluxSourceOf(k);
    if (typeof source === 'string') throw new DiscoveryError(source);
    const repo = await get<FluxGitRepository>(kc, 'source.toolkit.fluxcd.io', 'gitrepositories', source);
    return fromFlux(k, repo);
  }
  const namespace = origin.namespace ?? opts.argoNamespace ?? 'argocd';
  return fromArgo(
    await get<ArgoApplication>(kc, 'argoproj.io', 'applications', { name: origin.application, namespace }),
  );
}

const VERSIONS: Record<string, string> = {
  'kustomize.toolkit.fluxcd.io': 'v1',
  'source.toolkit.fluxcd.io': 'v1',
  'argoproj.io': 'v1alpha1',
};

async function get<T>(
  kc: KubeConfig,
  group: string,
  plural: string,
  ref: { name: string; namespace: string },
): Promise<T> {
  try {
    return await requestJson<T>(kc, {
      method: 'GET',
      path: resourcePath({ group, version: VERSIONS[group] ?? 'v1', plural, ...ref }),
    });
  } catch (err) {
    if (isNotFound(err))
      throw new DiscoveryError(`${plural}.${group} ${ref.namespace}/${ref.name} not found`);
    throw err;
  }
}
