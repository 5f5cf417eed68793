import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revertTemplate } from '../../../controller/write-back/edit.ts';
import { GitTransportError, pushEdit } from '../../../controller/write-back/git.ts';
import { commitFiles, createBareRepo, logSubjects, readFileAt } from '../../../sandbox/git/repo.ts';
import { type GitServer, startGitServer } from '../../../sandbox/git/server.ts';

// Real git on both ends: git's http-backend with basic auth, Sluice's clone-edit-push through it.
const AUTH = { username: 'flux', password: 'tok-9f8e7d6c5b4a' };
// The in-process git server speaks plain http on loopback, as an admin's --git-allow-http permits.
const HTTP = ['https', 'http'] as const;
const rollout = (image: string, comment = '# the web tier') =>
  `${comment}\napiVersion: sluice.dev/v1alpha1\nkind: Rollout\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: ${image}  # bumped by CI\n`;
const change = { path: ['spec', 'containers', 0, 'image'], stable: 'shop/web:1', failed: 'shop/web:2' };

describe('pushEdit against a real git server', { timeout: 60_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'sluice-wb-git-'));
  let server: GitServer;
  const withAuth = (name: string) =>
    server.repoUrl(name).replace('http://', `http://${AUTH.username}:${AUTH.password}@`);

  beforeAll(async () => {
    server = await startGitServer({ root, auth: AUTH });
  });
  afterAll(async () => {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  });

  async function seed(name: string) {
    const bare = createBareRepo(root, name);
    await commitFiles(withAuth(name), { 'apps/web/rollout.yaml': rollout('shop/web:1') }, 'v1');
    await commitFiles(withAuth(name), { 'apps/web/rollout.yaml': rollout('shop/web:2') }, 'v2');
    return bare;
  }

  const revert = (name: string, during?: () => Promise<unknown>) =>
    pushEdit({
      url: server.repoUrl(name),
      branch: 'main',
      auth: AUTH,
      message: 'sluice: roll back shop/web\n\nbody\n',
      timeoutMs: 30_000,
      transports: HTTP,
      edit: async (read) => {
        await during?.();
        return revertTemplate((await read('apps/web')).files, { name: 'web', namespace: 'shop' }, [change]);
      },
    });

  it('commits the one-line revert as Sluice, with the credentials from the request', async () => {
    const bare = await seed('plain');
    const out = await revert('plain');
    expect(out).toMatchObject({ state: 'Committed', branch: 'main', files: ['apps/web/rollout.yaml'] });
    expect(readFileAt(bare, 'apps/web/rollout.yaml')).toBe(rollout('shop/web:1'));
    expect(logSubjects(bare)).toEqual(['sluice: roll back shop/web', 'v2', 'v1']);
  });

  it('rebases on a branch that moved meanwhile and pushes', async () => {
    const bare = await seed('moved');
    const out = await revert('moved', () =>
      commitFiles(withAuth('moved'), { 'README.md': 'hello\n' }, 'docs'),
    );
    expect(out.state).toBe('Committed');
    expect(logSubjects(bare)).toEqual(['sluice: roll back shop/web', 'docs', 'v2', 'v1']);
    expect(readFileAt(bare, 'apps/web/rollout.yaml')).toBe(rollout('shop/web:1'));
  });

  it('does not push when the new commits touch the same line', async () => {
    const bare = await seed('conflict');
    const out = await revert('conflict', () =>
      commitFiles(withAuth('conflict'), { 'apps/web/rollout.yaml': rollout('shop/web:3') }, 'v3'),
    );
    expect(out).toMatchObject({ state: 'Failed', reason: 'Conflict' });
    expect(logSubjects(bare)).toEqual(['v3', 'v2', 'v1']);
  });

  it('skips when git already holds the stable version', async () => {
    const bare = await seed('done');
    await commitFiles(withAuth('done'), { 'apps/web/rollout.yaml': rollout('shop/web:1') }, 'manual revert');
    const out = await pushEdit({
      url: server.repoUrl('done'),
      auth: AUTH,
      message: 'unused',
      transports: HTTP,
      edit: async (read) => {
        return revertTemplate((await read('apps/web')).files, { name: 'web', namespace: 'shop' }, []);
      },
    });
    expect(out).toMatchObject({ state: 'Skipped', branch: 'main' });
    expect(logSubjects(bare)[0]).toBe('manual revert');
  });

  it('reports a file it cannot find without pushing', async () => {
    const bare = await seed('lost');
    const out = await pushEdit({
      url: server.repoUrl('lost'),
      branch: 'main',
      auth: AUTH,
      message: 'unused',
      transports: HTTP,
      edit: async (read) => {
        return revertTemplate((await read('elsewhere')).files, { name: 'web', namespace: 'shop' }, [change]);
      },
    });
    expect(out).toMatchObject({ state: 'Failed', reason: 'NotFound' });
    expect(logSubjects(bare)).toEqual(['v2', 'v1']);
  });

  it('fails with wrong credentials, and neither password nor URL user-info appear in the error', async () => {
    await seed('denied');
    const wrong = { username: 'flux', password: 'wrong-secret-771' };
    const attempt = pushEdit({
      url: server.repoUrl('denied'),
      transports: HTTP,
      branch: 'main',
      auth: wrong,
      message: 'unused',
      edit: async () => ({ ok: true, files: [] }),
    });
    await expect(attempt).rejects.toBeInstanceOf(GitTransportError);
    const message = await attempt.catch((e: Error) => e.message);
    expect(message).toMatch(/git http:\/\/127\.0\.0\.1:\d+\/denied\.git/);
    expect(message).not.toContain('wrong-secret-771');
    expect(message).not.toContain(Buffer.from(`flux:${wrong.password}`).toString('base64'));
  });
});
