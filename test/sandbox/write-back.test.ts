import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Rollout } from '../../crds/index.ts';
import { commitFiles, createBareRepo, logSubjects, readFileAt } from '../../sandbox/git/repo.ts';
import { startGitServer } from '../../sandbox/git/server.ts';
import { startController } from '../harness/controller.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { setLoad, setProfile } from '../harness/traffic.ts';
import { hostOf } from '../support/analysis.ts';
import { apply, setImage, waitForEvent, waitForRollout } from '../support/apps.ts';
import {
  assertNoSecretLeaks,
  basicAuthPrometheus,
  controllerOutput,
  namespaceObjects,
} from '../support/secrets.ts';
import { asYaml, failingCanary, gitCredentials, withImage } from '../support/write-back.ts';

// The git server runs in this process with basic auth: the controller (a child process under
// deploy/'s ServiceAccount) reaches it on loopback and may only read the one Secret it is granted.
const AUTH = { username: 'sluice-bot', password: 'wb-token-5e1f0c2d9a' };

describe('write-back with an explicit repository (no GitOps tool)', () => {
  it('commits the revert of a rolled-back canary, and refuses when the file is not where spec says', {
    timeout: 240_000,
  }, async () => {
    const ns = await freshNamespace('wb');
    const root = mkdtempSync(join(tmpdir(), 'sluice-wb-'));
    const git = await startGitServer({ root, auth: AUTH });
    onTestFinished(async () => {
      await git.close();
      rmSync(root, { recursive: true, force: true });
    });
    const bare = createBareRepo(root, 'shop');
    const pushUrl = git.repoUrl('shop').replace('http://', `http://${AUTH.username}:${AUTH.password}@`);
    const image = (app: string, v: number) => `shop/${ns}-${app}:${v}`;
    const repository = (path: string) => ({
      url: git.repoUrl('shop'),
      branch: 'main',
      path,
      secretRef: { name: 'git-auth' },
    });
    // `web` lives in deploy/; `api` claims to live in nowhere/, which holds no Rollout.
    const web = failingCanary(ns, image('web', 1), 'web', {
      enabled: true,
      repository: repository('deploy'),
    });
    const api = failingCanary(ns, image('api', 1), 'api', {
      enabled: true,
      repository: repository('nowhere'),
    });
    const v1 = asYaml(web);
    await commitFiles(
      pushUrl,
      { 'deploy/web.yaml': v1, 'nowhere/README.yaml': 'note: nothing here\n' },
      'v1',
    );
    await gitCredentials(ns, 'git-auth', AUTH);
    await apply([...web, ...api]);
    await setLoad(hostOf('web', ns), 60);
    await setLoad(hostOf('api', ns), 60);
    // Prometheus behind basic auth too: one run holding both kinds of credential.
    const promPassword = `prom-${randomBytes(12).toString('hex')}`;
    const prom = await basicAuthPrometheus('sluice', promPassword);
    // The Rollouts name their own repository, which the admin must allow; the sandbox's git
    // server speaks plain http.
    const controller = await startController(ns, {
      env: { SLUICE_PROMETHEUS_URL: prom.url(promPassword) },
      args: ['--write-back-tenant-repositories', '--git-allow-http'],
    });
    const healthy = (name: string) =>
      waitForRollout(ns, (r) => r.status?.phase === 'Healthy', `${name} to be stable`, { name });
    const [webStable, apiStable] = await Promise.all([healthy('web'), healthy('api')]);

    // The bad version: committed to git and applied (as a GitOps tool would), then rolled back.
    await setProfile(image('web', 2), { errorRate: 0.3 });
    await setProfile(image('api', 2), { errorRate: 0.3 });
    const v2 = asYaml(withImage(web, image('web', 2)));
    const badCommit = await commitFiles(pushUrl, { 'deploy/web.yaml': v2 }, 'web v2');
    await setImage(ns, image('web', 2), 'web');
    await setImage(ns, image('api', 2), 'api');

    const done = (r: Rollout) => r.status?.writeBack !== undefined;
    const webDone = await waitForRollout(ns, done, 'web to be written back', {
      name: 'web',
      timeout: 120_000,
    });
    const apiDone = await waitForRollout(ns, done, 'api to be written back', {
      name: 'api',
      timeout: 60_000,
    });

    // web: one commit on top of the bad one, restoring v1 byte for byte (only the image differs).
    const failedRevision = webDone.status?.currentRevision;
    expect(webDone.status?.stableRevision).toBe(webStable.status?.stableRevision);
    expect(webDone.status?.writeBack).toMatchObject({ revision: failedRevision, state: 'Committed' });
    expect(readFileAt(bare, 'deploy/web.yaml')).toBe(v1);
    const subjects = logSubjects(bare);
    expect(subjects[0]).toBe(
      `sluice: roll back ${ns}/web from ${failedRevision} to ${webStable.status?.stableRevision}`,
    );
    expect(subjects[1]).toBe('web v2');
    expect(webDone.status?.writeBack?.commit).not.toBe(badCommit);
    const committed = await waitForEvent(ns, 'WriteBackCommitted');
    expect(committed.note).toMatch(/deploy\/web\.yaml back to stable revision/);

    // api: nothing pushed, a Warning, and status saying git still holds the failed version.
    expect(apiDone.status?.writeBack).toMatchObject({
      state: 'Failed',
      revision: apiDone.status?.currentRevision,
    });
    expect(apiDone.status?.writeBack?.message).toMatch(
      /no YAML document for Rollout .*\/api .*under nowhere/,
    );
    expect(apiDone.status?.writeBack?.message).toMatch(/git still holds the failed revision/);
    expect(apiStable.status?.stableRevision).toBe(apiDone.status?.stableRevision);
    expect((await waitForEvent(ns, 'WriteBackFailed')).type).toBe('Warning');
    expect(logSubjects(bare)).toHaveLength(3);

    // Neither the git token (only in its Secret) nor the Prometheus password (only in the
    // controller's environment) reaches the log, Events, Rollouts or AnalysisRuns.
    expect(prom.seen.authorized).toBeGreaterThan(0);
    await assertNoSecretLeaks(
      [AUTH.password, `${AUTH.username}:${AUTH.password}`, promPassword, `sluice:${promPassword}`],
      [controllerOutput(controller), ...namespaceObjects(ns)],
    );
  });
});
