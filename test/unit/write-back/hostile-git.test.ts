import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { revertTemplate } from '../../../controller/write-back/edit.ts';
import { GitTransportError, type PushRequest, pushEdit } from '../../../controller/write-back/git.ts';
import { logSubjects, readFileAt } from '../../../sandbox/git/repo.ts';
import {
  hostileFiles,
  hostileGround,
  type TreeSpec,
  WEB_REVERT,
  webRollout,
} from '../../support/hostile-repo.ts';

// Real git on both ends, a repository written as an attacker would (test/support/hostile-repo.ts)
// plus a YAML-named symlink to a file outside and a symlinked directory. Every hook and helper
// would create MARKER; none may run.
const AUTH = { username: 'flux', password: 'tok-hostile-31c4' };
const HTTP = ['https', 'http'] as const;
const rollout = webRollout;
const change = WEB_REVERT;

describe('a hostile repository against the confined git', { timeout: 90_000 }, () => {
  const ground = hostileGround(AUTH);
  const { root, marker, outside, seed } = ground;
  // The server starts in a hook, after this runs: read it when used.
  const server = { repoUrl: (name: string) => ground.server.repoUrl(name) };

  const hostile: TreeSpec = {
    ...hostileFiles(marker),
    'apps/web/rollout.yaml': rollout('shop/web:2'),
    'apps/web/stolen.yaml': `->${outside}`,
  };

  const revert = (name: string, path: string, extra: Partial<PushRequest> = {}) =>
    pushEdit({
      url: server.repoUrl(name),
      branch: 'main',
      auth: AUTH,
      transports: HTTP,
      message: 'sluice: roll back shop/web\n',
      timeoutMs: 30_000,
      edit: async (read) =>
        revertTemplate((await read(path)).files, { name: 'web', namespace: 'shop' }, [change]),
      ...extra,
    });

  it('commits the revert and runs nothing: no hook, fsmonitor, filter or submodule helper; the link is neither read nor changed', async () => {
    const bare = seed('hostile', hostile);
    const out = await revert('hostile', 'apps/web');
    expect(out).toMatchObject({ state: 'Committed', files: ['apps/web/rollout.yaml'] });
    expect(existsSync(marker)).toBe(false);
    expect(readFileAt(bare, 'apps/web/rollout.yaml')).toBe(rollout('shop/web:1'));
    expect(logSubjects(bare)).toEqual(['sluice: roll back shop/web', 'v2']);
    // Only the one file changed; the link is still a link to the same place.
    const changed = execFileSync('git', ['-C', bare, 'diff', '--name-only', 'main~1', 'main'], {
      encoding: 'utf8',
    });
    expect(changed.trim()).toBe('apps/web/rollout.yaml');
    const link = execFileSync('git', ['-C', bare, 'ls-tree', 'main', 'apps/web/stolen.yaml'], {
      encoding: 'utf8',
    });
    expect(link).toMatch(/^120000 blob /);
    expect(readFileAt(bare, 'apps/web/stolen.yaml')).toBe(outside);
  });

  it('refuses a path that crosses a symbolic link or leaves the repository', async () => {
    seed('linked', { ...hostile, deploy: '->apps/web', 'etc-link': `->${root}` });
    const viaLink = await revert('linked', 'deploy');
    expect(viaLink).toMatchObject({ state: 'Failed', reason: 'Refused' });
    expect(viaLink.state === 'Failed' && viaLink.message).toMatch(
      /^deploy is a symbolic link in the repository; Sluice does not follow links$/,
    );
    const up = await revert('linked', '../../..');
    expect(up).toMatchObject({
      state: 'Failed',
      reason: 'Refused',
      message: expect.stringMatching(/'\.\.' is not allowed/),
    });
    const outsideDir = await revert('linked', 'etc-link/outside.yaml');
    expect(outsideDir).toMatchObject({
      state: 'Failed',
      message: expect.stringMatching(/^etc-link is a symbolic link/),
    });
    expect(existsSync(marker)).toBe(false);
  });

  it('caps the files and bytes it reads, each with its own message', async () => {
    const bare = seed('large', {
      'apps/web/rollout.yaml': rollout('shop/web:2'),
      'apps/web/huge.yaml': `# ${'x'.repeat(3 * 1024 * 1024)}\n`,
    });
    const big = await revert('large', 'apps/web');
    expect(big).toMatchObject({
      state: 'Failed',
      reason: 'TooLarge',
      message: expect.stringMatching(
        /^apps\/web\/huge\.yaml is 31457\d\d bytes, more than the 1048576 Sluice reads of one file$/,
      ),
    });
    seed('many', Object.fromEntries([0, 1, 2].map((i) => [`apps/web/r${i}.yaml`, rollout('shop/web:2')])));
    const many = await revert('many', 'apps/web', { limits: { maxFiles: 2 } });
    expect(many).toMatchObject({
      state: 'Failed',
      reason: 'TooLarge',
      message: 'apps/web holds 3 YAML files, more than the 2 Sluice reads',
    });
    expect(logSubjects(bare)).toEqual(['v2']);
  });

  it('refuses local, file and ext transports and option-like branches before git touches them', async () => {
    const bare = seed('local', hostile);
    const tries: [Partial<PushRequest>, RegExp][] = [
      [{ url: `file://${bare}` }, /scheme 'file' is not allowed/],
      [{ url: bare }, /not an absolute URL \(local paths/],
      [{ url: `ext::sh -c touch% ${marker}` }, /scheme 'ext' is not allowed/],
      [{ url: server.repoUrl('local'), transports: ['https'] }, /scheme 'http' is not allowed/],
      [{ branch: `--upload-pack=touch ${marker}` }, /^branch '--upload-pack=touch .*' starts with '-'$/],
      [{ branch: 'main..x' }, /^branch 'main\.\.x' is not a valid git branch name$/],
      [{ branch: 'main\u0007' }, /^branch 'main\?' is not a valid git branch name$/],
    ];
    for (const [req, message] of tries) {
      const out = await revert('local', 'apps/web', req);
      expect(out).toMatchObject({ state: 'Failed', reason: 'Refused' });
      expect(out.state === 'Failed' && out.message).toMatch(message);
    }
    expect(existsSync(marker)).toBe(false);
    expect(logSubjects(bare)).toEqual(['v2']);
  });

  it('does not follow a redirect, so the token never reaches the host it points to', async () => {
    seed('redirected', hostile);
    const seen: IncomingHttpHeaders[] = [];
    const elsewhere = createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="x"' }).end();
    });
    const redirector = createServer((req, res) => {
      const { port } = elsewhere.address() as AddressInfo;
      res.writeHead(302, { Location: `http://127.0.0.1:${port}${req.url}` }).end();
    });
    await Promise.all(
      [elsewhere, redirector].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))),
    );
    try {
      const { port } = redirector.address() as AddressInfo;
      const attempt = revert('redirected', 'apps/web', { url: `http://127.0.0.1:${port}/redirected.git` });
      await expect(attempt).rejects.toBeInstanceOf(GitTransportError);
      expect(await attempt.catch((e: Error) => e.message)).toMatch(
        /^git http:\/\/127\.0\.0\.1:\d+\/redirected\.git \(fetch\): the server answered with a redirect, which is not followed$/,
      );
      expect(seen).toHaveLength(0);
    } finally {
      for (const s of [elsewhere, redirector]) s.close();
    }
  });
});
