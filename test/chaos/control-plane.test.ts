import { describe, expect, it } from 'vitest';
import { PORTS } from '../../sandbox/config.ts';
import { type ControllerProcess, startController } from '../harness/controller.ts';
import { sandbox } from '../harness/env.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { waitFor } from '../harness/wait.ts';
import { ReleaseChecker } from './checker.ts';
import {
  ConnectionCutter,
  controlPlaneKeeper,
  pauseEtcd,
  restartApiServer,
  waitClusterHealthy,
} from './faults.ts';
import {
  deployFleet,
  firstRevisions,
  type Member,
  promoteManuals,
  releaseFleet,
  waitForMeasuredTraffic,
} from './fleet.ts';
import { recordFigures } from './profile.ts';

/** A fleet released through one fault; returns what the scenario needs to finish and judge it. */
async function releaseThrough(
  prefix: string,
  fault: (controller: ControllerProcess) => Promise<Record<string, unknown>>,
  opts: { server?: string } = {},
) {
  const ns = await freshNamespace(prefix);
  const checker = new ReleaseChecker(ns);
  await checker.start();
  // Background gates with a 30 s hold: the fault lands while every release is mid-flight.
  const members: Member[] = await deployFleet(ns, {
    promote: 3,
    abort: 2,
    manual: 1,
    gate: 'background',
    holdSeconds: 30,
  });
  const controller = await startController(ns, {
    args: ['--prometheus-url', sandbox().PROMETHEUS_URL],
    server: opts.server,
  });
  const stable = await firstRevisions(ns, members);
  await releaseFleet(ns, members, stable, checker);
  const promoted = promoteManuals(ns, members, stable, checker).then(
    () => undefined,
    (err: unknown) => err,
  );
  await waitForMeasuredTraffic(ns, members);
  const keeper = controlPlaneKeeper();
  const figures = await fault(controller);
  // Components that gave up during the fault exit a moment later: look twice.
  const revived = keeper.revive();
  const settleAt = Date.now() + 5_000;
  await waitFor(() => Date.now() >= settleAt, { description: 'components to settle', timeout: 10_000 });
  revived.push(...keeper.revive());
  const promoteError = await promoted;
  if (promoteError) throw promoteError;
  const breaches = await checker.settle(240_000);
  // The same process lived through the fault: it recovered rather than being restarted.
  expect(controller.proc.exitCode).toBeNull();
  const ready = await fetch(`http://127.0.0.1:${await controller.healthPort()}/readyz`);
  recordFigures(prefix, { ...figures, componentsRestartedAfter: revived, ...checker.figures() });
  return { breaches, controller, ready: ready.status };
}

/** Log lines in which an informer re-listed after losing its watch (not the routine resync). */
const informerRestarts = (c: ControllerProcess) =>
  c.lines().filter((l) => l.msg === 'informer restarting' && l.reason !== 'periodic resync');

describe('the control plane fails under a release', () => {
  it('kube-apiserver crashes and restarts mid-release: informers recover, nothing stays stuck', async () => {
    const { breaches, ready, controller } = await releaseThrough('chaos-apiserver', async () => {
      const recoveryMs = await restartApiServer();
      return { apiServerRecoveryMs: recoveryMs };
    });
    expect(breaches).toEqual([]);
    expect(ready).toBe(200);
    expect(informerRestarts(controller).length).toBeGreaterThan(0);
  });

  it('etcd paused for 20 s mid-release: the controller waits it out and finishes every release', async () => {
    const { breaches, ready } = await releaseThrough('chaos-etcd', async () => {
      const started = Date.now();
      await pauseEtcd(20_000);
      const recoveryMs = await waitClusterHealthy(started);
      return { etcdPausedMs: 20_000, apiServerHealthyAfterMs: recoveryMs };
    });
    expect(breaches).toEqual([]);
    expect(ready).toBe(200);
  });

  it('every watch connection cut, twice, mid-release: informers reconnect, nothing stays stuck', async () => {
    const cutter = new ConnectionCutter({ host: '127.0.0.1', port: PORTS.apiserver });
    const server = await cutter.start();
    const { breaches, ready, controller } = await releaseThrough(
      'chaos-watch',
      async () => {
        const connectionsCut: number[] = [];
        for (let i = 0; i < 2; i++) {
          connectionsCut.push(cutter.cut());
          const accepted = cutter.accepted;
          // Reconnected: new connections through the proxy, and the informers re-listed.
          await waitFor(() => cutter.accepted > accepted, {
            description: `the controller to reconnect after cut ${i + 1}`,
            timeout: 60_000,
          });
          // Let the release move on between cuts.
          const until = Date.now() + 5_000;
          await waitFor(() => Date.now() >= until, { description: '5 s between cuts', timeout: 10_000 });
        }
        return { connectionsCut };
      },
      { server },
    );
    expect(breaches).toEqual([]);
    expect(ready).toBe(200);
    expect(informerRestarts(controller).length).toBeGreaterThan(0);
  });
});
