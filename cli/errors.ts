import type { CommandName } from './args.ts';
import { describeNeeds } from './verbs.ts';

/** A failure the user can act on: printed as one line on stderr, exit code 1, never a stack. */
export class CliError extends Error {
  override name = 'CliError';
}

/** The Rollout asked for does not exist (404 naming it). */
export class RolloutNotFound extends CliError {}

/** The parts of a Kubernetes `Status` response body the messages use. */
export interface ApiStatus {
  code: number;
  message?: string;
  reason?: string;
  details?: { name?: string; kind?: string; group?: string };
}

/** Reads the HTTP code and Status body out of a client-node ApiException (body arrives as JSON text). */
export function apiStatus(err: unknown): ApiStatus | undefined {
  if (typeof err !== 'object' || err === null || typeof (err as { code?: unknown }).code !== 'number') {
    return undefined;
  }
  const code = (err as { code: number }).code;
  if (code < 100 || code > 599) return undefined;
  let body: unknown = (err as { body?: unknown }).body;
  if (typeof body === 'string') {
    const text = body;
    try {
      body = JSON.parse(text);
    } catch {
      return { code, message: text.trim() || undefined };
    }
  }
  if (typeof body !== 'object' || body === null) return { code };
  const status = body as Partial<ApiStatus>;
  return { code, message: status.message, reason: status.reason, details: status.details };
}

/** What the command was doing when a request failed, so the error can say so. */
export interface Operation {
  command: CommandName;
  verb: string;
  resource: string;
  namespace?: string;
}

export interface Identity {
  /** The user as the kubeconfig names it; the API server's own name for them wins when it says one. */
  user: string;
  server: string;
  /** --request-timeout, when given: a request it aborted says so. */
  requestTimeoutMs?: number;
}

/**
 * Turns a failed request into the one line a person needs. 403s name the verb, resource and user and
 * list everything the command needs, because the first denial is rarely the only missing grant.
 */
export function explainFailure(err: unknown, op: Operation, who: Identity): CliError {
  if (err instanceof CliError) return err;
  const where = op.namespace === undefined ? 'at cluster scope' : `in namespace "${op.namespace}"`;
  const status = apiStatus(err);
  if (status?.code === 403 && /cannot impersonate/.test(status.message ?? '')) {
    // Refused the --as or --as-group, not the command: the server's words name both users.
    return new CliError(`forbidden: ${status.message}`);
  }
  if (status?.code === 403) {
    const user = /\bUser "([^"]*)"/.exec(status.message ?? '')?.[1] ?? who.user;
    return new CliError(
      `forbidden: user "${user}" cannot ${op.verb} ${op.resource} ${where} ` +
        `(kubectl sluice ${op.command} needs: ${describeNeeds(op.command)})`,
    );
  }
  if (status?.code === 401) {
    return new CliError(
      `unauthorized: the API server at ${who.server} rejected the credentials of "${who.user}"`,
    );
  }
  if (status !== undefined) {
    const detail = status.message ?? status.reason ?? 'no message';
    return new CliError(`cannot ${op.verb} ${op.resource} ${where}: HTTP ${status.code}: ${detail}`);
  }
  const message = err instanceof Error ? err.message : String(err);
  if ((err as { name?: unknown } | null)?.name === 'AbortError' && who.requestTimeoutMs !== undefined) {
    return new CliError(
      `no answer from the API server at ${who.server} to ${op.verb} ${op.resource} ${where} ` +
        `within ${who.requestTimeoutMs / 1000} s (--request-timeout)`,
    );
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' || /fetch|ECONN|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|socket/i.test(message)) {
    return new CliError(`cannot reach the API server at ${who.server}: ${message}`);
  }
  return new CliError(`cannot ${op.verb} ${op.resource} ${where}: ${message}`);
}
