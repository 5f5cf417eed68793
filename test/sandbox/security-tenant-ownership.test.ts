// A namespace tenant tries to make Sluice adopt what is not its Rollout's: a gate's run made
// beforehand with a forged verdict, a ReplicaSet under the name Sluice will use, another app's
// Service named as canaryService. The controller runs under deploy/'s ServiceAccount, so these
// tests also prove the trimmed ClusterRole is enough for what they exercise.
import { execFileSync } from 'node:child_process';
import type { V1ReplicaSet } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { requestJson } from '../../controller/kube/client.ts';
import { REVISION_LABEL, ROLLOUT_LABEL, revisionOf } from '../../controller/revision.ts';
import { replicaSetName } from '../../controller/workload.ts';
import type { AnalysisRun, Rollout } from '../../crds/index.ts';
import { templateOf } from '../../crds/spec.ts';
import { runName } from '../../machines/gates.ts';
import { controllerKubeconfig, startController } from '../harness/controller.ts';
import { sandbox } from '../harness/env.ts';
import { kube } from '../harness/kube.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { waitFor } from '../harness/wait.ts';
import { analysisRun, createObject } from '../support/analysis.ts';
import {
  apply,
  canaryApp,
  condition,
  events,
  getRollout,
  getService,
  getVirtualService,
  kubectlSluice,
  replicasOfRevision,
  selectedRevision,
  setImage,
  waitForEvent,
  waitForRollout,
} from '../support/apps.ts';
import { ROOT } from '../support/fixtures.ts';

const runsPath = (ns: string) => `/apis/sluice.dev/v1alpha1/namespaces/${ns}/analysisruns`;

/** The revision `image` will have: the stored template with only the image changed. */
async function nextRevision(ns: string, image: string): Promise<string> {
  const template = structuredClone(templateOf((await getRollout(ns)).spec));
  (template.spec.containers[0] as { image?: string }).image = image;
  return revisionOf(template);
}

const stalledWith = (reason: string) => (r: Rollout) => condition(r, 'Stalled')?.reason === reason;

describe('ownership: what the Rollout does not control is never adopted or rewritten', () => {
  it('a run pre-created under the gate name with a forged Successful verdict is not adopted; the real gate decides', async () => {
    const ns = await freshNamespace('own-run');
    // The real gate fails (vector(1) is not 2): adopting the forged run is the only way to pass.
    await createObject(`/apis/sluice.dev/v1alpha1/namespaces/${ns}/analysistemplates`, {
      apiVersion: 'sluice.dev/v1alpha1',
      kind: 'AnalysisTemplate',
      metadata: { name: 'probe' },
      spec: {
        metrics: [
          {
            name: 'probe',
            count: 1,
            successCondition: 'result == 2',
            failureCondition: 'result < 2',
            provider: { prometheus: { query: 'vector(1)' } },
          },
        ],
      },
    });
    await apply(
      canaryApp(ns, {
        replicas: 1,
        steps: [
          { setWeight: 20 },
          { analysis: { templates: [{ templateName: 'probe' }] } },
          { pause: {} },
        ] as never,
      }),
    );

    // The tenant knows how names are built: rollout, revision, gate, step, attempt. The run is
    // made, verdict and all, before the controller starts, so nothing of Sluice's races it.
    const revision = await nextRevision(ns, 'web:2');
    const name = runName(
      { rollout: 'web', currentRevision: revision, attempt: 0, gateRestarts: 0 } as never,
      'step',
      1,
    );
    const forged = {
      apiVersion: 'sluice.dev/v1alpha1',
      kind: 'AnalysisRun',
      metadata: { name, namespace: ns, labels: { [ROLLOUT_LABEL]: 'web', 'sluice.dev/gate': 'step' } },
      spec: {
        rollout: 'web',
        revision,
        gate: 'step',
        stepIndex: 1,
        metrics: [
          {
            name: 'probe',
            count: 1,
            successCondition: 'result == 2',
            provider: { prometheus: { query: 'vector(2)' } },
          },
        ],
      },
    };
    await createObject(runsPath(ns), forged);
    const created = await analysisRun(ns, name);
    const at = new Date().toISOString();
    const verdict = {
      phase: 'Successful',
      message: 'all good',
      startedAt: at,
      finishedAt: at,
      metricResults: [
        {
          name: 'probe',
          phase: 'Successful',
          count: 1,
          successful: 1,
          failed: 0,
          inconclusive: 0,
          error: 0,
          consecutiveError: 0,
          measurements: [{ phase: 'Successful', value: '2', startedAt: at, finishedAt: at }],
        },
      ],
    };
    await requestJson(kube().kc, {
      method: 'PUT',
      path: `${runsPath(ns)}/${name}/status`,
      body: { ...created, status: verdict },
    });
    const before = await analysisRun(ns, name);
    expect(before.status?.phase).toBe('Successful');

    await startController(ns, { args: ['--prometheus-url', sandbox().PROMETHEUS_URL] });
    await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision to be stable');
    await setImage(ns, 'web:2');
    const paused = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Paused' && r.status.pause?.reason === 'AnalysisError',
      'the release to pause on a run it does not own',
    );
    expect(paused.status?.currentRevision).toBe(revision);
    expect(paused.status?.currentStepIndex).toBe(1);
    expect(paused.status?.pause?.message).toContain(
      `AnalysisRun ${ns}/${name} is not owned by Rollout web (uid ${paused.metadata.uid}): it has no controller ownerReference`,
    );
    const warning = await waitForEvent(ns, 'AnalysisRunNotOwned');
    expect(warning.type).toBe('Warning');
    expect(warning.note).toContain(`AnalysisRun ${ns}/${name} is not owned`);
    // Neither adopted nor rewritten: the forged object is exactly as the tenant left it.
    const after = await analysisRun(ns, name);
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(after.spec.terminate).toBeUndefined();
    expect((await getRollout(ns)).status?.stableRevision).not.toBe(revision);

    // Resumed, the gate runs again under a new name: Sluice's own run, whose verdict (a failure) decides.
    expect((await kubectlSluice(ns, 'resume', 'web')).code).toBe(0);
    const aborted = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Degraded',
      'the real gate, run by Sluice, to fail the release',
    );
    const ours = await waitFor(
      async () =>
        (
          await requestJson<{ items: AnalysisRun[] }>(kube().kc, { method: 'GET', path: runsPath(ns) })
        ).items.find((r) => r.metadata.name !== name && r.spec.gate === 'step'),
      { description: "Sluice's own run of the gate" },
    );
    expect(ours.metadata.name).toBe(`${name}-r1`);
    expect((ours.metadata.ownerReferences as { uid?: string }[] | undefined)?.[0]?.uid).toBe(
      aborted.metadata.uid,
    );
    expect(ours.status?.phase).toBe('Failed');
    expect(aborted.status?.stableRevision).not.toBe(revision);
  });

  it('a ReplicaSet under the name and labels of the next revision, not owned by the Rollout, is never scaled nor given traffic', async () => {
    const ns = await freshNamespace('own-rs');
    await apply(canaryApp(ns, { replicas: 1, steps: [{ setWeight: 20 }, { pause: {} }] }));
    await startController(ns);
    const stable = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy',
      'the first revision to be stable',
    );

    // Pods labelled as the canary's would be: were Sluice to adopt this, the canary Service would send them traffic.
    const revision = await nextRevision(ns, 'web:2');
    const labels = { app: 'web', [REVISION_LABEL]: revision };
    const decoy: V1ReplicaSet = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: replicaSetName('web', revision),
        namespace: ns,
        labels: { ...labels, [ROLLOUT_LABEL]: 'web' },
      },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: { containers: [{ name: 'app', image: 'tenant/impostor:1' }] },
        },
      },
    };
    const made = await kube().apps.createNamespacedReplicaSet({ namespace: ns, body: decoy });

    await setImage(ns, 'web:2');
    const stalled = await waitForRollout(
      ns,
      stalledWith('ReplicaSetNotOwned'),
      'the release to stall on the decoy',
    );
    expect(condition(stalled, 'Stalled')?.message).toContain(
      `ReplicaSet ${ns}/${decoy.metadata?.name} is not owned by Rollout web (uid ${stalled.metadata.uid}): it has no controller ownerReference. Sluice does not scale it or send traffic to it`,
    );
    expect(stalled.status?.message).toBe(condition(stalled, 'Stalled')?.message);
    expect((await waitForEvent(ns, 'ReplicaSetNotOwned')).type).toBe('Warning');
    const untouched = await kube().apps.readNamespacedReplicaSet({
      namespace: ns,
      name: decoy.metadata?.name ?? '',
    });
    expect(untouched.spec?.replicas).toBe(1);
    expect(untouched.metadata?.generation).toBe(made.metadata?.generation);
    expect(untouched.metadata?.ownerReferences).toBeUndefined();
    expect(await selectedRevision(ns, 'web-canary')).not.toBe(revision);
    expect((await getVirtualService(ns)).spec.http?.[0]?.route?.[1]?.weight).toBe(0);

    // Gone, the name is free: Sluice creates its own ReplicaSet and the release goes on.
    await kube().apps.deleteNamespacedReplicaSet({ namespace: ns, name: decoy.metadata?.name ?? '' });
    await waitForRollout(
      ns,
      (r) =>
        r.status?.phase === 'Paused' &&
        r.status.canary?.weight === 20 &&
        r.status.currentRevision === revision,
      'the release to go on with its own ReplicaSet',
    );
    const own = await kube().apps.readNamespacedReplicaSet({
      namespace: ns,
      name: decoy.metadata?.name ?? '',
    });
    expect(own.metadata?.ownerReferences?.[0]?.uid).toBe(stable.metadata.uid);
    expect(await replicasOfRevision(ns, revision)).toBe(1);
  });

  it("another app's Service named as canaryService is refused with a message, and its selector is left as it was", async () => {
    const ns = await freshNamespace('own-svc');
    await kube().core.createNamespacedService({
      namespace: ns,
      body: {
        metadata: { name: 'payments', namespace: ns },
        spec: { selector: { app: 'payments' }, ports: [{ port: 80 }] },
      },
    });
    await apply(canaryApp(ns, { replicas: 1, canary: { canaryService: 'payments' } }));
    await startController(ns);

    const stalled = await waitForRollout(
      ns,
      stalledWith('ServiceNotOwned'),
      'the Rollout to stall on the Service',
    );
    expect(condition(stalled, 'Stalled')?.message).toBe(
      `Service ${ns}/payments (spec.strategy.canary.canaryService): its selector app=payments does not select ` +
        "this Rollout's pods (labels app=web); Sluice will not rewrite the selector of a Service that is not this Rollout's",
    );
    const warning = await waitForEvent(ns, 'ServiceNotOwned');
    expect(warning.type).toBe('Warning');
    expect((await getService(ns, 'payments')).spec?.selector).toEqual({ app: 'payments' });
    // Nothing was started either: references are checked before anything is touched.
    expect((await kube().apps.listNamespacedReplicaSet({ namespace: ns })).items).toHaveLength(0);

    // Pointed at its own Service, the same Rollout releases normally.
    await requestJson(kube().kc, {
      method: 'PATCH',
      path: `/apis/sluice.dev/v1alpha1/namespaces/${ns}/rollouts/web`,
      contentType: 'application/merge-patch+json',
      body: { spec: { strategy: { canary: { canaryService: 'web-canary' } } } },
    });
    await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the corrected Rollout to become Healthy');
    expect((await getService(ns, 'payments')).spec?.selector).toEqual({ app: 'payments' });
    expect((await events(ns)).filter((e) => e.reason === 'ServiceNotOwned').length).toBeGreaterThan(0);
  });
});

describe("deploy/'s trimmed grants", () => {
  const kubectl = (...args: string[]) =>
    execFileSync(sandbox().KUBECTL, args, {
      cwd: ROOT,
      env: { ...process.env, KUBECONFIG: sandbox().KUBECONFIG },
      encoding: 'utf8',
      stdio: 'pipe',
    });
  const can = (verb: string, resource: string) => {
    const [kind, sub] = resource.split('/');
    const args = ['auth', 'can-i', verb, kind ?? '', '-A', '--as=system:serviceaccount:sluice-system:sluice'];
    try {
      return kubectl(...args, ...(sub ? [`--subresource=${sub}`] : [])).trim();
    } catch (err) {
      return String((err as { stdout?: string }).stdout ?? '').trim();
    }
  };

  it('grant the ServiceAccount what the controller writes and nothing it never uses', async () => {
    await controllerKubeconfig(); // applies deploy/rbac.yaml, as every controller test does
    const granted: [string, string][] = [
      ['patch', 'services'],
      ['create', 'replicasets.apps'],
      ['patch', 'replicasets.apps'],
      ['patch', 'virtualservices.networking.istio.io'],
      // Subset routing: the sluice.dev/revision label of the two subsets a Rollout names.
      ['patch', 'destinationrules.networking.istio.io'],
      ['watch', 'destinationrules.networking.istio.io'],
      // Gateway API routing: the backendRef weights of the rules a Rollout names.
      ['patch', 'httproutes.gateway.networking.k8s.io'],
      ['watch', 'grpcroutes.gateway.networking.k8s.io'],
      // The default metrics of a gate: which data plane a route's Gateways run on.
      ['get', 'gateways.gateway.networking.k8s.io'],
      ['get', 'gatewayclasses.gateway.networking.k8s.io'],
      ['delete', 'analysisruns.sluice.dev'],
      ['update', 'rollouts.sluice.dev/status'],
      // Old revisions beyond revisionHistoryLimit, only ReplicaSets the Rollout controls.
      ['delete', 'replicasets.apps'],
      // canaryMetadata / stableMetadata on its pods; a restart lists them and evicts one at a time.
      ['list', 'pods'],
      ['patch', 'pods'],
      ['create', 'pods/eviction'],
      // A workloadRef Deployment: its template read, its replicas scaled as scaleDown says.
      ['watch', 'deployments.apps'],
      ['patch', 'deployments.apps'],
    ];
    for (const [verb, resource] of granted) {
      expect(can(verb, resource), `${verb} ${resource}`).toBe('yes');
    }
    const refused: [string, string][] = [
      ['get', 'pods'],
      ['watch', 'pods'],
      ['delete', 'pods'],
      ['delete', 'deployments.apps'],
      ['update', 'deployments.apps'],
      ['update', 'destinationrules.networking.istio.io'],
      ['delete', 'destinationrules.networking.istio.io'],
      ['update', 'httproutes.gateway.networking.k8s.io'],
      ['create', 'httproutes.gateway.networking.k8s.io'],
      ['patch', 'gateways.gateway.networking.k8s.io'],
      ['list', 'gateways.gateway.networking.k8s.io'],
      ['update', 'gatewayclasses.gateway.networking.k8s.io'],
      ['update', 'replicasets.apps'],
      ['update', 'rollouts.sluice.dev'],
      ['get', 'secrets'],
    ];
    for (const [verb, resource] of refused) {
      expect(can(verb, resource), `${verb} ${resource}`).toBe('no');
    }
  });

  it('ship an egress NetworkPolicy the API server accepts (the sandbox has no network plugin to enforce it)', () => {
    const out = kubectl('apply', '-k', 'deploy/', '--dry-run=server');
    expect(out).toContain('networkpolicy.networking.k8s.io/sluice-controller-egress');
  });
});
