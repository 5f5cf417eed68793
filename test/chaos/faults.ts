import { connect, createServer, type Server, type Socket } from 'node:net';
import { onTestFinished } from 'vitest';
import {
  COMPONENTS,
  type ComponentCommand,
  clusterHealthy,
  componentCommand,
  componentPid,
  restartComponent,
  signalComponent,
  startComponent,
} from '../../sandbox/cluster.ts';
import type { Rng } from '../../sandbox/traffic/rng.ts';
import { type ControllerProcess, startController } from '../harness/controller.ts';
import { waitFor } from '../harness/wait.ts';

type StartOptions = Parameters<typeof startController>[1];

export interface KillFigures {
  kills: number;
  /** How long each killed controller had lived, ms: kills land before, during and after sync. */
  lifetimesMs: number[];
}

/**
 * SIGKILLs the controller `kills` times, each after a random 0.3–`maxLifeMs` ms of life
 * (before its informers synced, mid-reconcile, mid-write), starting a fresh one each time, and
 * returns the last one, left running.
 */
export async function killRepeatedly(
  namespace: string,
  opts: { kills: number; rng: Rng; maxLifeMs?: number; start?: StartOptions },
): Promise<{ survivor: ControllerProcess; figures: KillFigures }> {
  const lifetimesMs: number[] = [];
  for (let i = 0; i < opts.kills; i++) {
    const c = await startController(namespace, { ...opts.start, name: `kill-${i}` });
    const started = Date.now();
    const life = 300 + Math.floor(opts.rng.next() * ((opts.maxLifeMs ?? 5000) - 300));
    await waitFor(() => Date.now() - started >= life || c.proc.exitCode !== null, {
      description: `controller ${i} to live ${life} ms`,
      timeout: life + 5000,
      interval: 50,
    });
    if (c.proc.exitCode !== null)
      throw new Error(`controller ${i} exited on its own (${c.proc.exitCode}); log: ${c.logFile}`);
    await c.kill('SIGKILL');
    lifetimesMs.push(Date.now() - started);
  }
  const survivor = await startController(namespace, { ...opts.start, name: 'survivor' });
  return { survivor, figures: { kills: opts.kills, lifetimesMs } };
}

/**
 * kube-controller-manager and kube-scheduler exit when they cannot renew their leader lease (the
 * API server or etcd gone for 10 s), and kwokctl does not restart them. Remembers how every
 * running component was started; `revive()` starts again those that exited since (also when
 * the test ends), so the sandbox stays whole. Returns the names it started.
 */
export function controlPlaneKeeper(): { revive(): string[] } {
  const commands: ComponentCommand[] = COMPONENTS.filter((c) => componentPid(c) !== undefined).map(
    componentCommand,
  );
  const revive = () =>
    commands
      .filter((c) => componentPid(c.component) === undefined)
      .map((c) => {
        startComponent(c);
        return c.component;
      });
  onTestFinished(() => {
    revive();
  });
  return { revive };
}

/** Waits until the API server answers /readyz and the nodes are Ready again; returns how long it took. */
export async function waitClusterHealthy(since: number, timeout = 120_000): Promise<number> {
  await waitFor(() => clusterHealthy(), {
    description: 'the sandbox cluster to be healthy',
    timeout,
    interval: 500,
  });
  return Date.now() - since;
}

/** Crashes kube-apiserver and starts it again; returns ms until it served again. */
export async function restartApiServer(): Promise<number> {
  const started = Date.now();
  await restartComponent('kube-apiserver');
  return waitClusterHealthy(started);
}

/**
 * Freezes etcd with SIGSTOP for `ms`, then thaws it; thawed when the test ends whatever happens,
 * so later suites find a working cluster.
 */
export async function pauseEtcd(ms: number): Promise<void> {
  onTestFinished(() => signalComponent('etcd', 'SIGCONT'));
  signalComponent('etcd', 'SIGSTOP');
  const until = Date.now() + ms;
  await waitFor(() => Date.now() >= until, {
    description: `etcd to stay paused ${ms} ms`,
    timeout: ms + 5000,
  });
  signalComponent('etcd', 'SIGCONT');
}

/**
 * A TCP proxy in front of the API server (TLS passes through untouched). `cut()` resets every
 * open connection, as a load balancer or NAT dropping its table would: each watch ends with a
 * connection error rather than a clean close, and the client has to notice and reconnect.
 */
export class ConnectionCutter {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  cuts = 0;
  /** Client connections accepted so far. */
  accepted = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async start(): Promise<string> {
    const server = createServer((client) => {
      this.accepted++;
      const upstream = connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    this.server = server;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    onTestFinished(() => this.stop());
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('proxy has no port');
    return `https://127.0.0.1:${address.port}`;
  }

  /** Resets every connection open now; returns how many there were. */
  cut(): number {
    const n = this.sockets.size;
    for (const s of this.sockets) s.resetAndDestroy();
    this.sockets.clear();
    this.cuts++;
    return n;
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server = undefined;
  }
}
