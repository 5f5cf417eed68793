// Repositories on the sandbox's git server: created bare, seeded and changed through a
// throwaway clone with simple-git, as a person or CI would.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { simpleGit } from 'simple-git';

export const GIT_AUTHOR = { name: 'Sluice Sandbox', email: 'sandbox@sluice.dev' };

/** Creates (or empties) `<root>/<name>.git` with `main` as its default branch. */
export function createBareRepo(root: string, name: string): string {
  const dir = join(root, `${name}.git`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  execFileSync('git', ['init', '--quiet', '--bare', '--initial-branch=main', dir]);
  execFileSync('git', ['-C', dir, 'config', 'http.receivepack', 'true']);
  return dir;
}

/**
 * Writes files (path → content; null deletes) in a fresh clone of url's branch, commits
 * and pushes. Returns the new commit's sha. Works on an empty repository too.
 */
export async function commitFiles(
  url: string,
  files: Record<string, string | null>,
  message: string,
  branch = 'main',
): Promise<string> {
  const work = mkdtempSync(join(tmpdir(), 'sluice-git-'));
  try {
    const git = simpleGit(work);
    await git.init(['--initial-branch', branch]);
    await git.addConfig('user.name', GIT_AUTHOR.name).addConfig('user.email', GIT_AUTHOR.email);
    await git.addRemote('origin', url);
    const remote = await git.listRemote(['--heads', 'origin', branch]);
    if (remote.trim() !== '') {
      await git.fetch('origin', branch);
      await git.checkout(['-B', branch, `origin/${branch}`]);
    }
    for (const [path, content] of Object.entries(files)) {
      const file = join(work, path);
      if (content === null) {
        await git.rm(path);
        continue;
      }
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, content);
      await git.add(path);
    }
    await git.commit(message);
    await git.push('origin', `HEAD:refs/heads/${branch}`);
    return (await git.revparse(['HEAD'])).trim();
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The content of a file at the tip of a branch, read from a bare repository on disk. */
export function readFileAt(bareDir: string, path: string, branch = 'main'): string {
  return execFileSync('git', ['-C', bareDir, 'show', `${branch}:${path}`], { encoding: 'utf8' });
}

/** Commit subjects on a branch, newest first. */
export function logSubjects(bareDir: string, branch = 'main'): string[] {
  return execFileSync('git', ['-C', bareDir, 'log', '--format=%s', branch], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);
}

/** The commit at the tip of a branch, read from a bare repository on disk. */
export function headOf(bareDir: string, branch = 'main'): string {
  return execFileSync('git', ['-C', bareDir, 'rev-parse', branch], { encoding: 'utf8' }).trim();
}
