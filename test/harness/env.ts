import { existsSync } from 'node:fs';
import { inject } from 'vitest';
import { PATHS } from '../../sandbox/config.ts';
import { readEnvFile, type SandboxEnv } from '../../sandbox/lifecycle.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    sandbox: SandboxEnv;
  }
}

/** The running sandbox's addresses: provided by the global setup, else read from .sandbox/env. */
export function sandbox(): SandboxEnv {
  const provided = inject('sandbox');
  if (provided) return provided;
  if (!existsSync(PATHS.env))
    throw new Error(`no sandbox: ${PATHS.env} is missing; run \`npm run sandbox:up\``);
  return readEnvFile() as unknown as SandboxEnv;
}

/** Appended to every harness failure, so a red test says where to look next. */
export function logHint(): string {
  const env = sandbox();
  return (
    `\nsandbox logs: ${env.SANDBOX_LOGS} (prometheus.log, traffic-simulator.log); ` +
    `cluster component logs: ${env.SANDBOX_CLUSTER_LOGS} (copied to ${env.SANDBOX_LOGS}/previous when the sandbox stops)`
  );
}
