import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { simpleGit } from 'simple-git';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitFiles, createBareRepo, logSubjects, readFileAt } from '../../../sandbox/git/repo.ts';
import { type GitServer, parseCgiHeaders, startGitServer } from '../../../sandbox/git/server.ts';

const execFileAsync = promisify(execFile);

// Real git on both ends: git's http-backend serves, git (through simple-git) clones and pushes.
describe('sandbox git server', () => {
  const root = mkdtempSync(join(tmpdir(), 'sluice-git-root-'));
  let open: GitServer;
  let guarded: GitServer;
  beforeAll(async () => {
    open = await startGitServer({ root });
    guarded = await startGitServer({ root, auth: { username: 'flux', password: 's3cret-token' } });
  });
  afterAll(async () => {
    await open.close();
    await guarded.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('takes pushes over smart HTTP and serves them to a fresh clone', async () => {
    const bare = createBareRepo(root, 'app');
    await commitFiles(open.repoUrl('app'), { 'apps/rollout.yaml': 'image: v1\n' }, 'v1');
    const sha = await commitFiles(open.repoUrl('app'), { 'apps/rollout.yaml': 'image: v2\n' }, 'v2');
    expect(readFileAt(bare, 'apps/rollout.yaml')).toBe('image: v2\n');
    expect(logSubjects(bare)).toEqual(['v2', 'v1']);

    const clone = mkdtempSync(join(tmpdir(), 'sluice-clone-'));
    await simpleGit().clone(open.repoUrl('app'), clone);
    expect((await simpleGit(clone).revparse(['HEAD'])).trim()).toBe(sha);
    rmSync(clone, { recursive: true, force: true });
  });

  it('refuses a clone without credentials when auth is on, and accepts the token', async () => {
    createBareRepo(root, 'private');
    const withToken = guarded.repoUrl('private').replace('http://', 'http://flux:s3cret-token@');
    await commitFiles(withToken, { 'a.txt': 'a\n' }, 'first');
    const clone = mkdtempSync(join(tmpdir(), 'sluice-clone-'));
    // Async: the server runs in this process, so a synchronous git would wait on itself.
    const anonymous = execFileAsync('git', ['clone', guarded.repoUrl('private'), join(clone, 'x')], {
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0' },
    });
    await expect(anonymous).rejects.toThrow(/could not read Username|Authentication failed/);
    rmSync(clone, { recursive: true, force: true });
  });

  it('reads the CGI status header', () => {
    expect(parseCgiHeaders('Status: 404 Not Found\r\nContent-Type: text/plain')).toEqual({
      status: 404,
      headers: { 'Content-Type': 'text/plain' },
    });
    expect(parseCgiHeaders('Content-Type: application/x-git-upload-pack-advertisement').status).toBe(200);
  });
});
