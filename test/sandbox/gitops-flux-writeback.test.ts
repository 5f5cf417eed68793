import { describe, expect, it } from 'vitest';
import { requestJson } from '../../controller/kube/client.ts';
import { commitFiles, createBareRepo, logSubjects, readFileAt } from '../../sandbox/git/repo.ts';
import { startController } from '../harness/controller.ts';
import { sandbox } from '../harness/env.ts';
import { kube } from '../harness/kube.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { setLoad, setProfile } from '../harness/traffic.ts';
import { waitFor } from '../harness/wait.ts';
import { analysisRuns, hostOf } from '../support/analysis.ts';
import { apply, getRollout, waitForRollout } from '../support/apps.ts';
import { asYaml, failingCanary, withImage } from '../support/write-back.ts';

interface Kustomization {
  metadata: { annotations?: Record<string, string> };
  status?: { lastAppliedRevision?: string; lastHandledReconcileAt?: string };
}

const kustomizationPath = (ns: string) =>
  `/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/${ns}/kustomizations/shop`;
const getKustomization = (ns: string) =>
  requestJson<Kustomization>(kube().kc, { method: 'GET', path: kustomizationPath(ns) });

/** Asks Flux to reconcile now (as `flux reconcile` does) and waits until it has. */
async function reconcileFlux(ns: string): Promise<Kustomization> {
  const at = new Date().toISOString();
  await requestJson(kube().kc, {
    method: 'PATCH',
    path: kustomizationPath(ns),
    contentType: 'application/merge-patch+json',
    body: { metadata: { annotations: { 'reconcile.fluxcd.io/requestedAt': at } } },
  });
  return waitFor(
    async () => {
      const k = await getKustomization(ns);
      return k.status?.lastHandledReconcileAt === at ? k : undefined;
    },
    { description: `Flux to handle the reconcile requested at ${at}`, timeout: 60_000 },
  );
}

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
    const bare = createBareRepo(env.GIT_ROOT, ns);
    const url = `${env.GIT_URL}/${ns}.git`;
    const image = (v: number) => `shop/${ns}:${v}`;
    const objects = failingCanary(ns, image(1));
    const v1 = asYaml(objects);
    await commitFiles(url, { 'apps/web.yaml': v1 }, 'web v1');
    await apply([
      {
        apiVersion: 'source.toolkit.fluxcd.io/v1',
        kind: 'GitRepository',
        metadata: { name: 'shop', namespace: ns },
        spec: { url, ref: { branch: 'main' }, interval: '10s' },
      } as never,
      {
        apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
        kind: 'Kustomization',
        metadata: { name: 'shop', namespace: ns },
        spec: {
          interval: '10s',
          path: './apps',
          prune: true,
          wait: true,
          timeout: '30s',
          sourceRef: { kind: 'GitRepository', name: 'shop' },
        },
      } as never,
    ]);
    await setLoad(hostOf('web', ns), 60);
    await startController(ns, { args: ['--prometheus-url', env.PROMETHEUS_URL, '--write-back'] });
    const first = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy',
      'Flux to apply v1 and it to be stable',
      {
        timeout: 90_000,
      },
    );
    const stable = first.status?.stableRevision;
    expect(first.metadata.labels?.['kustomize.toolkit.fluxcd.io/name']).toBe('shop');

    // The bad version goes to git; only Flux brings it to the cluster.
    await setProfile(image(2), { errorRate: 0.3 });
    await commitFiles(url, { 'apps/web.yaml': asYaml(withImage(objects, image(2))) }, 'web v2');
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
    expect(readFileAt(bare, 'apps/web.yaml')).toBe(v1);
    expect(logSubjects(bare)).toEqual([
      `sluice: roll back ${ns}/web from ${failed} to ${stable}`,
      'web v2',
      'web v1',
    ]);
    const revert = reverted.status?.writeBack?.commit ?? '';

    // Flux applies the revert: the template is stable's again, and Sluice settles on it.
    await waitFor(async () => (await getKustomization(ns)).status?.lastAppliedRevision?.endsWith(revert), {
      description: `Flux to apply the revert ${revert}`,
      timeout: 90_000,
    });
    const settled = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy' && r.status.currentRevision === stable,
      'the Rollout to be Healthy on the old revision',
      { timeout: 60_000 },
    );
    expect(settled.spec.template.spec.containers[0]?.image).toBe(image(1));
    expect(settled.status?.stableRevision).toBe(stable);

    // And nothing more happens: another Flux pass starts no release and writes nothing to git.
    const runs = (await analysisRuns(ns)).length;
    const history = settled.status?.history?.length;
    await reconcileFlux(ns);
    const after = await getRollout(ns);
    expect(after.status).toMatchObject({ phase: 'Healthy', currentRevision: stable, stableRevision: stable });
    expect(after.status?.history?.length).toBe(history);
    expect(after.status?.writeBack).toEqual(reverted.status?.writeBack);
    expect((await analysisRuns(ns)).length).toBe(runs);
    expect(logSubjects(bare)).toHaveLength(3);
    expect(after.status?.history?.at(-1)).toMatchObject({ revision: failed, outcome: 'Aborted' });
  });
});
