import { existsSync } from 'node:fs';
import { SandboxError, say } from './log.ts';
import { run } from './proc.ts';

/** A Debian package the sandbox uses, and the program whose presence says it is installed. */
export interface DebianPackage {
  name: string;
  program: string;
}

/**
 * Installs the missing ones with apt-get (root only; anyone else is told the command). The
 * sandbox uses Debian's builds of outside programs rather than downloading its own: the
 * machines it runs on reach Debian's mirrors and few other places.
 */
export async function ensureDebianPackages(wanted: readonly DebianPackage[]): Promise<void> {
  const missing = wanted.filter((p) => !existsSync(p.program));
  if (missing.length === 0) return;
  const names = missing.map((p) => p.name);
  if (process.getuid?.() !== 0) {
    throw new SandboxError(
      `${names.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not installed; run \`sudo apt-get install ${names.join(' ')}\` and retry.`,
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  say(
    `installing Debian package${missing.length === 1 ? '' : 's'} ${names.join(', ')} (apt-get update, then install)`,
  );
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', ...names]]) {
    const r = await run('apt-get', args, { env, stream: true });
    if (r.code !== 0) {
      throw new SandboxError(
        `apt-get ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr.trim().split('\n').slice(-10).join('\n')}`,
      );
    }
  }
  for (const p of missing) {
    if (!existsSync(p.program))
      throw new SandboxError(`apt-get installed ${p.name} but ${p.program} is missing`);
  }
}
