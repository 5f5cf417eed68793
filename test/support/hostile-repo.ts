// A repository written as an attacker with push rights would write it, for the write-back's
// confinement tests: a root .gitconfig that would be git's global configuration if HOME were the
// clone (hooksPath, fsmonitor, a required filter, the ext transport), executable hooks,
// attributes naming the filter, a submodule whose URL runs a command. Every hook and helper
// creates `marker`: its existence means the controller ran the attacker's code.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** Path → content. A content starting with `->` is a symbolic link to the rest; a key ending in `+x` is executable. */
export type TreeSpec = Record<string, string>;

export function hostileFiles(marker: string): TreeSpec {
  const hook = `#!/bin/sh\ntouch ${marker}\ncat\n`;
  return {
    '.gitconfig': `[core]\n\thooksPath = hooks\n\tfsmonitor = hooks/fsmonitor\n[filter "evil"]\n\tclean = hooks/filter\n\tsmudge = hooks/filter\n\trequired = true\n[protocol "ext"]\n\tallow = always\n`,
    '.gitattributes': '* filter=evil\n',
    '.gitmodules': `[submodule "x"]\n\tpath = x\n\turl = ext::sh -c touch% ${marker}\n`,
    'hooks/pre-commit+x': hook,
    'hooks/commit-msg+x': hook,
    'hooks/post-checkout+x': hook,
    'hooks/pre-push+x': hook,
    'hooks/reference-transaction+x': hook,
    'hooks/fsmonitor+x': hook,
    'hooks/filter+x': hook,
  };
}

/**
 * Commits `files` on top of the bare repository's `main` (or as its first commit) and pushes.
 * The test's own git reads no configuration of the user or of the repository.
 */
export function commitTree(bare: string, files: TreeSpec, message: string): void {
  const work = mkdtempSync(join(tmpdir(), 'sluice-hostile-work-'));
  const env = { ...process.env, HOME: work, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'core.hooksPath=/dev/null', ...args], { env, stdio: 'pipe', cwd: work });
  let hasMain = true;
  try {
    execFileSync('git', ['-C', bare, 'rev-parse', '--verify', '--quiet', 'main'], { env, stdio: 'pipe' });
  } catch {
    hasMain = false;
  }
  if (hasMain) git('clone', '--quiet', '--branch', 'main', bare, '.');
  else git('init', '--quiet', '--initial-branch=main');
  try {
    for (const [key, content] of Object.entries(files)) {
      const path = key.replace(/\+x$/, '');
      const file = join(work, path);
      mkdirSync(dirname(file), { recursive: true });
      rmSync(file, { force: true });
      if (content.startsWith('->')) symlinkSync(content.slice(2), file);
      else writeFileSync(file, content);
      if (key.endsWith('+x')) chmodSync(file, 0o755);
    }
    git('add', '-A');
    git(
      '-c',
      'user.name=attacker',
      '-c',
      'user.email=attacker@example.com',
      'commit',
      '--quiet',
      '--no-verify',
      '-m',
      message,
    );
    git('push', '--quiet', bare, 'HEAD:refs/heads/main');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
