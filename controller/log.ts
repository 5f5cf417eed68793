import { randomBytes } from 'node:crypto';
import { type DestinationStream, type LevelWithSilent, type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/**
 * Fields that may carry credentials, wherever they turn up in a logged object: client-node
 * errors embed request options (headers, auth), kubeconfig fragments carry tokens and keys.
 * Redacted rather than dropped, so a log still shows that the field was there.
 */
export const REDACT_PATHS = [
  'authorization',
  'Authorization',
  'headers.authorization',
  'headers.Authorization',
  '*.headers.authorization',
  '*.headers.Authorization',
  '*.*.headers.authorization',
  '*.*.headers.Authorization',
  'token',
  '*.token',
  '*.*.token',
  'bearerToken',
  '*.bearerToken',
  'password',
  '*.password',
  '*.*.password',
  'auth',
  '*.auth',
  'key',
  '*.key',
  'keyData',
  '*.keyData',
  '*["client-key-data"]',
  '*.*["client-key-data"]',
  '*.*.*["client-key-data"]',
  'apiKey',
  '*.apiKey',
];

export interface LoggerOptions {
  level?: LevelWithSilent;
  name?: string;
  /** Defaults to stdout; tests pass a stream to read lines back. */
  destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  return pino(
    {
      // No pino `name`: the `name` key belongs to the Rollout a line is about.
      base: { component: opts.name ?? 'sluice', pid: process.pid },
      level: opts.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      // Level as a word, not pino's number: what people grep for and log shippers expect.
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    opts.destination,
  );
}

export interface ReconcileContext {
  namespace: string;
  name: string;
  revision?: string;
  reconcileId?: string;
}

/** A child logger for one reconcile pass; every line then says which Rollout, revision and pass. */
export function reconcileLogger(base: Logger, ctx: ReconcileContext): Logger {
  return base.child({
    namespace: ctx.namespace,
    name: ctx.name,
    ...(ctx.revision ? { revision: ctx.revision } : {}),
    reconcileId: ctx.reconcileId ?? newReconcileId(),
  });
}

export function newReconcileId(): string {
  return randomBytes(6).toString('hex');
}
