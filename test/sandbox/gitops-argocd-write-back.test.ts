import { describe, expect, it, onTestFinished } from 'vitest';
import { ARGO_TRACKING_ANNOTATION } from '../../controller/write-back/discover.ts';
import { logSubjects, readFileAt } from '../../sandbox/git/repo.ts';
import { createArgoApp, documentedSyncSettings } from '../../sandbox/gitops-argocd.ts';
import { startController } from '../harness/controller.ts';
import { sandbox } from '../harness/env.ts';
import { kube } from '../harness/kube.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { setLoad, setProfile } from '../harness/traffic.ts';
import { waitFor } from '../harness/wait.ts';
import { hostOf } from '../support/analysis.ts';
import { events, waitForRollout } from '../support/apps.ts';
import { argoGit, syncedAndHealthy } from '../support/argocd.ts';
import { asYaml, failingCanary, settlesWithoutRelease, withImage } from '../support/write-back.ts';

// Real Argo CD (application controller + repo server) syncs a repository on the sandbox's git
// server through an Application set up as examples/argocd/application.yaml says. The Rollout
// asks for write-back and names no repository: the controller has to find it from Argo CD's
// tracking annotation on the live Rollout, through the Application, as docs/gitops.md says.
describe('GitOps with Argo CD: write-back after an automatic rollback', () => {
  it('bad version committed → Argo CD syncs → rollback → revert found through the Application and committed → Argo CD syncs it → Synced and Healthy on the old revision, no new release', {
    timeout: 300_000,
  }, async () => {
    const git = argoGit();
    const ns = await freshNamespace('wbargo');
    const image = (v: number) => `shop/${ns}:${v}`;
    const objects = failingCanary(ns, image(1), 'web', { enabled: true });
    const v1 = asYaml(objects);
    const app = await createArgoApp(
      kube().kc,
      git,
      { name: ns, namespace: ns, path: 'apps', selfHeal: true, ...documentedSyncSettings() },
      { 'apps/web.yaml': v1 },
    );
    onTestFinished(() => app.remove());
    await setLoad(hostOf('web', ns), 60);
    // The sandbox's git server speaks plain http on loopback; a real install keeps git to https.
    const controller = await startController(ns, {
      args: ['--prometheus-url', sandbox().PROMETHEUS_URL, '--git-allow-http'],
    });

    const first = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy',
      'Argo CD to apply v1 and it to be stable',
      { timeout: 120_000 },
    );
    const stable = first.status?.stableRevision;
    await waitFor(async () => syncedAndHealthy(await app.application(), app.seed), {
      description: `Application ${ns} Synced to the first commit and Healthy`,
      timeout: 60_000,
      interval: 500,
    });
    // Git says nothing of where it lives: only Argo CD's annotation, which Argo CD wrote.
    expect(v1).not.toContain('argocd.argoproj.io');
    expect(first.spec.writeBack).toEqual({ enabled: true });
    expect(first.metadata.labels?.['kustomize.toolkit.fluxcd.io/name']).toBeUndefined();
    expect(first.metadata.annotations?.[ARGO_TRACKING_ANNOTATION]).toBe(`${ns}:sluice.dev/Rollout:${ns}/web`);
    const managed = (first.metadata as { managedFields?: { manager?: string; fieldsV1?: unknown }[] })
      .managedFields;
    const annotatedBy = (managed ?? [])
      .filter((f) => JSON.stringify(f.fieldsV1 ?? {}).includes(`f:${ARGO_TRACKING_ANNOTATION}`))
      .map((f) => f.manager);
    expect(annotatedBy).toEqual(['argocd-controller']);

    // The bad version goes to git; only Argo CD brings it to the cluster.
    await setProfile(image(2), { errorRate: 0.3 });
    await app.commit({ 'apps/web.yaml': asYaml(withImage(objects, image(2))) }, 'web v2');
    const reverted = await waitForRollout(
      ns,
      (r) => r.status?.writeBack !== undefined,
      'the rollback of v2 to be written back to git',
      { timeout: 180_000 },
    );
    expect(reverted.status?.writeBack?.state, reverted.status?.writeBack?.message).toBe('Committed');
    const failed = reverted.status?.writeBack?.revision;
    const revert = reverted.status?.writeBack?.commit ?? '';
    expect(failed).not.toBe(stable);
    expect(reverted.status?.stableRevision).toBe(stable);
    expect(reverted.status?.history?.at(-1)).toMatchObject({ revision: failed, outcome: 'Aborted' });
    expect(reverted.status?.history?.at(-1)?.reason).toMatch(/success/i);
    // Where it committed is the Application's spec.source: its repoURL, path and targetRevision.
    expect(reverted.status?.writeBack?.message).toContain(
      `Committed ${revert.slice(0, 12)} to ${app.url} apps (branch main)`,
    );
    const committed = (await events(ns)).find((e) => e.reason === 'WriteBackCommitted');
    expect(committed?.note).toBe(reverted.status?.writeBack?.message);
    expect(readFileAt(app.bareDir, 'apps/web.yaml')).toBe(v1);
    expect(logSubjects(app.bareDir)).toEqual([
      `sluice: roll back ${ns}/web from ${failed} to ${stable}`,
      'web v2',
      `${ns}: first commit`,
    ]);
    expect(controller.lines().filter((l) => l.level === 40 && String(l.msg).includes('write-back'))).toEqual(
      [],
    );

    // Argo CD syncs the revert (the git host's push webhook asks it to refresh): the template is
    // stable's again, and Sluice settles on it.
    await app.refresh();
    const synced = await waitFor(async () => syncedAndHealthy(await app.application(), revert), {
      description: `Application ${ns} Synced to Sluice's revert ${revert.slice(0, 7)} and Healthy`,
      timeout: 120_000,
      interval: 500,
    });
    expect(synced.status?.resources?.filter((r) => r.status !== 'Synced')).toEqual([]);
    // And nothing more happens: another Argo CD pass starts no release and writes nothing to git.
    await settlesWithoutRelease(ns, {
      stable,
      image: image(1),
      reverted,
      bareDir: app.bareDir,
      async pass() {
        await app.refresh();
        await waitFor(
          async () => {
            const a = await app.application();
            return a.metadata.annotations?.['argocd.argoproj.io/refresh'] === undefined
              ? syncedAndHealthy(a, revert)
              : undefined;
          },
          { description: `Argo CD to handle the refresh of ${ns}`, timeout: 60_000, interval: 500 },
        );
      },
    });
  });
});
