// A repository written as an attacker with push rights would write it, for the write-back's
// confinement tests: a root .gitconfig that would be git's global configuration if HOME were the
// clone (hooksPath, fsmonitor, a required filter, the ext transport), executable hooks,
// attributes naming the filter, a submodule whose URL runs a command. Every hook and helper
// creates `marker`: its existence means the controller ran the attacker's code.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { createBareRepo } from '../../sandbox/git/repo.ts';
import { type GitServer, startGitServer } from '../../sandbox/git/server.ts';

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

/** The Rollout `web` as a team keeps it in git, with the one field a revert changes. */
export const webRollout = (image: string) =>
  `apiVersion: sluice.dev/v1alpha1\nkind: Rollout\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: ${image}\n`;
export const WEB_REVERT = {
  path: ['spec', 'containers', 0, 'image'],
  stable: 'shop/web:1',
  failed: 'shop/web:2',
};

/**
 * For one describe block: a git server with basic auth over a fresh directory, the marker path,
 * and `outside`, a file beyond every clone holding a second definition of `web` (so following a
 * link to it would make the Rollout ambiguous). Stopped and removed after the block.
 */
export function hostileGround(auth: { username: string; password: string }) {
  const root = mkdtempSync(join(tmpdir(), 'sluice-hostile-'));
  const ground = {
    root,
    marker: join(root, 'MARKER'),
    outside: join(root, 'outside.yaml'),
    server: undefined as unknown as GitServer,
    /** A bare repository `name` on the server holding `files` as its one commit, v2. */
    seed(name: string, files: TreeSpec): string {
      const bare = createBareRepo(join(root, 'srv'), name);
      commitTree(bare, files, 'v2');
      return bare;
    },
  };
  beforeAll(async () => {
    ground.server = await startGitServer({ root: join(root, 'srv'), auth });
    writeFileSync(ground.outside, webRollout('shop/web:2'));
  });
  afterAll(async () => {
    await ground.server.close();
    rmSync(root, { recursive: true, force: true });
  }, 60_000);
  return ground;
}
