import { describe, expect, it } from 'vitest';
import { BASELINE_LABEL } from '../../controller/revision.ts';
import type { Rollout } from '../../crds/index.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { setLoad, setProfile } from '../harness/traffic.ts';
import { waitFor } from '../harness/wait.ts';
import { analysisRuns, hostOf, startAnalysisController } from '../support/analysis.ts';
import {
  apply,
  canaryApp,
  getVirtualService,
  replicaSets,
  selectedRevision,
  setImage,
  waitForRollout,
} from '../support/apps.ts';
import { pendingWrites } from '../support/routes.ts';

// baselineService end to end: a fresh ReplicaSet of the stable's template takes the canary's
// share for the release and compareToStable compares the canary with it, on the real API
// server, Prometheus and the simulator's per-image error profiles.

const routeOf = async (ns: string) =>
  (await getVirtualService(ns)).spec.http?.[0]?.route?.map((d) => `${d.destination.host} ${d.weight}`);

/** Waits for the release to be over (Degraded after an abort, or Healthy on `revision`), the baseline gone. */
async function restsWithoutBaseline(ns: string, done: (r: Rollout) => boolean, description: string) {
  const rollout = await waitForRollout(ns, done, description, { timeout: 150_000 });
  await waitFor(
    async () => {
      const baselines = [...(await replicaSets(ns)).values()].filter(
        (rs) => rs.metadata?.labels?.[BASELINE_LABEL] !== undefined,
      );
      return baselines.length === 0 && (await pendingWrites(ns)).length === 0;
    },
    {
      description: 'the baseline ReplicaSet deleted and nothing left to write to the routes',
      timeout: 30_000,
    },
  );
  // The user's two destinations, as written.
  expect(await routeOf(ns)).toEqual(['web-stable 100', 'web-canary 0']);
  expect(await selectedRevision(ns, 'web-baseline')).toBe(rollout.status?.stableRevision);
  return rollout;
}

describe('a fresh baseline (baselineService)', () => {
  it('takes the canary share beside it; compareToStable rolls back a bad canary and promotes a good one', async () => {
    const ns = await freshNamespace('baseline');
    await setProfile(`shop/${ns}:1`, { errorRate: 0.005 });
    await setProfile(`shop/${ns}:2`, { errorRate: 0.3 });
    await setProfile(`shop/${ns}:3`, { errorRate: 0.005 });
    const baselineService = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web-baseline', namespace: ns },
      spec: { selector: { app: 'web' }, ports: [{ port: 80 }] },
    };
    await apply([
      baselineService,
      ...canaryApp(ns, {
        image: `shop/${ns}:1`,
        steps: [{ setWeight: 30 }, { pause: { duration: '20s' } }],
        canary: {
          baselineService: 'web-baseline',
          analysis: {
            interval: '5s',
            initialDelay: '10s',
            inconclusiveLimit: 30,
            compareToStable: { errors: { maxIncreasePoints: 3 } },
          },
        },
      }),
    ]);
    await setLoad(hostOf('web', ns), 200);
    await startAnalysisController(ns);
    const first = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy',
      'the first revision to be stable',
    );
    const stable = first.status?.stableRevision as string;
    expect(await routeOf(ns)).toEqual(['web-stable 100', 'web-canary 0']);

    await setImage(ns, `shop/${ns}:2`);
    // During the release: three destinations, the baseline with as much as the canary.
    await waitFor(
      async () => {
        const route = await routeOf(ns);
        if (route?.join() === 'web-stable 40,web-canary 30,web-baseline 30') return true;
        throw new Error(JSON.stringify(route));
      },
      { description: 'the VirtualService to give stable 40, canary 30, baseline 30', timeout: 60_000 },
    );
    const baseline = (await replicaSets(ns)).get(`${stable}-baseline`);
    expect(baseline?.metadata?.labels?.[BASELINE_LABEL]).toBe(stable);
    expect(baseline?.spec?.template?.spec?.containers?.[0]?.image).toBe(`shop/${ns}:1`);
    expect(baseline?.spec?.replicas).toBe(2);
    expect(await selectedRevision(ns, 'web-baseline')).toBe(`${stable}-baseline`);
    expect(await selectedRevision(ns, 'web-stable')).toBe(stable);

    const aborted = await restsWithoutBaseline(
      ns,
      (r) => r.status?.phase === 'Degraded' && r.status.abort === true,
      'the bad canary to be rolled back',
    );
    expect(aborted.status?.stableRevision).toBe(stable);
    const failed = (await analysisRuns(ns)).find((r) => r.spec.gate === 'background');
    const compare = failed?.spec.metrics.find((m) => m.name === 'compare-errors');
    expect(compare?.compare).toMatchObject({
      canaryService: 'web-canary',
      stableService: 'web-baseline',
      baseline: true,
    });
    expect(aborted.status?.message).toMatch(
      /compare-errors failed: canary worse than baseline: error increase/,
    );
    const verdict = failed?.status?.metricResults?.find((m) => m.name === 'compare-errors');
    expect(verdict?.phase).toBe('Failed');
    const worse = verdict?.measurements.at(-1)?.comparison;
    expect(worse?.verdict).toBe('worse');
    // The baseline's own requests, at its profile's error rate, not the stable's.
    expect(worse?.stable.requests).toBeGreaterThan(0);
    expect(worse?.stable.value).toBeLessThan(3);

    await setImage(ns, `shop/${ns}:3`);
    const promoted = await restsWithoutBaseline(
      ns,
      (r) => r.status?.phase === 'Healthy' && r.status.stableRevision !== stable,
      'the good canary to be promoted against its baseline',
    );
    expect(promoted.status?.history?.at(-1)?.outcome).toBe('Promoted');
  }, 360_000);
});
