// Where a Rollout's YAML lives in git, found rather than configured: Flux's labels lead to its
// Kustomization and GitRepository, Argo CD's tracking annotation to its Application. Labels and
// annotations are the tenant's to write, so they are only a hint: the object they name is
// followed only when it really manages this Rollout (a Kustomization's status.inventory, an
// Application's status.resources list it), and messages never name an object of another
// namespace, nor say whether it exists. Fields in spec.writeBack.repository override what was
// found, and are recorded as such so the policy can refuse pairing them with found credentials.
// The mapping functions are pure; `discover` does the reads.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Rollout } from '../../crds/index.ts';
import { isForbidden, isNotFound, requestJson, resourcePath } from '../kube/client.ts';

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
  /** Where each part came from, for messages; names only objects of the Rollout's namespace. */
  origin: string;
  /** Fields the Rollout's spec.writeBack.repository set. */
  overridden: ('url' | 'branch' | 'path' | 'secretRef')[];
  /** Whose secretRef this is: the Rollout's own (spec) or the GitOps source's. */
  secretFrom?: 'spec' | 'discovered';
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

/** `Kind ns/name` inside the Rollout's namespace; no name, and so no hint of existence, outside it. */
export const showObject = (kind: string, ref: { name?: string; namespace?: string }, home: string): string =>
  ref.namespace === home
    ? `${kind} ${ref.namespace}/${ref.name}`
    : `${/^[aeiou]/i.test(kind) ? 'an' : 'a'} ${kind} in another namespace`;

interface FluxKustomization {
  metadata: { name?: string; namespace?: string };
  spec?: { path?: string; sourceRef?: { kind?: string; name?: string; namespace?: string } };
  status?: { inventory?: { entries?: { id?: string }[] } };
}
interface FluxGitRepository {
  metadata: { name?: string; namespace?: string };
  spec?: { url?: string; ref?: { branch?: string }; secretRef?: { name?: string } };
}

/** Flux's inventory id of a Rollout: `<namespace>_<name>_<group>_<kind>`. */
export const fluxInventoryId = (r: { namespace: string; name: string }) =>
  `${r.namespace}_${r.name}_sluice.dev_Rollout`;

/** Whether the Kustomization applied this Rollout, by its own record of what it applied. */
export const fluxManages = (k: FluxKustomization, r: { namespace: string; name: string }): boolean =>
  (k.status?.inventory?.entries ?? []).some((e) => e.id === fluxInventoryId(r));

/** The GitRepository a Kustomization reads, or why it cannot be used. */
export function fluxSourceOf(
  k: FluxKustomization,
  home = k.metadata.namespace ?? '',
): { name: string; namespace: string } | string {
  const ref = k.spec?.sourceRef;
  if (ref?.kind !== 'GitRepository' || !ref.name)
    return `${showObject('Flux Kustomization', k.metadata, home)} reads a ${ref?.kind === 'GitRepository' || !ref?.kind ? 'missing' : ref.kind} source, not a GitRepository`;
  return { name: ref.name, namespace: ref.namespace ?? k.metadata.namespace ?? 'default' };
}

export function fromFlux(
  k: FluxKustomization,
  repo: FluxGitRepository,
  home = k.metadata.namespace ?? '',
): Repository {
  const namespace = repo.metadata.namespace ?? 'default';
  const out: Repository = {
    url: repo.spec?.url,
    branch: repo.spec?.ref?.branch,
    path: normalizePath(k.spec?.path ?? ''),
    origin: `${showObject('Flux Kustomization', k.metadata, home)} and ${showObject('GitRepository', { ...repo.metadata, namespace }, home)}`,
    overridden: [],
  };
  if (repo.spec?.secretRef?.name) {
    out.secretRef = { name: repo.spec.secretRef.name, namespace };
    out.secretFrom = 'discovered';
  }
  return out;
}

interface ArgoApplication {
  metadata: { name?: string; namespace?: string };
  spec?: {
    source?: { repoURL?: string; targetRevision?: string; path?: string };
    sources?: { repoURL?: string; targetRevision?: string; path?: string }[];
  };
  status?: { resources?: { group?: string; kind?: string; namespace?: string; name?: string }[] };
}

/** Whether the Application deploys this Rollout, by its own status.resources. */
export const argoManages = (app: ArgoApplication, r: { namespace: string; name: string }): boolean =>
  (app.status?.resources ?? []).some(
    (x) =>
      x.group === 'sluice.dev' && x.kind === 'Rollout' && x.namespace === r.namespace && x.name === r.name,
  );

export function fromArgo(app: ArgoApplication, home = app.metadata.namespace ?? ''): Repository {
  // Multi-source apps: the first source with a path is where manifests live.
  const source = app.spec?.source ?? app.spec?.sources?.find((s) => s.path !== undefined);
  const revision = source?.targetRevision;
  return {
    url: source?.repoURL,
    branch: !revision || revision === 'HEAD' ? undefined : revision,
    path: normalizePath(source?.path ?? ''),
    origin: showObject('Argo CD Application', app.metadata, home),
    overridden: [],
  };
}

/** Explicit fields in the spec win over discovered ones; a secretRef there lives in the Rollout's namespace. */
export function withOverrides(found: Repository | undefined, rollout: Rollout): Repository {
  const spec = rollout.spec.writeBack?.repository;
  const namespace = rollout.metadata.namespace ?? 'default';
  const out: Repository = { ...(found ?? { origin: 'spec.writeBack.repository' }), overridden: [] };
  if (spec?.url) out.url = spec.url;
  if (spec?.branch) out.branch = spec.branch;
  if (spec?.path) out.path = normalizePath(spec.path);
  if (spec?.secretRef) {
    out.secretRef = { name: spec.secretRef.name, namespace };
    out.secretFrom = 'spec';
  }
  out.overridden = (['url', 'branch', 'path', 'secretRef'] as const).filter((k) => spec?.[k] !== undefined);
  if (spec && found) out.origin = `${found.origin}, overridden by spec.writeBack.repository`;
  return out;
}

export interface DiscoverOptions {
  /** Where Argo CD Applications live when the tracking id names no namespace. Default `argocd`. */
  argoNamespace?: string;
}

export class DiscoveryError extends Error {}

/** Reads what the Rollout's origin points to. A missing object is a DiscoveryError naming it only in the Rollout's namespace. */
export async function discover(
  kc: KubeConfig,
  rollout: Rollout,
  opts: DiscoverOptions = {},
): Promise<Repository> {
  const target = { namespace: rollout.metadata.namespace ?? 'default', name: rollout.metadata.name ?? '' };
  const origin = originOf(rollout.metadata);
  const found = origin ? await readOrigin(kc, origin, target, opts) : undefined;
  const repo = withOverrides(found, rollout);
  const missing = (['url', 'path'] as const).filter((k) => repo[k] === undefined);
  if (missing.length)
    throw new DiscoveryError(
      `cannot tell where Rollout ${target.namespace}/${target.name} lives in git: ${origin ? `${repo.origin} give no ${missing.join(' or ')}` : 'no Flux labels, no Argo CD tracking annotation, and no spec.writeBack.repository'}`,
    );
  return repo;
}

type Target = { namespace: string; name: string };

async function readOrigin(
  kc: KubeConfig,
  origin: Origin,
  target: Target,
  opts: DiscoverOptions,
): Promise<Repository> {
  if (origin.kind === 'flux') {
    const what = showObject('Flux Kustomization', origin, target.namespace);
    const k = await get<FluxKustomization>(
      kc,
      'kustomize.toolkit.fluxcd.io',
      'kustomizations',
      origin,
      what,
      target,
    );
    // Same words whether it is missing, unreadable or unrelated: the labels are the tenant's to write.
    if (!fluxManages(k, target)) throw notManaging(what, 'status.inventory', target);
    const source = fluxSourceOf(k, target.namespace);
    if (typeof source === 'string') throw new DiscoveryError(source);
    // A Kustomization a tenant writes could name another team's GitRepository (and so its
    // Secret); as with Flux's --no-cross-namespace-refs, only a source beside it is followed.
    if (source.namespace !== origin.namespace)
      throw new DiscoveryError(
        `${what} reads a GitRepository of another namespace; Sluice does not follow cross-namespace source references`,
      );
    const repo = await get<FluxGitRepository>(
      kc,
      'source.toolkit.fluxcd.io',
      'gitrepositories',
      source,
      showObject('GitRepository', source, target.namespace),
      target,
    );
    return fromFlux(k, repo, target.namespace);
  }
  const ref = { name: origin.application, namespace: origin.namespace ?? opts.argoNamespace ?? 'argocd' };
  const what = showObject('Argo CD Application', ref, target.namespace);
  const app = await get<ArgoApplication>(kc, 'argoproj.io', 'applications', ref, what, target);
  if (!argoManages(app, target)) throw notManaging(what, 'status.resources', target);
  return fromArgo(app, target.namespace);
}

const notManaging = (what: string, field: string, t: Target) =>
  new DiscoveryError(
    `the GitOps labels of Rollout ${t.namespace}/${t.name} name ${what} that does not exist, cannot be read, or does not list this Rollout in its ${field}; it is not followed`,
  );

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
  what: string,
  target: Target,
): Promise<T> {
  try {
    return await requestJson<T>(kc, {
      method: 'GET',
      path: resourcePath({ group, version: VERSIONS[group] ?? 'v1', plural, ...ref }),
    });
  } catch (err) {
    if (isNotFound(err) || isForbidden(err))
      throw plural === 'gitrepositories'
        ? new DiscoveryError(
            `${what}, the source of the GitOps object that applied Rollout ${target.namespace}/${target.name}, does not exist or cannot be read`,
          )
        : notManaging(what, plural === 'kustomizations' ? 'status.inventory' : 'status.resources', target);
    throw err;
  }
}
