import { describe, expect, it } from 'vitest';
import type { AnalysisRun } from '../../crds/index.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { setLoad, setProfile } from '../harness/traffic.ts';
import { waitFor } from '../harness/wait.ts';
import { analysisRun, analysisRuns, hostOf, startAnalysisController } from '../support/analysis.ts';
import {
  apply,
  canaryApp,
  canaryWeight,
  events,
  kubectlSluice,
  recordWeights,
  setImage,
  waitForEvent,
  waitForRollout,
} from '../support/apps.ts';

// A pause must not mean "keep serving whatever the canary does": while a release is paused, for
// a person or for a gate that could not decide, the background gate keeps measuring the traffic
// the canary still has, and a failing look rolls it back. Short windows over the sandbox's 1 s
// scrape keep these quick; initialDelay lets the canary take a window of traffic first.
const background = { interval: '3s', initialDelay: '4s', successRate: { min: 95 } };

/** A canary Rollout held at `pause: {}` after `weight`, stable on its first revision. */
async function heldRelease(prefix: string, weight: number, rps: number | undefined) {
  const ns = await freshNamespace(prefix);
  const image = (v: number) => `shop/${ns}:${v}`;
  await apply(
    canaryApp(ns, {
      image: image(1),
      steps: [{ setWeight: weight }, { pause: {} }] as never,
      canary: { analysis: background as never },
    }),
  );
  if (rps !== undefined) await setLoad(hostOf('web', ns), rps);
  await startAnalysisController(ns);
  const first = await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');
  return { ns, image, stable: first.status?.stableRevision };
}

/** The rollback a failing background look causes, checked where traffic and people see it. */
async function expectRolledBack(ns: string, stable: string | undefined, failedRun: string) {
  const aborted = await waitForRollout(
    ns,
    (r) => r.status?.phase === 'Degraded' && r.status.abort === true,
    'the bad canary to be rolled back while paused',
    { timeout: 90_000 },
  );
  expect(aborted.status?.stableRevision).toBe(stable);
  expect(aborted.status?.canary?.weight).toBe(0);
  expect(await canaryWeight(ns)).toBe(0);
  expect(aborted.status?.message).toMatch(/success-rate/);
  expect(aborted.status?.history?.at(-1)?.outcome).toBe('Aborted');
  const run = await analysisRun(ns, failedRun);
  expect(run.status?.phase).toBe('Failed');
  const warning = (await events(ns)).find((e) => e.reason === 'ReleaseAborted');
  expect(warning?.type).toBe('Warning');
  expect(warning?.note).toMatch(/success-rate/);
}

describe('a paused release stays watched by its background gate', () => {
  it('held at a `pause: {}` step for a person, a canary that turns bad is rolled back', async () => {
    const { ns, image, stable } = await heldRelease('pz-step', 30, 60);
    const weights = await recordWeights(ns);
    await setImage(ns, image(2));
    const held = await waitForRollout(
      ns,
      (r) =>
        r.status?.phase === 'Paused' &&
        r.status.pause?.reason === 'Step' &&
        r.status.backgroundAnalysis?.phase === 'Running',
      'the release to wait for a person at its pause step, its background gate measuring',
    );
    expect(await canaryWeight(ns)).toBe(30);
    const watching = held.status?.backgroundAnalysis?.name ?? '';

    // The canary goes bad while nobody is looking.
    await setProfile(image(2), { errorRate: 0.3 });
    await expectRolledBack(ns, stable, watching);
    expect(weights()).toContain(30);
    expect(weights().at(-1)).toBe(0);
  });

  it('paused with `kubectl sluice pause`, a canary that turns bad is rolled back', async () => {
    const { ns, image, stable } = await heldRelease('pz-cli', 30, 60);
    await setImage(ns, image(2));
    const measuring = await waitForRollout(
      ns,
      (r) => r.status?.backgroundAnalysis?.phase === 'Running',
      'the background gate to be measuring',
    );
    expect((await kubectlSluice(ns, 'pause', 'web')).code).toBe(0);
    await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Paused' && r.status.pause?.reason === 'Manual',
      'the release to be paused by a person',
    );
    await setProfile(image(2), { errorRate: 0.3 });
    await expectRolledBack(ns, stable, measuring.status?.backgroundAnalysis?.name ?? '');
  });

  it('paused undecided (no traffic yet), a canary that then gets traffic and fails is rolled back', async () => {
    // No load at all for this host yet: the background gate finds no data.
    const { ns, image, stable } = await heldRelease('pz-idle', 50, undefined);
    await setImage(ns, image(2));
    const paused = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Paused' && r.status.pause?.reason === 'Inconclusive',
      'the idle canary to pause undecided',
    );
    expect(paused.status?.pause?.message).toMatch(/no data/);
    expect(await canaryWeight(ns)).toBe(50); // paused, not aborted: the canary keeps its share
    const watch = paused.status?.backgroundAnalysis?.name ?? '';
    const original = watch.replace(/-r1$/, '');
    expect(watch).toBe(`${original}-r1`);
    expect((await analysisRun(ns, original)).status?.phase).toBe('Inconclusive');
    expect((await waitForEvent(ns, 'WatchingWhilePaused')).note).toContain(watch);

    // The watch outlasts looks that find nothing: the undecided look that ended the first run
    // does not end it, and the release stays paused for a person meanwhile.
    const idle = await waitFor(
      async () => {
        const run = await analysisRun(ns, watch);
        const looks = run.status?.metricResults?.[0]?.measurements ?? [];
        const empty = looks.filter((m) => m.absolute?.verdict === 'tooFewRequests');
        return empty.length >= 2 ? run : undefined;
      },
      { description: `the watch ${watch} to take two looks without data`, timeout: 60_000 },
    );
    // Still watching, and honest about it: nothing it measured passed, so it is Pending, not Running.
    expect(idle.status?.phase).toBe('Pending');
    expect((await waitForRollout(ns, () => true, 'the Rollout')).status?.phase).toBe('Paused');

    // Now traffic arrives, and the canary fails a third of it.
    await setProfile(image(2), { errorRate: 0.3 });
    await setLoad(hostOf('web', ns), 60);
    await expectRolledBack(ns, stable, watch);
    const runs: AnalysisRun[] = await analysisRuns(ns);
    expect(
      runs
        .filter((r) => r.spec.gate === 'background')
        .map((r) => r.metadata.name)
        .sort(),
    ).toEqual([original, watch]);
  });
});
