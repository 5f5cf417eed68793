import { PatchStrategy } from '@kubernetes/client-node';
import { describe, expect, it, onTestFinished } from 'vitest';
import { stringify } from 'yaml';
import { patchOptions } from '../../controller/kube/client.ts';
import { runArgoAction } from '../../sandbox/argocd.ts';
import { createArgoApp, documentedSyncSettings } from '../../sandbox/gitops-argocd.ts';
import { startController } from '../harness/controller.ts';
import { kube } from '../harness/kube.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { waitFor } from '../harness/wait.ts';
import { canaryApp, getRollout } from '../support/apps.ts';
import { argoGit, syncedAndHealthy } from '../support/argocd.ts';

// Argo CD's own application controller and repo server (built from upstream, see
// sandbox/argocd.ts) sync from the sandbox's git server. Runs only in `npm run test:argocd`
// (its own vitest project), whose global setup builds Argo CD and starts it.

const configMap = (ns: string, data: Record<string, string>) =>
  stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: ns }, data });

describe('Argo CD in the sandbox', () => {
  it('syncs a ConfigMap from git and reports the Application Synced and Healthy, then self-heals an edit', async () => {
    const git = argoGit();
    const ns = await freshNamespace('argocd');
    const { core, kc } = kube();
    const app = await createArgoApp(
      kc,
      git,
      { name: ns, namespace: ns },
      {
        'apps/settings.yaml': configMap(ns, { greeting: 'hello from git' }),
      },
    );
    onTestFinished(() => app.remove());

    const synced = await waitFor(async () => syncedAndHealthy(await app.application(), app.seed), {
      timeout: 120_000,
      interval: 500,
      description: `Application ${ns} Synced to ${app.seed.slice(0, 7)} and Healthy`,
    });
    expect(synced.status?.resources).toContainEqual(
      expect.objectContaining({ kind: 'ConfigMap', namespace: ns, name: 'settings', status: 'Synced' }),
    );

    const live = await core.readNamespacedConfigMap({ name: 'settings', namespace: ns });
    expect(live.data).toEqual({ greeting: 'hello from git' });
    // Argo CD v3 tracks what it applied by annotation (write-back's discovery reads this).
    expect(live.metadata?.annotations?.['argocd.argoproj.io/tracking-id']).toBe(
      `${ns}:/ConfigMap:${ns}/settings`,
    );

    // A change made outside git: self-heal puts git's version back.
    await core.patchNamespacedConfigMap(
      {
        name: 'settings',
        namespace: ns,
        body: { data: { greeting: 'edited by hand' } },
        fieldManager: 'a-person',
      },
      patchOptions(PatchStrategy.MergePatch),
    );
    await waitFor(
      async () => {
        const cm = await core.readNamespacedConfigMap({ name: 'settings', namespace: ns });
        return cm.data?.greeting === 'hello from git' ? cm : undefined;
      },
      { timeout: 60_000, interval: 500, description: 'self-heal to restore the ConfigMap from git' },
    );

    // A new commit: Argo CD syncs it.
    const next = await app.commit(
      { 'apps/settings.yaml': configMap(ns, { greeting: 'second commit' }) },
      'change',
    );
    await waitFor(async () => syncedAndHealthy(await app.application(), next), {
      timeout: 120_000,
      interval: 500,
      description: `Application ${ns} Synced to ${next.slice(0, 7)}`,
    });
    const after = await core.readNamespacedConfigMap({ name: 'settings', namespace: ns });
    expect(after.data).toEqual({ greeting: 'second commit' });
  });

  it("judges a release with Sluice's Lua health check and runs its actions: Suspended at a pause, promote, abort (Degraded), retry, promote-full", async () => {
    const git = argoGit();
    const ns = await freshNamespace('argocd-health');
    const { kc } = kube();
    const manifests = (image: string) => ({
      'apps/app.yaml': canaryApp(ns, { image, steps: [{ setWeight: 20 }, { pause: {} }] as never })
        .map((o) => stringify(o))
        .join('---\n'),
    });
    const app = await createArgoApp(
      kc,
      git,
      {
        name: ns,
        namespace: ns,
        // The Application as the docs give it: weights are Sluice's while a release runs.
        ...documentedSyncSettings(),
      },
      manifests('web:1'),
    );
    onTestFinished(() => app.remove());
    await startController(ns);

    /**
     * The Application's health once Argo CD computed `want`. Argo CD v3 keeps each resource's
     * health out of the Application (status.resourceHealthSource: appTree), so the Application's
     * own is read: its Services are Healthy and a VirtualService has no health, so anything else
     * is the Rollout's, as Sluice's Lua judged it.
     */
    const health = (want: string, what: string) =>
      waitFor(
        async () => {
          const a = await app.application();
          if (a.status?.health?.status !== want)
            throw new Error(
              JSON.stringify({
                health: a.status?.health,
                sync: a.status?.sync?.status,
                conditions: a.status?.conditions,
              }),
            );
          return a;
        },
        { timeout: 60_000, interval: 500, description: what },
      );

    await waitFor(async () => (await getRollout(ns)).status?.phase === 'Healthy', {
      description: 'Sluice to make the first revision Healthy',
    });
    await health('Healthy', 'the first revision Healthy in Argo CD');

    await app.commit(manifests('web:2'), 'release web:2');
    const paused = await health('Suspended', 'the release at its manual pause: Suspended in Argo CD');
    expect((await getRollout(ns)).status?.phase).toBe('Paused');
    // With the documented ignoreDifferences, what Sluice owns (weights, the Services' revision
    // selector key) is no difference: nothing shows OutOfSync mid-release.
    expect(paused.status?.resources?.filter((r) => r.status !== 'Synced')).toEqual([]);
    // The actions Argo CD offers here, as its discovery Lua says.
    const offered = async () =>
      Object.fromEntries(
        ((await runArgoAction(ns, 'web', 'discover')) as { name: string; disabled?: boolean }[]).map((a) => [
          a.name,
          a.disabled !== true,
        ]),
      );
    expect(await offered()).toEqual({
      promote: true,
      'promote-full': true,
      abort: true,
      retry: false,
      pause: false,
      resume: true,
    });
    // promote, as Argo CD runs it: a status.signals request Sluice carries out.
    expect(await runArgoAction(ns, 'web', 'promote')).toMatchObject({
      status: { signals: { promote: { by: 'argocd' } } },
    });
    await health('Healthy', 'the release promoted by the Argo CD action: Healthy');
    expect((await getRollout(ns)).status?.history?.at(-1)?.outcome).toBe('Promoted');

    await app.commit(manifests('web:3'), 'release web:3');
    await health('Suspended', 'the next release at its pause');
    await runArgoAction(ns, 'web', 'abort');
    await health('Degraded', 'the release aborted by the Argo CD action: Degraded');
    expect((await getRollout(ns)).status?.phase).toBe('Degraded');
    expect(await offered()).toMatchObject({ retry: true, promote: false });

    // retry starts the release again: back to its pause; promote-full then finishes it.
    await runArgoAction(ns, 'web', 'retry');
    await health('Suspended', 'the retried release at its pause again');
    await runArgoAction(ns, 'web', 'promote-full');
    await health('Healthy', 'the release promoted in full by the Argo CD action: Healthy');
    const done = await getRollout(ns);
    expect(done.status?.stableRevision).toBe(done.status?.currentRevision);
  });
});
