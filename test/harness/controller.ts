import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { ROOT } from '../support/fixtures.ts';
import { sandbox } from './env.ts';
import { kube } from './kube.ts';
import { waitFor } from './wait.ts';

const CONTROLLER_NAMESPACE = 'sluice-system';
let kubeconfigPath: string | undefined;

/**
 * A kubeconfig for deploy/'s ServiceAccount: the controller under test runs with exactly the
 * ClusterRole it ships with, never as admin, so a missing RBAC rule fails a test here first.
 */
export async function controllerKubeconfig(server?: string): Promise<string> {
  if (server) return viaServer(await controllerKubeconfig(), server);
  if (kubeconfigPath) return kubeconfigPath;
  const env = sandbox();
  for (const file of ['deploy/namespace.yaml', 'deploy/rbac.yaml']) {
    execFileSync(
      env.KUBECTL,
      ['apply', '--server-side', '-n', CONTROLLER_NAMESPACE, '-f', join(ROOT, file)],
      {
        env: { ...process.env, KUBECONFIG: env.KUBECONFIG },
        stdio: 'pipe',
      },
    );
  }
  kubeconfigPath = await serviceAccountKubeconfig(CONTROLLER_NAMESPACE, 'sluice', 24 * 3600);
  return kubeconfigPath;
}

/**
 * A kubeconfig that signs in with a token of ServiceAccount `name` in `namespace`, as a pod of
 * it or a person holding its token would: whatever runs with it has exactly that account's rights.
 */
export async function serviceAccountKubeconfig(
  namespace: string,
  name: string,
  seconds = 600,
): Promise<string> {
  const token = await kube().core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { expirationSeconds: seconds, audiences: [] } },
  });
  const cluster = kube().kc.getCurrentCluster();
  if (!cluster) throw new Error('sandbox kubeconfig has no cluster');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'sandbox', cluster: { server: cluster.server, 'insecure-skip-tls-verify': true } }],
    users: [{ name, user: { token: token.status?.token } }],
    contexts: [{ name, context: { cluster: 'sandbox', user: name, namespace } }],
    'current-context': name,
  };
  const file = join(sandbox().SANDBOX_LOGS, '..', `kubeconfig-${namespace}-${name}.json`);
  writeFileSync(file, JSON.stringify(config));
  return file;
}

/** The same credentials pointed at another address (a proxy in front of the API server). */
function viaServer(kubeconfig: string, server: string): string {
  const config = JSON.parse(readFileSync(kubeconfig, 'utf8'));
  config.clusters[0].cluster.server = server;
  const file = kubeconfig.replace(/\.json$/, `-${server.replace(/\W+/g, '_')}.json`);
  writeFileSync(file, JSON.stringify(config));
  return file;
}

/** A started `sluice`: its process, and how to signal the controller itself. */
export interface Launched {
  proc: ChildProcess;
  /** The controller's pid as this host sees it (a wrapper's child, when something wraps it). */
  pid(): Promise<number>;
  signal(signal: NodeJS.Signals): void;
}

/**
 * How `sluice` is started: `args` are its arguments ('controller' first) once told where the
 * kubeconfig is as the program sees it; `env` is what the test adds to the program's environment.
 * startController owns everything else (log, ports, clean-up), whichever way the program runs.
 */
export type Launcher = (run: {
  args: (kubeconfig: string) => string[];
  kubeconfig: string;
  env: Record<string, string>;
}) => Launched;

/** The host's Node running `entry` (the sources through tsx by default, or a bundle), with this process's environment. */
export const onHost =
  (entry = join(ROOT, 'bin/sluice.js')): Launcher =>
  ({ args, kubeconfig, env }) => {
    const proc = spawn(process.execPath, [entry, ...args(kubeconfig)], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return {
      proc,
      async pid() {
        if (proc.pid === undefined) throw new Error(`${process.execPath} ${entry} did not start`);
        return proc.pid;
      },
      signal: (signal) => proc.kill(signal),
    };
  };

export interface ControllerProcess {
  proc: ChildProcess;
  /** The controller's own pid on this host. */
  pid(): Promise<number>;
  logFile: string;
  /** Lines the controller logged so far, parsed. */
  lines(): Record<string, unknown>[];
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  metricsPort(): Promise<number>;
  healthPort(): Promise<number>;
}

let started = 0;

/** Runs `sluice controller` as a child process for one namespace; stopped when the test ends. */
export async function startController(
  namespace: string,
  opts: {
    args?: string[];
    env?: Record<string, string>;
    name?: string;
    /** The replica's name in the Lease and in Events' reportingInstance (`--identity`). */
    identity?: string;
    /** Reach the API server at this URL instead (a proxy that can cut connections). */
    server?: string;
    /** The program to run instead of bin/sluice.js (the bundle, as the image runs it). */
    entry?: string;
    /** Start it some other way than the host's Node (inside the image's filesystem: image.ts). */
    launcher?: Launcher;
    /** Sign in with these credentials instead of deploy/'s ServiceAccount (a chart's, say). */
    kubeconfig?: string;
  } = {},
): Promise<ControllerProcess> {
  const kubeconfig = opts.kubeconfig ?? (await controllerKubeconfig(opts.server));
  const env = sandbox();
  mkdirSync(env.SANDBOX_LOGS, { recursive: true });
  const logFile = join(env.SANDBOX_LOGS, `controller-${namespace}-${opts.name ?? ++started}.log`);
  const out = createWriteStream(logFile);
  const launch = opts.launcher ?? onHost(opts.entry);
  const launched = launch({
    kubeconfig,
    env: opts.env ?? {},
    args: (seenAt) => [
      'controller',
      '--kubeconfig',
      seenAt,
      '--namespace',
      namespace,
      '--metrics-addr',
      '127.0.0.1:0',
      '--health-addr',
      '127.0.0.1:0',
      '--log-level',
      'debug',
      ...(opts.identity ? ['--identity', opts.identity] : []),
      ...(opts.args ?? []),
    ],
  });
  const { proc } = launched;
  proc.stdout?.pipe(out);
  proc.stderr?.pipe(out);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const lines = () =>
    readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const port = (key: string) =>
    waitFor(() => lines().find((l) => typeof l[key] === 'number')?.[key] as number | undefined, {
      description: `the controller to log its ${key} (log: ${logFile})`,
      // Starting Node and tsx takes seconds; on a machine shared by many test runs, tens of seconds.
      timeout: 90_000,
    });
  const handle: ControllerProcess = {
    proc,
    logFile,
    lines,
    pid: () => launched.pid(),
    async kill(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) launched.signal(signal);
      return exited;
    },
    metricsPort: () => port('metricsPort'),
    healthPort: () => port('healthPort'),
  };
  onTestFinished(async () => {
    await handle.kill('SIGKILL');
  });
  return handle;
}
