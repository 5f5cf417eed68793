// npm run sandbox:up | sandbox:down | sandbox:status

import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { down, status, type UpOptions, up } from './lifecycle.ts';
import { adoptSandbox } from './lock.ts';
import { SandboxError } from './log.ts';
import { checkScrapeInterval } from './wanted.ts';

const command = process.argv[2];
const USAGE = 'up [--with-flux] [--with-argocd] [--scrape-interval 1s] [--audit-policy FILE]';

async function main(): Promise<void> {
  switch (command) {
    case 'up':
      await up(upOptions(process.argv.slice(3)));
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
      process.stderr.write(`usage: tsx sandbox/cli.ts ${USAGE}|down|status\n`);
      process.exitCode = 2;
  }
}

/** `up`'s flags; what is not given is the default, so a plain `up` undoes an earlier one's options. */
function upOptions(argv: string[]): UpOptions {
  let values: {
    'with-flux'?: boolean;
    'with-argocd'?: boolean;
    'scrape-interval'?: string;
    'audit-policy'?: string;
  };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        'with-flux': { type: 'boolean', default: false },
        'with-argocd': { type: 'boolean', default: false },
        'scrape-interval': { type: 'string' },
        'audit-policy': { type: 'string' },
      },
      strict: true,
    }));
  } catch (err) {
    throw new SandboxError(
      `${(err as Error).message}\nusage: npm run sandbox:${USAGE.replace(/^up/, 'up --')}`,
    );
  }
  return {
    flux: values['with-flux'] === true,
    argocd: values['with-argocd'] === true,
    ...(values['scrape-interval'] === undefined
      ? {}
      : { scrapeInterval: checkScrapeInterval(values['scrape-interval']) }),
    ...(values['audit-policy'] === undefined ? {} : { auditPolicy: resolve(values['audit-policy']) }),
  };
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
