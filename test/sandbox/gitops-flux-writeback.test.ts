import { describe, expect, it, onTestFinished } from 'vitest';
import { logSubjects, readFileAt } from '../../sandbox/git/repo.ts';
import { createFluxApp } from '../../sandbox/gitops.ts';
import { startController } from '../harness/controller.ts';
import { sandbox } from '../harness/env.ts';
import { kube } from '../harness/kube.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { setLoad, setProfile } from '../harness/traffic.ts';
import { waitFor } from '../harness/wait.ts';
import { hostOf } from '../support/analysis.ts';
import { waitForRollout } from '../support/apps.ts';
import { asYaml, failingCanary, settlesWithoutRelease, withImage } from '../support/write-back.ts';

// Real Flux (source-controller + kustomize-controller) applies a repository on the sandbox's
// git server; the controller runs with --write-back and finds the repository through Flux's
// labels on the Rollout alone: the Rollout says nothing about git.
describe('GitOps with Flux: write-back after an automatic rollback', () => {
  it('bad version committed → Flux applies → rollback → revert committed → Flux applies → Healthy on the old revision, no new release', {
    timeout: 280_000,
  }, async () => {
    const env = sandbox();
    if (!env.GIT_URL || !env.GIT_ROOT)
      throw new Error('the sandbox runs without Flux: start it with --with-flux');
    const ns = await freshNamespace('wbflux');
    const app = await createFluxApp(
      kube().kc,
      { url: env.GIT_URL, root: env.GIT_ROOT },
      { name: ns, path: './apps' },
    );
    onTestFinished(() => app.remove());
    const image = (v: number) => `shop/${ns}:${v}`;
    const objects = failingCanary(ns, image(1));
    const v1 = asYaml(objects);
    await app.commit({ 'apps/web.yaml': v1 }, 'web v1');
    await setLoad(hostOf('web', ns), 60);
    // The sandbox's git server speaks plain http; a real install keeps git to https.
    await startController(ns, {
      args: ['--prometheus-url', env.PROMETHEUS_URL, '--write-back', '--git-allow-http'],
    });
    const first = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy',
      'Flux to apply v1 and it to be stable',
      {
        timeout: 90_000,
      },
    );
    const stable = first.status?.stableRevision;
    expect(first.metadata.labels?.['kustomize.toolkit.fluxcd.io/name']).toBe(ns);

    // The bad version goes to git; only Flux brings it to the cluster.
    await setProfile(image(2), { errorRate: 0.3 });
    await app.commit({ 'apps/web.yaml': asYaml(withImage(objects, image(2))) }, 'web v2');
    const reverted = await waitForRollout(
      ns,
      (r) => r.status?.writeBack?.state === 'Committed',
      'the rollback of v2 to be committed to git',
      { timeout: 150_000 },
    );
    const failed = reverted.status?.writeBack?.revision;
    expect(failed).not.toBe(stable);
    expect(reverted.status?.stableRevision).toBe(stable);
    expect(reverted.status?.history?.at(-1)).toMatchObject({ revision: failed, outcome: 'Aborted' });
    expect(readFileAt(app.bareDir, 'apps/web.yaml')).toBe(v1);
    expect(logSubjects(app.bareDir)).toEqual([
      `sluice: roll back ${ns}/web from ${failed} to ${stable}`,
      'web v2',
      'web v1',
    ]);
    const revert = reverted.status?.writeBack?.commit ?? '';

    // Flux applies the revert (the git host's push webhook asks it to sync): the template is
    // stable's again, and Sluice settles on it.
    await app.sync();
    await waitFor(async () => (await app.kustomization()).status?.lastAppliedRevision?.endsWith(revert), {
      description: `Flux to apply the revert ${revert}`,
      timeout: 90_000,
    });
    // And nothing more happens: another Flux pass starts no release and writes nothing to git.
    const after = await settlesWithoutRelease(ns, {
      stable,
      image: image(1),
      reverted,
      bareDir: app.bareDir,
      async pass() {
        const token = await app.sync();
        await waitFor(async () => (await app.kustomization()).status?.lastHandledReconcileAt === token, {
          description: `Flux to handle the sync requested at ${token}`,
          timeout: 60_000,
        });
      },
    });
    expect(after.status?.history?.at(-1)).toMatchObject({ revision: failed, outcome: 'Aborted' });
  });
});
