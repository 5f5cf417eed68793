// npm run sandbox:up | sandbox:down | sandbox:status

import { down, status, up } from './lifecycle.ts';
import { adoptSandbox } from './lock.ts';
import { SandboxError } from './log.ts';

const command = process.argv[2];

async function main(): Promise<void> {
  switch (command) {
    case 'up':
      await up({ flux: process.argv.includes('--with-flux') });
      // Started or reused by a person: test runs that find it must leave it running.
      adoptSandbox();
      break;
    case 'down':
      await down();
      break;
    case 'status':
      process.stdout.write(`${await status()}\n`);
      break;
    default:
      process.stderr.write('usage: tsx sandbox/cli.ts up [--with-flux]|down|status\n');
      process.exitCode = 2;
  }
}

main().catch((err: unknown) => {
  // Our own errors already say what to do; anything else is a bug worth a stack trace.
  process.stderr.write(
    err instanceof SandboxError
      ? `[sandbox] error: ${err.message}\n`
      : `${String((err as Error)?.stack ?? err)}\n`,
  );
  process.exitCode = 1;
});
