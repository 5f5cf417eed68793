// Version-sticky sessions on the real API server and the traffic simulator's cookie-keeping
// clients: once the weights send a session to the canary it stays there for the rest of the
// release; an abort moves it back to the stable; a promotion keeps it on the version it had.
import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { Rollout } from '../../crds/index.ts';
import { startController } from '../harness/controller.ts';
import { sandbox } from '../harness/env.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { setLoadClasses } from '../harness/traffic.ts';
import { waitFor } from '../harness/wait.ts';
import { hostOf } from '../support/analysis.ts';
import { apply, canaryApp, gatewayApp, kubectlSluice, setImage, waitForRollout } from '../support/apps.ts';
import { pendingWrites } from '../support/routes.ts';

const SESSIONS = 80;
const STEPS = [{ setWeight: 20 }, { pause: {} }] as never;
const affinity = { sessionAffinity: { cookieName: 'web-version', maxAge: '1h' } } as never;

/** Each simulated session's revisions, in the order they answered it. */
async function sessionsOf(host: string): Promise<string[][]> {
  const res = await fetch(`${sandbox().SIMULATOR_URL}/debug/sessions`);
  const body = (await res.json()) as { sessions: { load: { host: string }; seen: string[][] }[] };
  return body.sessions.find((s) => s.load.host === host)?.seen ?? [];
}

/** Sessions that were answered by `from` and later by `to`. */
const crossed = (seen: string[][], from: string, to: string) =>
  seen.filter((s) => s.indexOf(from) >= 0 && s.lastIndexOf(to) > s.indexOf(from));

/** A release paused at 20 %, with many sessions sent to the canary and kept there. */
async function stickyRelease(prefix: string, objects: (ns: string) => KubernetesObject[]) {
  const ns = await freshNamespace(prefix);
  await apply(objects(ns));
  await startController(ns);
  const first = await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');
  const stable = first.status?.stableRevision as string;
  const host = hostOf('web', ns);
  await setLoadClasses(host, [{ rps: 40, sessions: SESSIONS }]);
  await setImage(ns, 'web:2');
  const paused = await waitForRollout(ns, (r) => r.status?.phase === 'Paused', 'the release to rest at 20 %');
  const canary = paused.status?.currentRevision as string;
  // Enough sessions on the canary, each with requests after it, that a 20 % coin per request
  // would have sent nearly all of them back to the stable.
  const seen = await waitFor(
    async () => {
      const s = await sessionsOf(host);
      const onCanary = s.filter((x) => x.includes(canary));
      if (onCanary.length < 15) throw new Error(`${onCanary.length} sessions on the canary so far`);
      return s;
    },
    { description: 'sessions sent to the canary', timeout: 60_000 },
  );
  return { ns, host, stable, canary, seen };
}

function expectStuck(seen: string[][], stable: string, canary: string) {
  expect(crossed(seen, canary, stable)).toEqual([]);
  // Stable sessions do move to the canary as the weights say: that is how it gets its share.
  expect(seen.filter((s) => s.includes(canary)).length).toBeGreaterThanOrEqual(15);
}

describe('sessionAffinity', () => {
  it('Istio: no session goes back from the canary during the release; an abort moves them all back', async () => {
    const { ns, host, stable, canary } = await stickyRelease('sticky-istio', (ns) =>
      canaryApp(ns, { steps: STEPS, canary: affinity }),
    );
    expect(await pendingWrites(ns)).toEqual([]);
    // Keep watching while the release rests: stuck sessions keep coming back to the canary.
    const later = await waitFor(
      async () => {
        const s = await sessionsOf(host);
        if (s.filter((x) => x.includes(canary)).length < 25) throw new Error('waiting for more sessions');
        return s;
      },
      { description: 'more sessions on the canary', timeout: 60_000 },
    );
    expectStuck(later, stable, canary);

    expect((await kubectlSluice(ns, 'abort', 'web')).code).toBe(0);
    await waitForRollout(ns, (r) => r.status?.phase === 'Degraded', 'the abort');
    const back = await waitFor(
      async () => {
        const s = await sessionsOf(host);
        const stuck = s.filter((x) => x.includes(canary) && x.at(-1) !== stable);
        if (stuck.length > 0) throw new Error(`${stuck.length} canary sessions not back yet`);
        return s;
      },
      { description: 'every canary session answered by the stable again', timeout: 60_000 },
    );
    expect(back.filter((s) => s.includes(canary)).length).toBeGreaterThanOrEqual(25);
    await waitFor(async () => JSON.stringify(await pendingWrites(ns)) === '[]', {
      description: 'the sticky route and cookie gone, nothing left to write',
    });
  });

  it('Gateway API: sticky through the release; after promotion no session ever went back to the old version', async () => {
    const { ns, host, stable, canary, seen } = await stickyRelease('sticky-gw', (ns) =>
      gatewayApp(ns, { steps: STEPS, canary: affinity }),
    );
    expectStuck(seen, stable, canary);
    expect(await pendingWrites(ns)).toEqual([]);
    expect((await kubectlSluice(ns, 'promote', 'web')).code).toBe(0);
    await waitForRollout(
      ns,
      (r: Rollout) => r.status?.phase === 'Healthy' && r.status.stableRevision === canary,
      'the promotion',
    );
    const after = await waitFor(
      async () => {
        const s = await sessionsOf(host);
        const old = s.filter((x) => x.at(-1) === stable);
        if (old.length > 0) throw new Error(`${old.length} sessions still last answered by the old version`);
        return s;
      },
      { description: 'every session on the new version', timeout: 60_000 },
    );
    expect(crossed(after, canary, stable)).toEqual([]);
  });
});
