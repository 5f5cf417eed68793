import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Rollout } from '../../crds/index.ts';
import { createBareRepo, logSubjects, readFileAt } from '../../sandbox/git/repo.ts';
import { startGitServer } from '../../sandbox/git/server.ts';
import { applyYaml } from '../harness/apply.ts';
import { startController } from '../harness/controller.ts';
import { sandbox } from '../harness/env.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { setLoad, setProfile } from '../harness/traffic.ts';
import { hostOf } from '../support/analysis.ts';
import { apply, getRollout, setImage, waitForRollout } from '../support/apps.ts';
import { commitTree, hostileFiles } from '../support/hostile-repo.ts';
import { assertNoSecretLeaks, controllerOutput, namespaceObjects } from '../support/secrets.ts';
import { asYaml, failingCanary, gitCredentials, withImage } from '../support/write-back.ts';

// A namespace tenant against the write-back, on the real API server with the controller under
// deploy/'s ServiceAccount. The admin here is as permissive as the flags allow (tenants may name
// their own repositories, plain http for the sandbox's git server), so what stops each attack is
// the rule under test, not a closed door in front of it.
const AUTH = { username: 'sluice-bot', password: `wb-${randomBytes(10).toString('hex')}` };
const PERMISSIVE = ['--write-back-tenant-repositories', '--git-allow-http'];

type WriteBack = Rollout['spec']['writeBack'];

/** Rolls each app back (v2 fails its gate) and returns each Rollout once its write-back is recorded. */
async function rollBack(ns: string, apps: Record<string, KubernetesObject[]>, extraArgs: string[] = []) {
  const env = sandbox();
  const image = (name: string, v: number) => `shop/${ns}-${name}:${v}`;
  await apply(Object.values(apps).flat());
  for (const name of Object.keys(apps)) await setLoad(hostOf(name, ns), 60);
  const controller = await startController(ns, {
    args: ['--prometheus-url', env.PROMETHEUS_URL, ...PERMISSIVE, ...extraArgs],
  });
  await Promise.all(
    Object.keys(apps).map((name) =>
      waitForRollout(ns, (r) => r.status?.phase === 'Healthy', `${name} to be stable`, {
        name,
        timeout: 120_000,
      }),
    ),
  );
  for (const name of Object.keys(apps)) {
    await setProfile(image(name, 2), { errorRate: 0.3 });
    await setImage(ns, image(name, 2), name);
  }
  const done = await Promise.all(
    Object.keys(apps).map((name) =>
      waitForRollout(ns, (r) => r.status?.writeBack !== undefined, `${name}'s write-back to be recorded`, {
        name,
        timeout: 180_000,
      }),
    ),
  );
  return {
    controller,
    done: Object.fromEntries(done.map((r) => [r.metadata.name, r])) as Record<string, Rollout>,
  };
}

const app = (ns: string, name: string, writeBack: WriteBack, labels?: Record<string, string>) => {
  const objects = failingCanary(ns, `shop/${ns}-${name}:1`, name, writeBack);
  if (labels) {
    const rollout = objects.find((o) => o.kind === 'Rollout') as KubernetesObject;
    rollout.metadata = { ...rollout.metadata, labels: { ...rollout.metadata?.labels, ...labels } };
  }
  return objects;
};

/** An HTTP server on loopback that records every request's headers and answers 404. */
async function recorder() {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

describe('a tenant against the write-back', () => {
  it('a hostile repository runs nothing in the controller, nothing outside the clone is read, and each rule says why it applied', {
    timeout: 420_000,
  }, async () => {
    const ns = await freshNamespace('hostile');
    const root = mkdtempSync(join(tmpdir(), 'sluice-hostile-sb-'));
    const git = await startGitServer({ root: join(root, 'srv'), auth: AUTH });
    onTestFinished(async () => {
      await git.close();
      rmSync(root, { recursive: true, force: true });
    });
    const bare = createBareRepo(join(root, 'srv'), 'shop');
    const marker = join(root, 'MARKER');
    const repo = (path: string) => ({
      url: git.repoUrl('shop'),
      branch: 'main',
      path,
      secretRef: { name: 'git-auth' },
    });
    const apps = {
      web: app(ns, 'web', { enabled: true, repository: repo('deploy') }),
      big: app(ns, 'big', { enabled: true, repository: repo('big') }),
      up: app(ns, 'up', { enabled: true, repository: repo('../../..') }),
    };
    // Outside the clone: a second definition of web (following the link would make it ambiguous)
    // and a string that must never reach anything Sluice writes.
    const outsideSecret = `outside-${randomBytes(8).toString('hex')}`;
    const outside = join(root, 'outside.yaml');
    writeFileSync(outside, `# ${outsideSecret}\n${asYaml(apps.web)}`);
    const v1 = asYaml(apps.web);
    commitTree(
      bare,
      {
        ...hostileFiles(marker),
        'deploy/web.yaml': v1,
        'deploy/stolen.yaml': `->${outside}`,
        'big/big.yaml': asYaml(apps.big),
        'big/padding.yaml': `# ${'x'.repeat(3 * 1024 * 1024)}\n`,
      },
      'v1',
    );
    commitTree(bare, { 'deploy/web.yaml': asYaml(withImage(apps.web, `shop/${ns}-web:2`)) }, 'web v2');
    await gitCredentials(ns, 'git-auth', AUTH);

    const { controller, done } = await rollBack(ns, apps);

    // web: committed through the hostile repository; no hook, filter, fsmonitor or submodule ran.
    expect(done.web?.status?.writeBack).toMatchObject({ state: 'Committed' });
    expect(existsSync(marker)).toBe(false);
    expect(readFileAt(bare, 'deploy/web.yaml')).toBe(v1);
    expect(logSubjects(bare)[0]).toMatch(new RegExp(`^sluice: roll back ${ns}/web from `));
    const link = execFileSync('git', ['-C', bare, 'ls-tree', 'main', 'deploy/stolen.yaml'], {
      encoding: 'utf8',
    });
    expect(link).toMatch(/^120000 blob /);
    // big: a file far over the cap ends it, named, before a byte of it is read.
    expect(done.big?.status?.writeBack?.state).toBe('Failed');
    expect(done.big?.status?.writeBack?.message).toMatch(
      /^big\/padding\.yaml is \d+ bytes, more than the 1048576 Sluice reads of one file; nothing was pushed/,
    );
    // up: a path out of the repository is refused by policy before git runs.
    expect(done.up?.status?.writeBack?.state).toBe('Failed');
    expect(done.up?.status?.writeBack?.message).toMatch(
      /^write-back refused by policy: path must stay inside the repository \('\.\.' is not allowed\)/,
    );
    expect(logSubjects(bare)).toHaveLength(3);
    await assertNoSecretLeaks(
      [outsideSecret, AUTH.password, Buffer.from(`${AUTH.username}:${AUTH.password}`).toString('base64')],
      [controllerOutput(controller), ...namespaceObjects(ns)],
    );
  });

  it('file://, ext::, a local path and an option-like branch are refused with a message naming the rule', {
    timeout: 420_000,
  }, async () => {
    const ns = await freshNamespace('transport');
    const root = mkdtempSync(join(tmpdir(), 'sluice-transport-sb-'));
    onTestFinished(() => rmSync(root, { recursive: true, force: true }));
    const bare = createBareRepo(root, 'local');
    const marker = join(root, 'MARKER');
    const apps = {
      file: app(ns, 'file', { enabled: true, repository: { url: `file://${bare}`, path: 'deploy' } }),
      ext: app(ns, 'ext', {
        enabled: true,
        repository: { url: `ext::sh -c touch% ${marker}`, path: 'deploy' },
      }),
      local: app(ns, 'local', { enabled: true, repository: { url: bare, path: 'deploy' } }),
      opt: app(ns, 'opt', {
        enabled: true,
        repository: {
          url: 'https://git.invalid/shop.git',
          branch: `--upload-pack=touch ${marker}`,
          path: 'deploy',
        },
      }),
    };
    const { done } = await rollBack(ns, apps);
    const message = (name: string) => {
      expect(done[name]?.status?.writeBack?.state).toBe('Failed');
      return done[name]?.status?.writeBack?.message;
    };
    expect(message('file')).toMatch(
      /^write-back refused by policy: repository URL scheme 'file' is not allowed: only https and http;/,
    );
    expect(message('ext')).toMatch(
      /^write-back refused by policy: repository URL scheme 'ext' is not allowed: only https and http;/,
    );
    expect(message('local')).toMatch(
      /^write-back refused by policy: repository URL is not an absolute URL \(local paths/,
    );
    expect(message('opt')).toMatch(/^write-back refused by policy: branch may not start with '-';/);
    expect(existsSync(marker)).toBe(false);
  });

  it("another namespace's Flux labels lead nowhere: no request carries its token, status names none of its objects", {
    timeout: 420_000,
  }, async () => {
    const tenant = await freshNamespace('tenant');
    const victim = await freshNamespace('victim');
    // The victim's repository (and the tenant's chosen URL) are recorders: any request at all fails the test.
    const victimGit = await recorder();
    const tenantGit = await recorder();
    // The victim uses write-back too, so the controller may read its token: only the rules stop it.
    await gitCredentials(victim, 'victim-token', AUTH);
    // Suspended: Flux itself must not fetch the recorder's URL and blur what Sluice did.
    await applyYaml(`
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: victim-repo, namespace: ${victim}}
spec: {interval: 10m, suspend: true, url: "${victimGit.url}/victim.git", ref: {branch: main}, secretRef: {name: victim-token}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: victim-apps, namespace: ${victim}}
spec: {interval: 10m, suspend: true, prune: false, path: ./apps, sourceRef: {kind: GitRepository, name: victim-repo}}
`);
    const labels = {
      'kustomize.toolkit.fluxcd.io/name': 'victim-apps',
      'kustomize.toolkit.fluxcd.io/namespace': victim,
    };
    const apps = {
      // Steers the victim's credentials to a server the tenant chose...
      steer: app(
        tenant,
        'steer',
        { enabled: true, repository: { url: `${tenantGit.url}/mine.git` } },
        labels,
      ),
      // ...or commits the tenant's revert into the victim's repository with the victim's token.
      borrow: app(tenant, 'borrow', { enabled: true }, labels),
    };
    const { controller, done } = await rollBack(tenant, apps);
    for (const name of ['steer', 'borrow']) {
      const wb = done[name]?.status?.writeBack;
      expect(wb?.state).toBe('Failed');
      expect(wb?.message).toMatch(
        new RegExp(
          `^the GitOps labels of Rollout ${tenant}/${name} name a Flux Kustomization in another namespace that does not exist, cannot be read, or does not list this Rollout in its status\\.inventory; it is not followed`,
        ),
      );
    }
    expect(victimGit.seen).toEqual([]);
    expect(tenantGit.seen).toEqual([]);
    // The Rollouts' own labels name the victim (the tenant wrote them); what Sluice wrote must not.
    const statuses = {
      name: `Rollout status in ${tenant}`,
      read: async () =>
        JSON.stringify(
          (await Promise.all(['steer', 'borrow'].map((n) => getRollout(tenant, n)))).map((r) => r.status),
        ),
    };
    const events = namespaceObjects(tenant).filter((s) => s.name.startsWith('Events'));
    await assertNoSecretLeaks(
      [victim, 'victim-apps', 'victim-repo', 'victim-token', AUTH.password],
      [statuses, ...events],
    );
    await assertNoSecretLeaks([AUTH.password], [controllerOutput(controller)]);
  });
});
