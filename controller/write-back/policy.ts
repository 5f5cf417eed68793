// What a write-back may touch, decided before git runs. The URL, branch and path come from a
// tenant (spec.writeBack.repository) or from a GitOps object the tenant may also write, so each
// is checked against the admin's policy (controller flags) and refused with a message naming the
// rule. Pure.
import type { Transport } from './git-run.ts';

export interface WriteBackPolicy {
  /** --write-back-tenant-repositories: a Rollout may name its own repository. Default off. */
  tenantRepositories: boolean;
  /** --write-back-allowed-urls: when not empty, every repository URL must start with one of these. */
  allowedUrlPrefixes: readonly string[];
  /** --git-allow-http: plain http besides https (a lab or the sandbox). Default off. */
  allowHttp: boolean;
}

export const DEFAULT_POLICY: WriteBackPolicy = {
  tenantRepositories: false,
  allowedUrlPrefixes: [],
  allowHttp: false,
};

export const transportsOf = (p: Pick<WriteBackPolicy, 'allowHttp'>): Transport[] =>
  p.allowHttp ? ['https', 'http'] : ['https'];

export type Checked<T> = { ok: true; value: T } | { ok: false; message: string };

const refuse = <T>(message: string): Checked<T> => ({ ok: false, message });

/**
 * The URL git will be given: parsed, with an allowed scheme, no credentials in it, no dot
 * segments. The normalized form is what git gets, so what was checked is what is fetched.
 */
export function checkUrl(raw: string, transports: readonly Transport[]): Checked<string> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse(
      `repository URL is not an absolute URL (local paths and scp-style addresses are not allowed; use ${transports.join(' or ')})`,
    );
  }
  const scheme = url.protocol.replace(/:$/, '');
  if (!(transports as string[]).includes(scheme))
    return refuse(
      `repository URL scheme '${scheme}' is not allowed: only ${transports.join(' and ')}${transports.includes('http') ? '' : ' (the admin allows http with --git-allow-http)'}`,
    );
  if (url.username || url.password)
    return refuse('repository URL carries credentials; put them in a Secret named by secretRef');
  if (!url.hostname) return refuse('repository URL names no host');
  // Dot segments are resolved by the URL parser but perhaps not by the server; refuse them outright.
  if (/(^|\/)(\.|%2e){1,2}(\/|$|\?|#)/i.test(raw.slice(raw.indexOf('//') + 2)))
    return refuse("repository URL has '.' or '..' segments");
  return { ok: true, value: url.href };
}

/** Whether `url` (normalized) lies under one of the prefixes, on a path-segment boundary. */
export function urlAllowed(url: string, prefixes: readonly string[]): boolean {
  if (prefixes.length === 0) return true;
  const u = new URL(url);
  return prefixes.some((prefix) => {
    let p: URL;
    try {
      p = new URL(prefix);
    } catch {
      return false;
    }
    if (p.protocol !== u.protocol || p.host !== u.host) return false;
    const base = p.pathname.endsWith('/') ? p.pathname : `${p.pathname}/`;
    return u.pathname === p.pathname || u.pathname.startsWith(base);
  });
}

/** A path inside the repository: relative, no `..`, no control characters. '' is the root. */
export function checkPath(path: string): Checked<string> {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing them is the point
  if (/[\u0000-\u001f\u007f]/.test(path)) return refuse('path contains control characters');
  if (path.startsWith('/')) return refuse('path must be relative to the repository root');
  const parts = path.split('/').filter((s) => s !== '' && s !== '.');
  if (parts.includes('..')) return refuse("path must stay inside the repository ('..' is not allowed)");
  if (parts.some((s) => s.toLowerCase() === '.git')) return refuse("path may not name '.git'");
  return { ok: true, value: parts.join('/') };
}

export interface RepositoryChoice {
  url: string;
  branch?: string;
  path: string;
  /** Fields the Rollout itself set in spec.writeBack.repository. */
  overridden: readonly ('url' | 'branch' | 'path' | 'secretRef')[];
  /** Where the credentials come from: the Rollout's own namespace, or the discovered GitOps source. */
  secretFrom?: 'spec' | 'discovered';
}

/** Refusal message, or undefined when the admin's policy allows this write-back. */
export function policyRefusal(choice: RepositoryChoice, policy: WriteBackPolicy): string | undefined {
  if (choice.overridden.length > 0 && !policy.tenantRepositories)
    return `spec.writeBack.repository sets ${choice.overridden.join(', ')}, but the controller's policy lets only the GitOps source say where a Rollout lives (the admin allows it with --write-back-tenant-repositories)`;
  const steered = choice.overridden.filter((f) => f !== 'secretRef');
  if (choice.secretFrom === 'discovered' && steered.length > 0)
    return `spec.writeBack.repository overrides ${steered.join(', ')} of the discovered repository, and its credentials are only ever used for the repository, branch and path the GitOps source names: give spec.writeBack.repository.secretRef`;
  const url = checkUrl(choice.url, transportsOf(policy));
  if (!url.ok) return url.message;
  if (!urlAllowed(url.value, policy.allowedUrlPrefixes))
    return 'repository URL is outside the prefixes the admin allows (--write-back-allowed-urls)';
  const path = checkPath(choice.path);
  if (!path.ok) return path.message;
  if (choice.branch?.startsWith('-')) return "branch may not start with '-'";
  return undefined;
}
