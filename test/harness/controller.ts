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
  const token = await kube().core.createNamespacedServiceAccountToken({
    name: 'sluice',
    namespace: CONTROLLER_NAMESPACE,
    body: { spec: { expirationSeconds: 24 * 3600, audiences: [] } },
  });
  const kc = kube().kc;
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('sandbox kubeconfig has no cluster');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'sandbox', cluster: { server: cluster.server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'sluice', user: { token: token.status?.token } }],
    contexts: [
      { name: 'sluice', context: { cluster: 'sandbox', user: 'sluice', namespace: CONTROLLER_NAMESPACE } },
    ],
    'current-context': 'sluice',
  };
  const dir = join(env.SANDBOX_LOGS, '..');
  kubeconfigPath = join(dir, 'controller-kubeconfig.json');
  writeFileSync(kubeconfigPath, JSON.stringify(config));
  return kubeconfigPath;
}

/** The same credentials pointed at another address (a proxy in front of the API server). */
function viaServer(kubeconfig: string, server: string): string {
  const config = JSON.parse(readFileSync(kubeconfig, 'utf8'));
  config.clusters[0].cluster.server = server;
  const file = kubeconfig.replace(/\.json$/, `-${server.replace(/\W+/g, '_')}.json`);
  writeFileSync(file, JSON.stringify(config));
  return file;
}

export interface ControllerProcess {
  proc: ChildProcess;
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
  } = {},
): Promise<ControllerProcess> {
  const kubeconfig = await controllerKubeconfig(opts.server);
  const env = sandbox();
  mkdirSync(env.SANDBOX_LOGS, { recursive: true });
  const logFile = join(env.SANDBOX_LOGS, `controller-${namespace}-${opts.name ?? ++started}.log`);
  const out = createWriteStream(logFile);
  const proc = spawn(
    process.execPath,
    [
      opts.entry ?? join(ROOT, 'bin/sluice.js'),
      'controller',
      '--kubeconfig',
      kubeconfig,
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
    { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
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
    async kill(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
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
