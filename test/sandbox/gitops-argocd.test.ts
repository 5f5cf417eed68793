import { type KubernetesObject, PatchStrategy } from '@kubernetes/client-node';
import { describe, expect, it, onTestFinished } from 'vitest';
import { stringify } from 'yaml';
import { patchOptions } from '../../controller/kube/client.ts';
import { kubeSource, ResilientInformer } from '../../controller/kube/informer.ts';
import { ARGOCD_NAMESPACE, runArgoAction } from '../../sandbox/argocd.ts';
import {
  type Application,
  type ArgoApp,
  createArgoApp,
  documentedSyncSettings,
} from '../../sandbox/gitops-argocd.ts';
import { kube } from '../harness/kube.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { setLoad, setProfile } from '../harness/traffic.ts';
import { waitFor } from '../harness/wait.ts';
import { hostOf, startAnalysisController } from '../support/analysis.ts';
import {
  type CanaryAppOptions,
  canaryApp,
  canaryWeight,
  getRollout,
  recordWeightChanges,
} from '../support/apps.ts';
import { argoGit, syncedAndHealthy } from '../support/argocd.ts';

// Argo CD's own application controller and repo server (built from upstream, see
// sandbox/argocd.ts) sync from the sandbox's git server. Runs only in `npm run test:argocd`
// (its own vitest project), whose global setup builds Argo CD and starts it.

const configMap = (ns: string, data: Record<string, string>) =>
  stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: ns }, data });

/** The canary app's manifests as one file of the repository Argo CD syncs. */
const appFiles = (ns: string, o: CanaryAppOptions) => ({
  'apps/app.yaml': canaryApp(ns, o)
    .map((obj) => stringify(obj))
    .join('---\n'),
});

/**
 * An app delivered by an Argo CD Application (`files(first)` is git's first commit) and the
 * controller releasing it. `documented: false` leaves out the documented ignoreDifferences
 * (server-side apply stays), to measure what they prevent.
 */
async function argoApp<V>(
  prefix: string,
  o: { files: (ns: string, v: V) => Record<string, string>; first: V; documented?: boolean },
) {
  const git = argoGit();
  const ns = await freshNamespace(prefix);
  const { kc } = kube();
  const app = await createArgoApp(
    kc,
    git,
    {
      name: ns,
      namespace: ns,
      // The Application as the docs give it: weights are Sluice's while a release runs.
      ...(o.documented === false ? { syncOptions: ['ServerSideApply=true'] } : documentedSyncSettings()),
    },
    o.files(ns, o.first),
  );
  onTestFinished(() => app.remove());
  await startAnalysisController(ns);

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
  return { ns, app, health, commit: (v: V, message: string) => app.commit(o.files(ns, v), message) };
}

/** A canary app through Argo CD, its first revision Healthy in Sluice and in Argo CD. */
async function argoCanary(
  prefix: string,
  o: { steps: unknown[]; canary?: CanaryAppOptions['canary']; documented?: boolean },
) {
  const delivered = await argoApp(prefix, {
    files: (ns, image: string) => appFiles(ns, { image, steps: o.steps as never, canary: o.canary }),
    first: 'web:1',
    documented: o.documented,
  });
  await waitFor(async () => (await getRollout(delivered.ns)).status?.phase === 'Healthy', {
    description: 'Sluice to make the first revision Healthy',
  });
  await delivered.health('Healthy', 'the first revision Healthy in Argo CD');
  return { ...delivered, release: (image: string) => delivered.commit(image, `release ${image}`) };
}

/** The actions Argo CD offers for the Rollout now, as its discovery Lua says: name → enabled. */
const offered = async (ns: string) =>
  Object.fromEntries(
    ((await runArgoAction(ns, 'web', 'discover')) as { name: string; disabled?: boolean }[]).map((a) => [
      a.name,
      a.disabled !== true,
    ]),
  );

/** The distinct health statuses the Application went through, in order, from a watch. */
async function recordHealth(name: string): Promise<() => (string | undefined)[]> {
  const seen: (string | undefined)[] = [];
  const informer = new ResilientInformer<Application & KubernetesObject>(
    kubeSource(kube().kc, `/apis/argoproj.io/v1alpha1/namespaces/${ARGOCD_NAMESPACE}/applications`),
    { name: 'test-applications' },
  );
  informer.onChange((a) => {
    if (a.metadata?.name !== name) return;
    const status = a.status?.health?.status;
    if (seen.at(-1) !== status) seen.push(status);
  });
  informer.start();
  await informer.waitForSync();
  onTestFinished(() => informer.stop());
  return () => [...seen];
}

/** The sync a person asks for (`argocd app sync`), once Argo CD has finished it. */
async function syncNow(app: ArgoApp, by: string): Promise<Application> {
  await app.sync(by);
  return waitFor(
    async () => {
      const a = await app.application();
      const op = a.status?.operationState;
      if (op?.operation?.initiatedBy?.username === by && op.phase === 'Succeeded') return a;
      throw new Error(
        JSON.stringify({ phase: op?.phase, by: op?.operation?.initiatedBy, message: op?.message }),
      );
    },
    { timeout: 60_000, interval: 500, description: `the sync ${by} asked for to finish` },
  );
}

const revisionSelectors = async (ns: string) => {
  const { core } = kube();
  return Promise.all(
    ['web-stable', 'web-canary'].map(
      async (name) =>
        (await core.readNamespacedService({ name, namespace: ns })).spec?.selector?.['sluice.dev/revision'],
    ),
  );
};

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
    const { ns, health, release } = await argoCanary('argocd-health', {
      steps: [{ setWeight: 20 }, { pause: {} }],
    });

    await release('web:2');
    const paused = await health('Suspended', 'the release at its manual pause: Suspended in Argo CD');
    expect((await getRollout(ns)).status?.phase).toBe('Paused');
    // With the documented ignoreDifferences, what Sluice owns (weights, the Services' revision
    // selector key) is no difference: nothing shows OutOfSync mid-release.
    expect(paused.status?.resources?.filter((r) => r.status !== 'Synced')).toEqual([]);
    expect(await offered(ns)).toEqual({
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

    await release('web:3');
    await health('Suspended', 'the next release at its pause');
    await runArgoAction(ns, 'web', 'abort');
    await health('Degraded', 'the release aborted by the Argo CD action: Degraded');
    expect((await getRollout(ns)).status?.phase).toBe('Degraded');
    expect(await offered(ns)).toMatchObject({ retry: true, promote: false });

    // retry starts the release again: back to its pause; promote-full then finishes it.
    await runArgoAction(ns, 'web', 'retry');
    await health('Suspended', 'the retried release at its pause again');
    await runArgoAction(ns, 'web', 'promote-full');
    await health('Healthy', 'the release promoted in full by the Argo CD action: Healthy');
    const done = await getRollout(ns);
    expect(done.status?.stableRevision).toBe(done.status?.currentRevision);
  });

  it("a Rollout Sluice cannot act on is Degraded in Argo CD with Sluice's reason, and Healthy once git fixes it", async () => {
    // The VirtualService the Rollout names is left out of git: Sluice stalls and touches nothing.
    const { ns, health, commit } = await argoApp('argocd-stalled', {
      files: (ns, withVs: boolean) => appFiles(ns, { image: 'web:1', virtualService: withVs }),
      first: false,
    });
    await health('Degraded', 'the stalled Rollout Degraded in Argo CD');
    // Degraded from the Stalled condition (Sluice's Lua reads it): the release never started.
    const stalled = await getRollout(ns);
    expect(stalled.status?.conditions?.find((c) => c.type === 'Stalled')).toMatchObject({
      status: 'True',
      message: expect.stringMatching(/VirtualService/),
    });
    expect(stalled.status?.phase).not.toBe('Degraded');

    await commit(true, 'add the VirtualService');
    await health('Healthy', 'the Rollout Healthy once git holds its VirtualService');
    expect((await getRollout(ns)).status?.phase).toBe('Healthy');
  });

  it('a canary its gate rolls back is Degraded in Argo CD, as Argo CD computed it', async () => {
    const { ns, app, health, release } = await argoCanary('argocd-rollback', {
      steps: [{ setWeight: 20 }, { pause: { duration: '10m' } }],
      canary: { analysis: { interval: '2s', successRate: { min: 95 } } as never },
    });
    const bad = `shop/${ns}:2`;
    await setProfile(bad, { errorRate: 0.5 });
    await setLoad(hostOf('web', ns), 30);
    const healths = await recordHealth(app.name);

    await release(bad);
    await health('Degraded', 'the canary rolled back by its gate: Degraded in Argo CD');
    const r = await getRollout(ns);
    expect(r.status?.phase).toBe('Degraded');
    expect(r.status?.history?.at(-1)?.outcome).toBe('Aborted');
    expect(r.status?.history?.at(-1)?.reason).toMatch(/success/i);
    expect(await canaryWeight(ns)).toBe(0);
    // Healthy before the release, then the release (Suspended at its timed pause, or Progressing),
    // then Degraded: every state a watch saw, repeats collapsed.
    const states = healths();
    expect(states[0]).toBe('Healthy');
    expect(states.at(-1)).toBe('Degraded');
    expect(states.slice(1, -1).every((h) => h === 'Suspended' || h === 'Progressing')).toBe(true);
  });

  it('pause and resume from Argo CD: Progressing while a gate measures, Suspended when paused, Progressing again, Healthy', async () => {
    // A step gate with many looks keeps the release Progressing (not paused) for minutes.
    const { ns, app, health, release } = await argoCanary('argocd-pause', {
      steps: [{ setWeight: 20 }, { analysis: { interval: '3s', count: 100, successRate: { min: 50 } } }],
    });
    await setLoad(hostOf('web', ns), 20);
    const healths = await recordHealth(app.name);

    await release('web:2');
    await waitFor(
      async () => {
        const r = await getRollout(ns);
        return r.status?.phase === 'Progressing' && r.status.analysis !== undefined;
      },
      { description: 'the release measuring at its step gate' },
    );
    await health('Progressing', 'the release at its gate: Progressing in Argo CD');
    expect(await offered(ns)).toMatchObject({ pause: true, resume: false, promote: true, abort: true });

    expect(await runArgoAction(ns, 'web', 'pause')).toMatchObject({
      status: { signals: { pause: { by: 'argocd' } } },
    });
    await health('Suspended', 'the release paused by the Argo CD action: Suspended');
    const paused = await getRollout(ns);
    expect(paused.status?.phase).toBe('Paused');
    expect(paused.status?.pause?.reason).toBe('Manual');
    expect(paused.status?.canary?.weight).toBe(20);
    expect(await offered(ns)).toMatchObject({ pause: false, resume: true });

    expect(await runArgoAction(ns, 'web', 'resume')).toMatchObject({
      status: { signals: { resume: { by: 'argocd' } } },
    });
    await health('Progressing', 'the release resumed by the Argo CD action: Progressing');
    const resumed = await getRollout(ns);
    expect(resumed.status?.pause).toBeUndefined();
    expect(resumed.status?.currentStepIndex).toBe(1);

    await runArgoAction(ns, 'web', 'promote-full');
    await health('Healthy', 'the release promoted in full: Healthy');
    // Every state, in order, as Argo CD computed it (a watch sees each; repeats collapsed).
    const states = healths();
    const order = ['Progressing', 'Suspended', 'Progressing', 'Healthy'];
    let at = 0;
    for (const want of order) {
      at = states.indexOf(want, at);
      expect(at, `${want} in ${JSON.stringify(states)}`).toBeGreaterThanOrEqual(0);
      at += 1;
    }
  });

  it('a sync during a release leaves the weights and Services alone with the documented ignoreDifferences', async () => {
    const { ns, app, health, release } = await argoCanary('argocd-sync', {
      steps: [{ setWeight: 20 }, { pause: {} }],
    });
    const weights = await recordWeightChanges(ns);
    await release('web:2');
    await health('Suspended', 'the release at its pause');
    const before = await revisionSelectors(ns);
    expect(before.every((r) => r !== undefined)).toBe(true);

    const synced = await syncNow(app, 'a-person');
    expect(synced.status?.sync?.status).toBe('Synced');
    // Traffic saw nothing but Sluice's weights, and the Services kept their revision keys.
    expect(weights().map((w) => w.weight)).toEqual([0, 20]);
    expect(await revisionSelectors(ns)).toEqual(before);
    const r = await getRollout(ns);
    expect(r.status?.phase).toBe('Paused');
    expect(r.status?.currentStepIndex).toBe(1);
  });

  it('without the documented ignoreDifferences, self-heal fights Sluice over the weights: the damage, measured', async () => {
    const { ns, app, health, release } = await argoCanary('argocd-fight', {
      steps: [{ setWeight: 20 }, { pause: {} }],
      documented: false,
    });
    const weights = await recordWeightChanges(ns);
    await release('web:2');
    await health('Suspended', 'the release at its pause');
    const pausedAt = Date.now();
    // Self-heal sees the weights differ from git, syncs git's 0% back, and Sluice restores 20%
    // from its VirtualService watch; Argo CD's self-heal backoff spaces the rounds out.
    const window = 60_000;
    await waitFor(() => Date.now() - pausedAt >= window, {
      description: 'a minute of self-heal against Sluice',
      timeout: window + 5_000,
      interval: 1000,
    });
    const during = weights().filter((w) => w.at >= pausedAt - 5_000);
    const resets = during.filter((w) => w.weight === 0).length;
    let atZeroMs = 0;
    for (const [i, w] of during.entries())
      if (w.weight === 0) atZeroMs += (during[i + 1]?.at ?? Date.now()) - w.at;
    const a = await app.application();
    console.log(
      `argocd self-heal without ignoreDifferences over ${window / 1000}s: ${resets} weight resets to 0%, ${atZeroMs} ms at 0%, Application ${a.status?.sync?.status}, selectors ${JSON.stringify(await revisionSelectors(ns))}`,
    );
    expect(resets).toBeGreaterThanOrEqual(1);
    // Sluice won every round: the canary is back at its weight, the release still paused.
    expect(await canaryWeight(ns)).toBe(20);
    expect((await getRollout(ns)).status?.phase).toBe('Paused');
  });
});
