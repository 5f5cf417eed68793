// Git credentials from a Secret in Flux's format: `username` + `password` (a token works as
// the password) or `bearerToken`. Read only when a write-back needs them, and only the Secret
// named, so RBAC can grant exactly that one (a Role with resourceNames).
import type { KubeConfig } from '@kubernetes/client-node';
import { isForbidden, isNotFound, requestJson, resourcePath } from '../kube/client.ts';
import type { GitAuth } from './redact.ts';

export class CredentialsError extends Error {}

const decode = (value: string | undefined) =>
  value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');

/** The credentials a Secret's data holds, or undefined when it holds none Sluice can use. */
export function authFromSecretData(data: Record<string, string> | undefined): GitAuth | undefined {
  const bearerToken = decode(data?.bearerToken);
  if (bearerToken) return { bearerToken };
  const username = decode(data?.username);
  const password = decode(data?.password);
  if (username !== undefined && password !== undefined) return { username, password };
  return undefined;
}

/** `home`: the Rollout's namespace; a Secret elsewhere (its GitOps source's) is not named in messages. */
export async function readCredentials(
  kc: KubeConfig,
  ref: { name: string; namespace: string },
  home = ref.namespace,
): Promise<GitAuth> {
  const where =
    ref.namespace === home
      ? `Secret ${ref.namespace}/${ref.name}`
      : "the GitOps source's credentials Secret (in another namespace)";
  let secret: { data?: Record<string, string> };
  try {
    secret = await requestJson(kc, {
      method: 'GET',
      path: resourcePath({ version: 'v1', plural: 'secrets', ...ref }),
    });
  } catch (err) {
    // Never pass the API error on: it may quote the request, and its status says enough.
    if (isNotFound(err)) throw new CredentialsError(`${where} not found`);
    if (isForbidden(err))
      throw new CredentialsError(
        `${where} is not readable by the controller (grant get on it with a Role; see README)`,
      );
    throw new CredentialsError(`${where} could not be read`);
  }
  const auth = authFromSecretData(secret.data);
  if (!auth) throw new CredentialsError(`${where} has neither username/password nor bearerToken`);
  return auth;
}
