// The two controllers under test, each a child process with its own ServiceAccount (so the API
// server's audit log tells their requests apart) and default settings, watching one namespace.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { requestJson } from '../../controller/kube/client.ts';
import { PATHS, PORTS } from '../../sandbox/config.ts';
import type { SandboxEnv } from '../../sandbox/lifecycle.ts';

export type ControllerName = 'sluice' | 'argo';

export const ARGO_VERSION = process.env.ARGO_ROLLOUTS_VERSION ?? 'v1.9.3';
const argoDir = () =>
  join(process.env.SLUICE_CACHE ?? join(homedir(), '.cache', 'sluice'), `argo-rollouts-${ARGO_VERSION}`);
export const argoBinary = () => join(argoDir(), 'rollouts-controller');

export const ACCOUNTS: Record<ControllerName, { namespace: string; name: string }> = {
  sluice: { namespace: 'sluice-system', name: 'sluice' },
  argo: { namespace: 'argo-rollouts', name: 'argo-rollouts' },
};
export const userOf = (c: ControllerName) =>
  `system:serviceaccount:${ACCOUNTS[c].namespace}:${ACCOUNTS[c].name}`;

function kubectlApply(env: SandboxEnv, args: string[], input?: string) {
  execFileSync(env.KUBECTL, ['apply', '--server-side', '--force-conflicts', ...args], {
    env: { ...process.env, KUBECONFIG: env.KUBECONFIG },
    input,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Sluice's RBAC from deploy/; Argo Rollouts' CRDs and ClusterRole from its own module's manifests. */
export function installAccounts(env: SandboxEnv, controllers: ControllerName[]): void {
  if (controllers.includes('sluice')) {
    for (const f of ['deploy/namespace.yaml', 'deploy/rbac.yaml'])
      kubectlApply(env, ['-n', ACCOUNTS.sluice.namespace, '-f', join(PATHS.repo, f)]);
  }
  if (controllers.includes('argo')) {
    if (!existsSync(argoBinary()))
      throw new Error(`Argo Rollouts is not built: run sandbox/build.sh argo-rollouts (${argoBinary()})`);
    kubectlApply(env, ['-f', join(argoDir(), 'crds')]);
    const { namespace, name } = ACCOUNTS.argo;
    const clusterRole = join(argoDir(), 'role', 'argo-rollouts-clusterrole.yaml');
    kubectlApply(env, ['-f', clusterRole]);
    const objects = [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'argo-rollouts-bench' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'argo-rollouts' },
        subjects: [{ kind: 'ServiceAccount', name, namespace }],
      },
    ];
    kubectlApply(env, ['-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
    execFileSync(
      env.KUBECTL,
      [
        'wait',
        '--for=condition=Established',
        '--timeout=60s',
        'crd/rollouts.argoproj.io',
        'crd/analysisruns.argoproj.io',
      ],
      { env: { ...process.env, KUBECONFIG: env.KUBECONFIG }, stdio: 'pipe' },
    );
  }
}

/** A kubeconfig holding a token of the controller's ServiceAccount, its context in `namespace`. */
export async function accountKubeconfig(
  kc: KubeConfig,
  c: ControllerName,
  namespace: string,
): Promise<string> {
  const { namespace: saNs, name } = ACCOUNTS[c];
  const token = await requestJson<{ status?: { token?: string } }>(kc, {
    method: 'POST',
    path: `/api/v1/namespaces/${saNs}/serviceaccounts/${name}/token`,
    body: {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: 86400 },
    },
  });
  const server = kc.getCurrentCluster()?.server;
  const file = join(PATHS.state, `bench-scale-${c}-kubeconfig.json`);
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'sandbox', cluster: { server, 'insecure-skip-tls-verify': true } }],
      users: [{ name, user: { token: token.status?.token } }],
      contexts: [{ name, context: { cluster: 'sandbox', user: name, namespace } }],
      'current-context': name,
    }),
  );
  return file;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

export interface RunningController {
  name: ControllerName;
  proc: ChildProcess;
  pid: number;
  logFile: string;
  metricsUrl: string;
  stop(): Promise<void>;
}

/** Starts one controller with its defaults (workers, QPS, log level), watching `namespace`. */
/**
 * How Sluice runs: `bundle` is dist/sluice.mjs (`npm run build`, what the image ships), `tsx`
 * is bin/sluice.js transpiling on the fly (development).
 */
export type SluiceRuntime = 'bundle' | 'tsx';

export async function startController(
  c: ControllerName,
  kubeconfig: string,
  namespace: string,
  prometheusUrl: string,
  sluiceRuntime: SluiceRuntime = 'bundle',
): Promise<RunningController> {
  const metricsPort = PORTS.controllerMetrics;
  const logFile = join(PATHS.logs, `bench-scale-${c}.log`);
  const [cmd, args] =
    c === 'sluice'
      ? [
          process.execPath,
          [
            // For profiling Sluice under the bench: e.g. `--cpu-prof --cpu-prof-dir=.sandbox/prof`.
            ...(process.env.BENCH_SCALE_NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
            join(PATHS.repo, sluiceRuntime === 'bundle' ? 'dist/sluice.mjs' : 'bin/sluice.js'),
            'controller',
            '--kubeconfig',
            kubeconfig,
            '--namespace',
            namespace,
            '--prometheus-url',
            prometheusUrl,
            '--metrics-addr',
            `127.0.0.1:${metricsPort}`,
            '--health-addr',
            '127.0.0.1:0',
          ],
        ]
      : [
          argoBinary(),
          [
            '--kubeconfig',
            kubeconfig,
            '--namespaced',
            '--leader-elect=false',
            `--metricsPort=${metricsPort}`,
            `--healthzPort=${await freePort()}`,
            '--logformat=json',
          ],
        ];
  // Straight to a file: through a pipe to this (busy) process, a controller's synchronous log
  // writes would block on a full pipe and be measured as its own slowness.
  const out = openSync(logFile, 'w');
  const proc = spawn(cmd as string, args as string[], {
    stdio: ['ignore', out, out],
    env: {
      ...process.env,
      ARGO_ROLLOUTS_NAMESPACE: ACCOUNTS.argo.namespace,
    },
  });
  closeSync(out);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  if (proc.pid === undefined) throw new Error(`${c} did not start`);
  return {
    name: c,
    proc,
    pid: proc.pid,
    logFile,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Argo Rollouts logs every reconcile's duration ("Reconciliation completed", time_ms): exact values. */
export function argoReconcileMs(logText: string): number[] {
  const out: number[] = [];
  for (const line of logText.split('\n')) {
    if (!line.includes('Reconciliation completed')) continue;
    try {
      const e = JSON.parse(line) as { time_ms?: number };
      if (typeof e.time_ms === 'number') out.push(e.time_ms);
    } catch {
      // a line from klog, not logrus
    }
  }
  return out;
}

export const readLog = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : '');
