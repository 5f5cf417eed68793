// Subset-level routing on the real API server, Prometheus and traffic simulator: the
// DestinationRule's two subsets follow the revisions, the rest of it stays as its author wrote it.
import { describe, expect, it } from 'vitest';
import { requestJson } from '../../controller/kube/client.ts';
import type { DestinationRule } from '../../controller/traffic/destination-rule.ts';
import { startController } from '../harness/controller.ts';
import { kube } from '../harness/kube.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { promQuery } from '../harness/prometheus.ts';
import { setLoad, setProfile } from '../harness/traffic.ts';
import { waitFor } from '../harness/wait.ts';
import { analysisRun, hostOf, startAnalysisController } from '../support/analysis.ts';
import {
  apply,
  canaryWeight,
  condition,
  getRollout,
  kubectlSluice,
  replicaSets,
  setImage,
  subsetApp,
  waitForEvent,
  waitForRollout,
} from '../support/apps.ts';

const REVISION = 'sluice.dev/revision';
const drPath = (ns: string) => `/apis/networking.istio.io/v1/namespaces/${ns}/destinationrules/web`;
const getDr = (ns: string) => requestJson<DestinationRule>(kube().kc, { method: 'GET', path: drPath(ns) });

/** Subset name → the revision Sluice's label selects (undefined: none). */
async function subsetRevisions(ns: string): Promise<Record<string, string | undefined>> {
  const dr = await getDr(ns);
  return Object.fromEntries((dr.spec.subsets ?? []).map((s) => [s.name, s.labels?.[REVISION]]));
}

/** The DestinationRule's spec without Sluice's label: what its author wrote, to compare whole. */
async function authorsPart(ns: string): Promise<unknown> {
  const { spec } = await getDr(ns);
  return {
    ...spec,
    subsets: spec.subsets?.map(({ labels, ...rest }) => {
      const { [REVISION]: _, ...theirs } = labels ?? {};
      return { ...rest, labels: theirs };
    }),
  };
}

const written = (ns: string) =>
  (subsetApp(ns).find((o) => o.kind === 'DestinationRule') as unknown as DestinationRule).spec;

/** A first revision made stable, then a second released to weight 30 and held there. */
async function pausedSubsetRelease(prefix: string) {
  const ns = await freshNamespace(prefix);
  await apply(subsetApp(ns, { image: `shop/${ns}:1`, steps: [{ setWeight: 30 }, { pause: {} }] }));
  await startController(ns);
  const first = await waitForRollout(
    ns,
    (r) => r.status?.phase === 'Healthy',
    'the first revision to be stable',
  );
  const stable = first.status?.stableRevision as string;
  await setImage(ns, `shop/${ns}:2`);
  const paused = await waitForRollout(
    ns,
    (r) => r.status?.phase === 'Paused' && r.status.canary?.weight === 30,
    'the release to rest at weight 30',
  );
  return { ns, stable, canary: paused.status?.currentRevision as string };
}

describe('Istio subset routing (istio.destinationRule)', () => {
  it('points the subsets at the revisions through a release, the rest of the DestinationRule untouched', async () => {
    const { ns, stable, canary } = await pausedSubsetRelease('subsets');
    expect(await subsetRevisions(ns)).toEqual({ stable, canary, debug: undefined });
    expect(await authorsPart(ns)).toEqual(written(ns));
    expect(await canaryWeight(ns)).toBe(30);
    // Each revision's pods carry Istio's canonical revision: the gates' way to tell them apart.
    const pods = await replicaSets(ns);
    for (const [revision, rs] of pods) {
      expect(rs.spec?.template?.metadata?.labels?.['service.istio.io/canonical-revision']).toBe(revision);
    }

    // The simulator sends the canary subset only to the canary's pods, and Prometheus sees it.
    await setLoad(hostOf('web', ns), 40);
    const byRevision = await waitFor(
      async () => {
        const samples = await promQuery(
          `sum by (destination_canonical_revision) (increase(istio_requests_total{destination_service_namespace="${ns}"}[30s]))`,
        );
        const found = Object.fromEntries(
          samples.map((s) => [s.metric.destination_canonical_revision, s.value]),
        );
        if (!(Number(found[canary]) > 0 && Number(found[stable]) > 0)) throw new Error(JSON.stringify(found));
        return found as Record<string, number>;
      },
      { description: 'requests to both revisions in Prometheus', timeout: 90_000 },
    );
    expect(Object.keys(byRevision).sort()).toEqual([canary, stable].sort());

    // A person clears Sluice's label from the canary subset: put back within a reconcile.
    const dr = await getDr(ns);
    await requestJson(kube().kc, {
      method: 'PATCH',
      path: drPath(ns),
      query: { fieldManager: 'argocd' },
      contentType: 'application/json-patch+json',
      body: [{ op: 'replace', path: '/spec/subsets/1/labels', value: { app: 'web' } }],
    });
    await waitFor(
      async () => {
        const now = await getDr(ns);
        return (
          now.metadata.resourceVersion !== dr.metadata.resourceVersion &&
          now.spec.subsets?.[1]?.labels?.[REVISION] === canary
        );
      },
      { description: 'the canary subset to point at the canary again' },
    );

    const promoted = await kubectlSluice(ns, 'promote', 'web');
    expect(promoted.code).toBe(0);
    const done = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy' && r.status.stableRevision === canary,
      'the canary to be promoted',
    );
    expect(done.status?.history?.at(-1)?.outcome).toBe('Promoted');
    expect(await subsetRevisions(ns)).toEqual({ stable: canary, canary, debug: undefined });
    expect(await canaryWeight(ns)).toBe(0);
    expect(await authorsPart(ns)).toEqual(written(ns));
  });

  it('a Rollout deleted mid-release sends everything to the stable revision, by weight and by subset', async () => {
    const { ns, stable } = await pausedSubsetRelease('subsets-del');
    await requestJson(kube().kc, {
      method: 'DELETE',
      path: `/apis/sluice.dev/v1alpha1/namespaces/${ns}/rollouts/web`,
    });
    await waitFor(
      async () => {
        try {
          await getRollout(ns);
          return false;
        } catch {
          return true;
        }
      },
      { description: 'the Rollout to be gone' },
    );
    expect(await canaryWeight(ns)).toBe(0);
    expect(await subsetRevisions(ns)).toEqual({ stable, canary: stable, debug: undefined });
    expect(await authorsPart(ns)).toEqual(written(ns));
  });

  it('stalls naming a missing subset and touches nothing until it is there', async () => {
    const ns = await freshNamespace('subsets-missing');
    const objects = subsetApp(ns);
    const dr = objects.find((o) => o.kind === 'DestinationRule') as unknown as DestinationRule;
    const withoutCanary = {
      ...dr,
      spec: { ...dr.spec, subsets: dr.spec.subsets?.filter((s) => s.name !== 'canary') },
    };
    await apply(objects.map((o) => (o.kind === 'DestinationRule' ? (withoutCanary as never) : o)));
    await startController(ns);
    const stalled = await waitForRollout(
      ns,
      (r) => condition(r, 'Stalled')?.status === 'True',
      'the Rollout to be Stalled',
    );
    expect(condition(stalled, 'Stalled')?.reason).toBe('SubsetNotFound');
    expect(condition(stalled, 'Stalled')?.message).toBe(
      `DestinationRule ${ns}/web: subset 'canary' not found (subsets: stable, debug)`,
    );
    await waitForEvent(ns, 'SubsetNotFound');
    expect((await replicaSets(ns)).size).toBe(0);
    expect(await subsetRevisions(ns)).toEqual({ stable: undefined, debug: undefined });

    await apply([dr as never]);
    const healthy = await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the Rollout to proceed');
    const stable = healthy.status?.stableRevision as string;
    await waitFor(async () => (await subsetRevisions(ns)).canary === stable, {
      description: 'both subsets to select the stable revision',
    });
    expect(await subsetRevisions(ns)).toEqual({ stable, canary: stable, debug: undefined });
  });

  it('a canary failing its requests is rolled back by successRate, read by canonical revision behind one Service', async () => {
    const ns = await freshNamespace('subsets-gate');
    await apply(
      subsetApp(ns, {
        image: `shop/${ns}:1`,
        // At 10 % a canary failing 30 % leaves the Service as a whole at 97 %, above the gate's
        // 95: only a gate that reads the canary's own requests can catch it.
        steps: [{ setWeight: 10 }, { pause: { duration: '5m' } }],
        canary: {
          analysis: { interval: '2s', initialDelay: '6s', successRate: { min: 95 } } as never,
        },
      }),
    );
    await setLoad(hostOf('web', ns), 60);
    await setProfile(`shop/${ns}:2`, { errorRate: 0.3 });
    await startAnalysisController(ns);
    const first = await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');
    const stable = first.status?.stableRevision as string;
    await setImage(ns, `shop/${ns}:2`);
    const running = await waitForRollout(
      ns,
      (r) => r.status?.backgroundAnalysis !== undefined && r.status.currentRevision !== stable,
      'background analysis to start',
    );
    const canary = running.status?.currentRevision as string;
    const run = await analysisRun(ns, running.status?.backgroundAnalysis?.name as string);
    expect(run.spec.metrics[0]?.absolute).toMatchObject({ canaryRevision: canary, stableRevision: stable });

    const aborted = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Degraded',
      'the failing canary to be rolled back',
      { timeout: 120_000 },
    );
    expect(aborted.status?.stableRevision).toBe(stable);
    expect(aborted.status?.message ?? '').toMatch(/success/i);
    await waitFor(
      async () => (await canaryWeight(ns)) === 0 && (await subsetRevisions(ns)).canary === stable,
      {
        description: 'weight 0 and the canary subset back on the stable',
      },
    );
    expect(await authorsPart(ns)).toEqual(written(ns));
  });
});
