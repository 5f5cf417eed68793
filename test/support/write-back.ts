// Helpers for the write-back suites: a release that fails its success-rate gate, the YAML a
// team would keep in git for it, and the one-Secret Role docs/gitops.md asks users to write.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { expect, onTestFinished } from 'vitest';
import { stringify } from 'yaml';
import type { Rollout } from '../../crds/index.ts';
import { templateOf } from '../../crds/spec.ts';
import { canaryApp } from '../../sandbox/apps.ts';
import { commitFiles, createBareRepo, logSubjects } from '../../sandbox/git/repo.ts';
import { startGitServer } from '../../sandbox/git/server.ts';
import { applyYaml } from '../harness/apply.ts';
import { type Launcher, startController } from '../harness/controller.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { setLoad, setProfile } from '../harness/traffic.ts';
import { analysisRuns, hostOf } from './analysis.ts';
import { apply, getRollout, setImage, waitForRollout } from './apps.ts';
import { basicAuthPrometheus } from './secrets.ts';

/** Background gates on short windows, and a pause long enough for them to judge the canary. */
export function failingCanary(
  namespace: string,
  image: string,
  name = 'web',
  writeBack?: Rollout['spec']['writeBack'],
) {
  const objects = canaryApp(namespace, {
    name,
    image,
    steps: [{ setWeight: 50 }, { pause: { duration: '60s' } }] as never,
    // A canary just given traffic may have no samples yet: a few empty windows are not a verdict.
    canary: {
      analysis: {
        interval: '3s',
        initialDelay: '6s',
        inconclusiveLimit: 5,
        successRate: { min: 95 },
      } as never,
    },
  });
  if (writeBack) {
    const rollout = objects.find((o) => o.kind === 'Rollout') as Rollout;
    rollout.spec.writeBack = writeBack;
  }
  return objects;
}

/** The objects as one multi-document YAML file, with a comment a revert must keep. */
export const asYaml = (objects: KubernetesObject[]): string =>
  `# ${objects[0]?.metadata?.namespace}: the shop's web tier\n${objects.map((o) => stringify(o)).join('---\n')}`;

export const withImage = (objects: KubernetesObject[], image: string, name = 'web'): KubernetesObject[] =>
  objects.map((o) => {
    if (o.kind !== 'Rollout' || o.metadata?.name !== name) return o;
    const r = structuredClone(o) as unknown as Rollout;
    (templateOf(r.spec).spec.containers[0] as { image?: string }).image = image;
    return r as unknown as KubernetesObject;
  });

/** A Flux-format git Secret and a Role letting the controller's ServiceAccount read that one Secret. */
export async function gitCredentials(
  namespace: string,
  name: string,
  auth: { username: string; password: string },
) {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  await applyYaml(
    [
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace },
        data: { username: b64(auth.username), password: b64(auth.password) },
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'sluice-write-back', namespace },
        rules: [{ apiGroups: [''], resources: ['secrets'], resourceNames: [name], verbs: ['get'] }],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'sluice-write-back', namespace },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'sluice-write-back' },
        subjects: [{ kind: 'ServiceAccount', name: 'sluice', namespace: 'sluice-system' }],
      },
    ]
      .map((o) => stringify(o))
      .join('---\n'),
  );
}

// The git server runs in this process with basic auth: the controller (a child process under
// deploy/'s ServiceAccount) reaches it on loopback and may only read the one Secret it is granted.
export const WRITE_BACK_AUTH = { username: 'sluice-bot', password: 'wb-token-5e1f0c2d9a' };

/**
 * The write-back suite's main case, up to its outcome: two canaries whose Rollouts name a git
 * repository (`web` in deploy/, `api` in nowhere/, which holds no Rollout) are released bad and
 * rolled back, and the controller — started by `launcher`, the host's Node unless told — writes
 * back. Returns what the assertions read; the tests say what must be true of it.
 */
export async function rollBackWithWriteBack(opts: { launcher?: Launcher; args?: string[] } = {}) {
  const AUTH = WRITE_BACK_AUTH;
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
  const web = failingCanary(ns, image('web', 1), 'web', {
    enabled: true,
    repository: repository('deploy'),
  });
  const api = failingCanary(ns, image('api', 1), 'api', {
    enabled: true,
    repository: repository('nowhere'),
  });
  const v1 = asYaml(web);
  await commitFiles(pushUrl, { 'deploy/web.yaml': v1, 'nowhere/README.yaml': 'note: nothing here\n' }, 'v1');
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
    args: ['--write-back-tenant-repositories', '--git-allow-http', ...(opts.args ?? [])],
    ...(opts.launcher ? { launcher: opts.launcher } : {}),
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
  return { ns, bare, v1, badCommit, webStable, apiStable, webDone, apiDone, controller, prom, promPassword };
}

/**
 * After a GitOps tool applied Sluice's revert: the Rollout `web` settles Healthy on `stable` with
 * `image` back in its template, and then another pass of the tool (`pass` resolves once the tool
 * handled it) starts no release, keeps the write-back record `reverted` wrote, and commits nothing
 * more to git than the three commits (v1, v2, the revert). Returns the Rollout after that pass.
 */
export async function settlesWithoutRelease(
  ns: string,
  o: { stable?: string; image: string; reverted: Rollout; bareDir: string; pass: () => Promise<unknown> },
): Promise<Rollout> {
  const settled = await waitForRollout(
    ns,
    (r) => r.status?.phase === 'Healthy' && r.status.currentRevision === o.stable,
    'the Rollout to be Healthy on the old revision',
    { timeout: 60_000 },
  );
  expect(templateOf(settled.spec).spec.containers[0]?.image).toBe(o.image);
  expect(settled.status?.stableRevision).toBe(o.stable);
  const runs = (await analysisRuns(ns)).length;
  const history = settled.status?.history?.length;
  await o.pass();
  const after = await getRollout(ns);
  expect(after.status).toMatchObject({
    phase: 'Healthy',
    currentRevision: o.stable,
    stableRevision: o.stable,
  });
  expect(after.status?.history?.length).toBe(history);
  expect(after.status?.writeBack).toEqual(o.reverted.status?.writeBack);
  expect((await analysisRuns(ns)).length).toBe(runs);
  expect(logSubjects(o.bareDir)).toHaveLength(3);
  return after;
}
