import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import {
  ARGOCD_DAEMONS,
  ARGOCD_NAMESPACE,
  argocdLog,
  argocdRunning,
  ensureArgoCd,
  repoServerAddress,
  stopArgoCd,
} from './argocd.ts';
import { ensureBuilt } from './build.ts';
import {
  clusterHealthy,
  clusterVersion,
  componentPid,
  createCluster,
  deleteCluster,
  kubectl,
  leftoverPids,
  runningAuditPolicy,
} from './cluster.ts';
import { clusterLog, clusterLogDir, HOST, kubectlPath, PATHS, PORTS, VERSIONS } from './config.ts';
import { applyCrds } from './crds.ts';
import {
  ensureFlux,
  FLUX_DAEMONS,
  fluxLog,
  fluxRunning,
  gitServerRunning,
  gitUrl,
  stopFlux,
} from './flux.ts';
import { clearLeases, withSandboxLock } from './lock.ts';
import { SandboxError, say } from './log.ts';
import { daemonPid, httpOk, isOurs, stopDaemon, terminate } from './proc.ts';
import {
  ensurePrometheus,
  ensurePrometheusInstalled,
  prometheusLog,
  prometheusUrl,
  prometheusVersion,
  runningScrapeIntervalMs,
} from './prometheus.ts';
import { ensureSimulator, simulatorLog, simulatorUrl } from './simulator.ts';
import { LOAD_CONFIGMAP, PROFILES_CONFIGMAP, SANDBOX_NAMESPACE } from './traffic/kube.ts';
import { checkScrapeInterval, DEFAULT_SCRAPE_INTERVAL, differences, type Wanted } from './wanted.ts';

export interface SandboxEnv {
  KUBECONFIG: string;
  KUBECTL: string;
  KUBE_APISERVER_URL: string;
  PROMETHEUS_URL: string;
  SIMULATOR_URL: string;
  SANDBOX_NAMESPACE: string;
  SANDBOX_LOGS: string;
  SANDBOX_CLUSTER_LOGS: string;
  SLUICE_CONTROLLER_METRICS_ADDR: string;
  /** Set when Flux or Argo CD runs: the git server's base URL and where its bare repositories live. */
  GIT_URL?: string;
  GIT_ROOT?: string;
  /** Set when Argo CD runs: the namespace of its Applications and settings. */
  ARGOCD_NAMESPACE?: string;
}

export interface UpOptions {
  /** Also run a git server and Flux's source- and kustomize-controller. */
  flux?: boolean;
  /** Also run a git server, redis, and Argo CD's application controller and repo server. */
  argocd?: boolean;
  /** Prometheus' scrape interval (a Prometheus duration, 1s..5m). Default 1s, what the tests expect. */
  scrapeInterval?: string;
  /** A file with an audit policy: the API server writes an audit log with it. Default: no audit log. */
  auditPolicy?: string;
}

/** What `up` was asked for, read and checked before anything is touched. */
function wantedFrom(opts: UpOptions): Wanted {
  const scrapeInterval = checkScrapeInterval(
    opts.scrapeInterval ?? DEFAULT_SCRAPE_INTERVAL,
    'scrapeInterval',
  );
  if (opts.auditPolicy === undefined) return { scrapeInterval };
  let auditPolicy: string;
  try {
    auditPolicy = readFileSync(opts.auditPolicy, 'utf8');
  } catch (err) {
    throw new SandboxError(`auditPolicy ${opts.auditPolicy} cannot be read: ${(err as Error).message}`);
  }
  return { scrapeInterval, auditPolicy };
}

export function sandboxEnv(): SandboxEnv {
  return {
    KUBECONFIG: PATHS.kubeconfig,
    KUBECTL: kubectlPath(),
    KUBE_APISERVER_URL: `https://${HOST}:${PORTS.apiserver}`,
    PROMETHEUS_URL: prometheusUrl(),
    SIMULATOR_URL: simulatorUrl(),
    SANDBOX_NAMESPACE,
    SANDBOX_LOGS: PATHS.logs,
    SANDBOX_CLUSTER_LOGS: clusterLogDir(),
    SLUICE_CONTROLLER_METRICS_ADDR: `${HOST}:${PORTS.controllerMetrics}`,
    ...((fluxRunning() || argocdRunning()) && gitServerRunning()
      ? { GIT_URL: gitUrl(), GIT_ROOT: PATHS.gitRoot }
      : {}),
    ...(argocdRunning() ? { ARGOCD_NAMESPACE } : {}),
  };
}

/** Parses .sandbox/env (KEY='value' lines) as written by `up`. */
export function readEnvFile(file = PATHS.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)='(.*)'$/.exec(line);
    if (m?.[1] && m[2] !== undefined) out[m[1]] = m[2].replace(/'\\''/g, "'");
  }
  return out;
}

function writeEnvFile(env: SandboxEnv): void {
  const quote = (v: string) => `'${v.replace(/'/g, "'\\''")}'`;
  const lines = Object.entries(env).map(([k, v]) => `${k}=${quote(v)}`);
  writeFileSync(
    PATHS.env,
    `# Written by \`npm run sandbox:up\`; source it: set -a; . .sandbox/env; set +a\n${lines.join('\n')}\n`,
  );
}

/** Everything up and answering: what `up` checks before doing any work, and tests before reusing. */
export async function sandboxHealthy(): Promise<boolean> {
  return (
    existsSync(PATHS.env) &&
    (await clusterHealthy()) &&
    (await httpOk(`${simulatorUrl()}/healthz`)) &&
    (await httpOk(`${prometheusUrl()}/-/ready`))
  );
}

export function up(opts: UpOptions = {}): Promise<SandboxEnv> {
  return withSandboxLock(() => upLocked(opts));
}

async function upLocked(opts: UpOptions): Promise<SandboxEnv> {
  const started = Date.now();
  const wanted = wantedFrom(opts);
  mkdirSync(PATHS.logs, { recursive: true });
  await ensureBuilt();
  await ensurePrometheusInstalled();
  if (await clusterHealthy()) {
    const diff = differences({ auditPolicy: runningAuditPolicy() }, wanted);
    if (diff.length === 0) say('cluster: already running');
    else {
      // The API server's audit flags are fixed at its start, and a new cluster has new
      // certificates every client holds: everything starts again, from a clean sandbox.
      say(`${diff.map((d) => d.say).join('; ')}: restarting the whole sandbox`);
      await downLocked();
      mkdirSync(PATHS.logs, { recursive: true });
      await createCluster(opts.auditPolicy);
    }
  } else await createCluster(opts.auditPolicy);
  await ensureSandboxNamespace();
  const crds = await applyCrds();
  if (!crds.skipped)
    say(`CRDs Established (${crds.files.length - crds.failed.length} of ${crds.files.length} files)`);
  await ensureSimulator();
  await ensurePrometheus(wanted);
  if (opts.flux) await ensureFlux();
  if (opts.argocd) await ensureArgoCd();
  const env = sandboxEnv();
  writeEnvFile(env);
  say(`ready in ${((Date.now() - started) / 1000).toFixed(1)}s; environment in ${PATHS.env}`);
  for (const f of crds.failed)
    say(`WARNING: ${f.file} was not installed (see above); fix it and run sandbox:up again`);
  return env;
}

/** The simulator reads its load and profiles from here; creating them empty leaves any data alone. */
async function ensureSandboxNamespace(): Promise<void> {
  const manifest = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: SANDBOX_NAMESPACE } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: LOAD_CONFIGMAP, namespace: SANDBOX_NAMESPACE } },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: PROFILES_CONFIGMAP, namespace: SANDBOX_NAMESPACE },
    },
  ];
  const r = await kubectl(
    ['apply', '--server-side', '--field-manager=sluice-sandbox', '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'List', items: manifest }),
  );
  if (r.code !== 0)
    throw new SandboxError(`creating namespace ${SANDBOX_NAMESPACE} failed:\n${r.stderr.trim()}`);
}

export function down(): Promise<void> {
  return withSandboxLock(downLocked);
}

async function downLocked(): Promise<void> {
  await stopArgoCd();
  await stopFlux();
  for (const name of ['traffic-simulator', 'prometheus']) {
    if (await stopDaemon(name)) say(`stopped ${name}`);
  }
  say('stopping the cluster');
  await deleteCluster();
  rmSync(PATHS.env, { force: true });
  clearLeases();
  // Only what the sandbox itself starts: other programs (a Sluice controller under test) may
  // also name files in .sandbox/ on their command line, and are not ours to stop.
  const markers = [
    PATHS.kwokWorkdir,
    PATHS.prometheusDir,
    PATHS.simulatorEntry,
    PATHS.gitEntry,
    // Not the binaries' cache paths: those are shared by every checkout's sandbox.
    PATHS.fluxDir,
    PATHS.argocdDir,
  ];
  for (const marker of markers) {
    for (const pid of await leftoverPids(marker)) {
      say(`stopping leftover sandbox process ${pid}`);
      await terminate(pid, () => isOurs(pid, marker), 5000, false);
    }
  }
  const remaining = (await Promise.all(markers.map(leftoverPids))).flat();
  if (remaining.length > 0)
    throw new SandboxError(`processes still running after down: ${remaining.join(', ')}`);
  say(`down; logs kept in ${PATHS.logs}`);
}

export async function status(): Promise<string> {
  const [cluster, sim, prom, k8s, promV, scrapeMs] = await Promise.all([
    clusterHealthy(),
    httpOk(`${simulatorUrl()}/healthz`),
    httpOk(`${prometheusUrl()}/-/ready`),
    clusterVersion(),
    prometheusVersion(),
    runningScrapeIntervalMs(),
  ]);
  const state = (ok: boolean, pid?: number) => (ok ? `running${pid ? ` (pid ${pid})` : ''}` : 'down');
  // A component process can run while the API server is unhealthy: report both facts.
  const component = (name: string, version: string, address: string) => {
    const pid = componentPid(name);
    const st = pid === undefined ? 'down' : `${cluster ? 'running' : 'UNHEALTHY'} (pid ${pid})`;
    return [name, st, version, address, clusterLog(name)];
  };
  const rows = [
    ['component', 'state', 'version', 'address', 'log'],
    component('kube-apiserver', k8s, `https://${HOST}:${PORTS.apiserver}`),
    component('etcd', VERSIONS.etcd, `${HOST}:${PORTS.etcd}`),
    component('kube-controller-manager', VERSIONS.kubernetes, `${HOST}:${PORTS.controllerManager}`),
    component('kube-scheduler', VERSIONS.kubernetes, `${HOST}:${PORTS.scheduler}`),
    component('kwok-controller', VERSIONS.kwok, `${HOST}:${PORTS.kwokController}`),
    [
      'prometheus',
      `${state(prom, daemonPid('prometheus'))}${scrapeMs === undefined ? '' : `, scrape ${scrapeMs / 1000}s`}`,
      promV,
      prometheusUrl(),
      prometheusLog(),
    ],
    ['traffic-simulator', state(sim, daemonPid('traffic-simulator')), '-', simulatorUrl(), simulatorLog()],
    ...FLUX_DAEMONS.map((name) => {
      const version =
        name === 'source-controller'
          ? VERSIONS.fluxSource
          : name === 'kustomize-controller'
            ? VERSIONS.fluxKustomize
            : '-';
      const address =
        name === 'git-server'
          ? gitUrl()
          : name === 'source-controller'
            ? `${HOST}:${PORTS.fluxArtifacts}`
            : '-';
      return [name, state(daemonPid(name) !== undefined, daemonPid(name)), version, address, fluxLog(name)];
    }),
    ...ARGOCD_DAEMONS.map((name) => {
      const address =
        name === 'argocd-redis'
          ? `${HOST}:${PORTS.argocdRedis}`
          : name === 'argocd-repo-server'
            ? repoServerAddress()
            : `metrics :${PORTS.argocdControllerMetrics}`;
      const version = name === 'argocd-redis' ? 'Debian' : VERSIONS.argocd;
      return [name, state(daemonPid(name) !== undefined, daemonPid(name)), version, address, argocdLog(name)];
    }),
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  const table = rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
  return `${table}\n\nenv file: ${existsSync(PATHS.env) ? PATHS.env : '(none; run npm run sandbox:up)'}\nbinaries: ${PATHS.cache}`;
}
