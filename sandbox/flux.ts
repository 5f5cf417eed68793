// Flux in the sandbox (opt-in: `sandbox:up -- --with-flux`): a git server on loopback and
// Flux's own source-controller and kustomize-controller, built from the Go module proxy,
// running as processes against the sandbox's API server like they would in a cluster.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { applyFiles, kubectl } from './cluster.ts';
import { HOST, PATHS, PORTS } from './config.ts';
import { SandboxError, say } from './log.ts';
import { assertPortFree, daemonPid, httpOk, run, startDaemon, stopDaemon, waitHealthy } from './proc.ts';

export const FLUX_NAMESPACE = 'flux-system';
export const gitUrl = () => `http://${HOST}:${PORTS.git}`;
export const fluxLog = (name: string) => join(PATHS.logs, `${name}.log`);
export const FLUX_DAEMONS = ['git-server', 'source-controller', 'kustomize-controller'] as const;

type FluxController = 'source-controller' | 'kustomize-controller';

/** The built binary in the shared cache. */
const binary = (name: FluxController) =>
  join(name === 'source-controller' ? PATHS.fluxSourceBin : PATHS.fluxKustomizeBin, name);

/**
 * Started through a link inside this checkout's .sandbox/, so its command line names this
 * checkout: finding leftovers by the cache path would also match (and stop) the Flux of
 * another checkout's sandbox on the same machine.
 */
function checkoutLink(name: FluxController): string {
  const link = join(PATHS.fluxDir, 'bin', name);
  mkdirSync(dirname(link), { recursive: true });
  rmSync(link, { force: true });
  symlinkSync(binary(name), link);
  return link;
}

export const fluxBuilt = () =>
  existsSync(binary('source-controller')) && existsSync(binary('kustomize-controller'));

async function ensureFluxBuilt(): Promise<void> {
  if (fluxBuilt()) return;
  say(
    `building Flux's source-controller and kustomize-controller into ${PATHS.cache} (~10 min once on 2 cores)`,
  );
  const r = await run('bash', [PATHS.buildScript, 'flux'], { stream: true });
  if (r.code !== 0 || !fluxBuilt())
    throw new SandboxError(`building Flux failed (exit ${r.code}); logs in ${PATHS.buildLogs}`);
}

async function applyFluxCrds(): Promise<void> {
  const files = [PATHS.fluxSourceBin, PATHS.fluxKustomizeBin].flatMap((dir) =>
    readdirSync(join(dir, 'crds')).map((f) => join(dir, 'crds', f)),
  );
  await applyFiles(files, 'Flux CRDs');
  const ns = await kubectl(['create', 'namespace', FLUX_NAMESPACE, '--dry-run=client', '-o', 'json']);
  await kubectl(['apply', '--server-side', '--field-manager=sluice-sandbox', '-f', '-'], ns.stdout);
  const wait = await kubectl(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=60s']);
  if (wait.code !== 0) throw new SandboxError(`Flux CRDs did not become Established:\n${wait.stderr.trim()}`);
}

/** The sandbox's git server, shared by Flux and Argo CD; started once, whichever needs it first. */
export async function ensureGitServer(): Promise<void> {
  if (daemonPid('git-server') !== undefined && (await httpOk(`${gitUrl()}/healthz`))) return;
  await stopDaemon('git-server');
  await assertPortFree(PORTS.git, 'git server');
  mkdirSync(PATHS.gitRoot, { recursive: true });
  say(`starting git server on ${gitUrl()} (repositories in ${PATHS.gitRoot})`);
  startDaemon('git-server', process.execPath, ['--import', 'tsx', PATHS.gitEntry], {
    log: fluxLog('git-server'),
    marker: PATHS.gitEntry,
    cwd: PATHS.repo,
    env: { ...process.env, GIT_ROOT: PATHS.gitRoot, GIT_HOST: HOST, GIT_PORT: String(PORTS.git) },
  });
  await waitHealthy('git-server', () => httpOk(`${gitUrl()}/healthz`), {
    timeoutMs: 30_000,
    log: fluxLog('git-server'),
    alive: () => daemonPid('git-server') !== undefined,
  });
}

function fluxEnv(): NodeJS.ProcessEnv {
  return { ...process.env, KUBECONFIG: PATHS.kubeconfig, RUNTIME_NAMESPACE: FLUX_NAMESPACE };
}

// Metrics and health probes off ("0"): nothing scrapes them here, and fixed ports would
// collide with other sandboxes on the machine.
const COMMON_FLAGS = [
  '--enable-leader-election=false',
  '--metrics-addr=0',
  '--health-addr=0',
  '--events-addr=',
];

async function ensureFluxController(name: FluxController): Promise<void> {
  if (daemonPid(name) !== undefined) return;
  const args =
    name === 'source-controller'
      ? [
          ...COMMON_FLAGS,
          `--storage-path=${join(PATHS.fluxDir, 'artifacts')}`,
          `--storage-addr=${HOST}:${PORTS.fluxArtifacts}`,
          `--storage-adv-addr=${HOST}:${PORTS.fluxArtifacts}`,
        ]
      : COMMON_FLAGS;
  if (name === 'source-controller') await assertPortFree(PORTS.fluxArtifacts, 'Flux artifact server');
  // source-controller refuses a storage path that does not exist yet.
  mkdirSync(join(PATHS.fluxDir, 'artifacts'), { recursive: true });
  say(`starting Flux ${name}`);
  const logFrom = existsSync(fluxLog(name)) ? statSync(fluxLog(name)).size : 0;
  const link = checkoutLink(name);
  startDaemon(name, link, args, {
    log: fluxLog(name),
    marker: link,
    env: fluxEnv(),
    cwd: PATHS.fluxDir,
  });
  await waitHealthy(name, async () => daemonPid(name) !== undefined && fluxStarted(name, logFrom), {
    timeoutMs: 60_000,
    log: fluxLog(name),
    alive: () => daemonPid(name) !== undefined,
  });
}

/** controller-runtime logs "Starting workers" once its caches synced: this run's part of the log. */
function fluxStarted(name: string, logFrom: number): boolean {
  return readFileSync(fluxLog(name)).subarray(logFrom).includes('Starting workers');
}

export async function ensureFlux(): Promise<void> {
  await ensureFluxBuilt();
  await applyFluxCrds();
  await ensureGitServer();
  await ensureFluxController('source-controller');
  await ensureFluxController('kustomize-controller');
}

export const fluxRunning = () => FLUX_DAEMONS.every((n) => daemonPid(n) !== undefined);

export const gitServerRunning = () => daemonPid('git-server') !== undefined;

export async function stopFlux(): Promise<void> {
  for (const name of FLUX_DAEMONS) if (await stopDaemon(name)) say(`stopped ${name}`);
}
