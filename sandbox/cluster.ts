import { spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { binaries } from './build.ts';
import {
  CLUSTER_NAME,
  clusterLog,
  clusterLogDir,
  HOST,
  kubectlPath,
  kwokctlPath,
  NODE_COUNT,
  PATHS,
  PORTS,
} from './config.ts';
import { SandboxError, say } from './log.ts';
import { assertPortFree, isOurs, run, runOk, tail, terminate, waitHealthy } from './proc.ts';
import { auditPolicyFlag } from './wanted.ts';

const clusterDir = () => join(PATHS.kwokWorkdir, 'clusters', CLUSTER_NAME);
const kwokctlLog = () => join(PATHS.logs, 'kwokctl.log');

export const COMPONENTS = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kwok-controller',
];

function kwokEnv(): NodeJS.ProcessEnv {
  return { ...process.env, KWOK_WORKDIR: PATHS.kwokWorkdir, KWOK_KUBECTL_BINARY: kubectlPath() };
}

export function kubectl(args: readonly string[], input?: string) {
  return run(
    kubectlPath(),
    ['--kubeconfig', PATHS.kubeconfig, ...args],
    input === undefined ? {} : { input },
  );
}

/** Upstream manifests (CRDs) applied file by file, server-side, taking over any field. */
export async function applyFiles(files: readonly string[], what: string): Promise<void> {
  for (const file of files) {
    const r = await kubectl([
      'apply',
      '--server-side',
      '--force-conflicts',
      '--field-manager=sluice-sandbox',
      '-f',
      file,
    ]);
    if (r.code !== 0) throw new SandboxError(`applying ${what} from ${file} failed:\n${r.stderr.trim()}`);
  }
}

async function kwokctl(args: readonly string[], stream = false) {
  return run(kwokctlPath(), ['--name', CLUSTER_NAME, ...args], {
    env: kwokEnv(),
    stream: stream && kwokctlLine,
  });
}

/** kwokctl logs JSON lines; a person watching `up` wants the message (and the error, if any). */
function kwokctlLine(line: string): string | undefined {
  try {
    const entry = JSON.parse(line) as { msg?: string; err?: string; elapsed?: { human?: string } };
    const extra = [entry.elapsed?.human, entry.err].filter(Boolean).join(', ');
    return `[kwokctl] ${entry.msg ?? line}${extra ? ` (${extra})` : ''}`;
  } catch {
    return line.trim() ? `[kwokctl] ${line}` : undefined;
  }
}

/** The pid kwokctl recorded for a component, if that process is still running. */
export function componentPid(component: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(clusterDir(), 'pids', `${component}.pid`), 'utf8').trim());
    return isOurs(pid, PATHS.kwokWorkdir) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** How a running control-plane component was started: enough to start it again the same way. */
export interface ComponentCommand {
  component: string;
  cmd: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
}

export function componentCommand(component: string): ComponentCommand {
  const pid = componentPid(component);
  if (pid === undefined) throw new SandboxError(`${component} is not running`);
  const [cmd, ...args] = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  if (!cmd) throw new SandboxError(`cannot read the command line of ${component} (pid ${pid})`);
  const env = Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  return { component, cmd, args, cwd: readlinkSync(`/proc/${pid}/cwd`), env };
}

/**
 * Starts a component as kwokctl did, logging where it logged, and records the new pid where
 * kwokctl keeps it (kwokctl has no per-component start).
 */
export function startComponent(c: ComponentCommand): number {
  const log = openSync(clusterLog(c.component), 'a');
  const child = spawn(c.cmd, c.args, { cwd: c.cwd, env: c.env, detached: true, stdio: ['ignore', log, log] });
  child.unref();
  if (!child.pid) throw new SandboxError(`could not start ${c.component}`);
  writeFileSync(join(clusterDir(), 'pids', `${c.component}.pid`), String(child.pid));
  return child.pid;
}

/** Crashes a component (no grace period) and starts it again the same way. For fault injection. */
export async function restartComponent(component: string): Promise<number> {
  const c = componentCommand(component);
  const pid = componentPid(component) as number;
  await terminate(pid, () => isOurs(pid, PATHS.kwokWorkdir), 0, true);
  // A dying process loses its command line before it releases its ports: wait until it is gone,
  // or the new one finds its port still in use.
  await waitHealthy(`${component} (pid ${pid}) to exit`, async () => !processExists(pid), {
    timeoutMs: 30_000,
    log: clusterLog(component),
  });
  return startComponent(c);
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Sends `signal` to a control-plane component (SIGSTOP/SIGCONT freeze and thaw it). */
export function signalComponent(component: string, signal: NodeJS.Signals): void {
  const pid = componentPid(component);
  if (pid === undefined) throw new SandboxError(`${component} is not running`);
  process.kill(pid, signal);
}

/** API server ready, and all fake nodes Ready: what tests need before they create anything. */
export async function clusterHealthy(): Promise<boolean> {
  if (!existsSync(PATHS.kubeconfig) || !existsSync(kubectlPath())) return false;
  const ready = await kubectl(['get', '--raw', '/readyz', '--request-timeout=3s']);
  if (ready.code !== 0 || ready.stdout.trim() !== 'ok') return false;
  return (await readyNodes()) >= NODE_COUNT;
}

async function readyNodes(): Promise<number> {
  const r = await kubectl([
    'get',
    'nodes',
    '-o',
    'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
  ]);
  return r.code === 0 ? r.stdout.split('\n').filter((s) => s === 'True').length : 0;
}

/**
 * kwokctl settings that flags cannot carry. Written as $KWOK_WORKDIR/kwok.yaml, kwokctl's
 * default config path, so every kwokctl call (create, scale, delete) sees the same options.
 */
function writeKwokConfig(): void {
  mkdirSync(PATHS.kwokWorkdir, { recursive: true });
  writeFileSync(
    join(PATHS.kwokWorkdir, 'kwok.yaml'),
    [
      'apiVersion: config.kwok.x-k8s.io/v1alpha1',
      'kind: KwokctlConfiguration',
      'options:',
      // kwokctl binds every component to 0.0.0.0 by default; the sandbox is loopback only.
      `  bindAddress: ${HOST}`,
      `  kubectlBinary: ${kubectlPath()}`,
      '  quietPull: true',
      '',
    ].join('\n'),
  );
}

const SERVICE_CIDR = '10.96.0.0/16';

/** `auditPolicyFile`: the API server writes an audit log with this policy (bench/scale counts requests with it). */
export async function createCluster(auditPolicyFile?: string): Promise<void> {
  if (existsSync(clusterDir())) {
    say('a previous cluster exists but is not healthy; deleting it first');
    await deleteCluster();
  }
  for (const [component, port] of [
    ['apiserver', PORTS.apiserver],
    ['etcd', PORTS.etcd],
    ['controller-manager', PORTS.controllerManager],
    ['scheduler', PORTS.scheduler],
    ['kwok-controller', PORTS.kwokController],
  ] as const) {
    await assertPortFree(port, component);
  }
  writeKwokConfig();
  const bin = binaries();
  say(`creating cluster '${CLUSTER_NAME}' with kwokctl (binary runtime, state in ${PATHS.kwokWorkdir})`);
  const started = Date.now();
  const r = await kwokctl(
    [
      'create',
      'cluster',
      '--runtime=binary',
      `--kube-apiserver-binary=${bin['kube-apiserver']}`,
      `--kube-controller-manager-binary=${bin['kube-controller-manager']}`,
      `--kube-scheduler-binary=${bin['kube-scheduler']}`,
      `--kwok-controller-binary=${bin.kwok}`,
      `--etcd-binary=${bin.etcd}`,
      '--kube-authorization',
      // bench/scale counts each controller's API requests from the API server's own audit log.
      // The server rotates its log at 100 MB by default, which a run at N = 1,000 outgrows while
      // the bench reads the file from an offset: 100 GB is "never" for a sandbox's lifetime.
      ...(auditPolicyFile
        ? [`--kube-audit-policy=${auditPolicyFile}`, '--extra-args=kube-apiserver=audit-log-maxsize=100000']
        : []),
      // kwokctl's default Service range is a /24: ~250 ClusterIPs, fewer than bench/scale's
      // 500 Rollouts need (two Services each). A /16 costs nothing and fits 65k.
      `--extra-args=kube-apiserver=service-cluster-ip-range=${SERVICE_CIDR}`,
      `--kube-apiserver-port=${PORTS.apiserver}`,
      `--etcd-port=${PORTS.etcd}`,
      `--kube-controller-manager-port=${PORTS.controllerManager}`,
      `--kube-scheduler-port=${PORTS.scheduler}`,
      `--controller-port=${PORTS.kwokController}`,
      // Leave ~/.kube/config alone: the sandbox's kubeconfig lives in .sandbox/.
      '--kubeconfig=',
      '--timeout=3m',
      '--wait=2m',
    ],
    true,
  );
  writeFileSync(kwokctlLog(), `${r.stdout}\n${r.stderr}`);
  if (r.code !== 0)
    throw new SandboxError(`kwokctl create cluster failed (exit ${r.code}).\n${componentReport()}`);
  say(`control plane up in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  writeFileSync(
    PATHS.kubeconfig,
    await runOk(kwokctlPath(), ['--name', CLUSTER_NAME, 'get', 'kubeconfig'], { env: kwokEnv() }),
  );
  await waitHealthy(
    'kube-apiserver',
    async () => (await kubectl(['get', '--raw', '/readyz'])).stdout.trim() === 'ok',
    { timeoutMs: 60_000, log: clusterLog('kube-apiserver') },
  );
  say(`adding ${NODE_COUNT} fake nodes`);
  await runOk(kwokctlPath(), ['--name', CLUSTER_NAME, 'scale', 'node', `--replicas=${NODE_COUNT}`], {
    env: kwokEnv(),
  });
  await waitHealthy('kwok-controller (nodes Ready)', async () => (await readyNodes()) >= NODE_COUNT, {
    timeoutMs: 60_000,
    log: clusterLog('kwok-controller'),
  });
}

/** Sets the number of fake nodes (each takes 110 pods): bench/scale needs more than tests do. */
export async function scaleNodes(replicas: number): Promise<void> {
  await runOk(kwokctlPath(), ['--name', CLUSTER_NAME, 'scale', 'node', `--replicas=${replicas}`], {
    env: kwokEnv(),
  });
}

/**
 * The audit policy the running API server was started with (the text of the file its flag
 * names), null when it runs without one, undefined when that cannot be read.
 */
export function runningAuditPolicy(): string | null | undefined {
  try {
    const file = auditPolicyFlag(componentCommand('kube-apiserver').args);
    return file === undefined ? null : readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Where kwokctl's binary runtime has the API server write its audit log (when a policy is set). */
export const auditLogPath = () => join(clusterDir(), 'logs', 'audit.log');

/** Last lines of every component's log, for an error message that can be acted on. */
export function componentReport(lines = 8): string {
  return COMPONENTS.map((c) => `--- ${c}: ${clusterLog(c)}\n${tail(clusterLog(c), lines)}`).join('\n');
}

/** Stops the control plane; component logs are kept under .sandbox/logs/previous for post-mortems. */
export async function deleteCluster(): Promise<void> {
  if (existsSync(clusterLogDir())) {
    rmSync(PATHS.previousLogs, { recursive: true, force: true });
    mkdirSync(PATHS.previousLogs, { recursive: true });
    cpSync(clusterLogDir(), PATHS.previousLogs, { recursive: true });
  }
  if (existsSync(clusterDir()) && existsSync(kwokctlPath())) {
    const r = await kwokctl(['delete', 'cluster']);
    if (r.code !== 0) say(`kwokctl delete cluster exited ${r.code}: ${r.stderr.trim()}`);
  }
  // Anything still running from the cluster's directory is ours and must go (kwokctl can
  // leave a component behind if it was killed mid-start).
  for (const pid of await leftoverPids(PATHS.kwokWorkdir)) {
    say(`stopping leftover process ${pid}`);
    await terminate(pid, () => isOurs(pid, PATHS.kwokWorkdir), 5000, false);
  }
  rmSync(clusterDir(), { recursive: true, force: true });
  rmSync(PATHS.kubeconfig, { force: true });
}

export async function leftoverPids(marker: string): Promise<number[]> {
  const r = await run('pgrep', ['-f', marker]);
  return r.stdout
    .split('\n')
    .map(Number)
    .filter((pid) => pid > 0 && pid !== process.pid && isOurs(pid, marker));
}

export async function clusterVersion(): Promise<string> {
  const r = await kubectl(['version', '-o', 'json', '--request-timeout=3s']);
  if (r.code !== 0) return 'not running';
  const v = JSON.parse(r.stdout) as { serverVersion?: { gitVersion?: string } };
  return v.serverVersion?.gitVersion ?? 'unknown';
}
