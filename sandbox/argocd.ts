// Argo CD in the sandbox (opt-in: `sandbox:up -- --with-argocd`): Debian's redis-server, and
// Argo CD's own application controller and repo server, built from its Go module (one binary,
// see sandbox/build.sh), running as processes against the sandbox's API server the way
// upstream's Procfile runs them for local development. Git comes from the sandbox's git server.
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ensureDebianPackages } from './apt.ts';
import { applyFiles, kubectl } from './cluster.ts';
import { HOST, PATHS, PORTS } from './config.ts';
import { ensureGitServer } from './flux.ts';
import { SandboxError, say } from './log.ts';
import {
  assertPortFree,
  daemonPid,
  delay,
  httpOk,
  run,
  runOk,
  startDaemon,
  stopDaemon,
  waitHealthy,
} from './proc.ts';

export const ARGOCD_NAMESPACE = 'argocd';
/** Argo CD's name and address for the cluster it runs in; out of cluster, see `controllerEnv`. */
export const IN_CLUSTER_SERVER = 'https://kubernetes.default.svc';
export const ARGOCD_DAEMONS = [
  'argocd-redis',
  'argocd-repo-server',
  'argocd-application-controller',
] as const;
type ArgoDaemon = (typeof ARGOCD_DAEMONS)[number];

export const argocdLog = (name: ArgoDaemon) => join(PATHS.logs, `${name}.log`);
export const argocdBinary = () => join(PATHS.argocdBin, 'argocd');
/** Sluice's own Go linked into the binary (build.sh stamps the build with the same hash). */
function sluiceGoStamp(): string {
  const dirPath = join(PATHS.repo, 'sandbox', 'argocd-cmd');
  const files = readdirSync(dirPath)
    .filter((f) => f.endsWith('.go'))
    .sort();
  const hash = createHash('sha256');
  for (const f of files) hash.update(readFileSync(join(dirPath, f)));
  return hash.digest('hex').slice(0, 12);
}

export const argocdBuilt = () =>
  existsSync(join(PATHS.argocdBin, `sluice-${sluiceGoStamp()}`)) &&
  existsSync(argocdBinary()) &&
  existsSync(join(PATHS.argocdBin, 'git-verify-wrapper.sh')) &&
  existsSync(join(PATHS.argocdBin, 'crds', 'application-crd.yaml'));
export const argocdRunning = () => ARGOCD_DAEMONS.every((n) => daemonPid(n) !== undefined);
export const repoServerAddress = () => `${HOST}:${PORTS.argocdRepoServer}`;
const REDIS_SERVER = { name: 'redis-server', program: '/usr/bin/redis-server' };
const CONTROLLER_ACCOUNT = 'argocd-application-controller';

const dir = (...parts: string[]) => join(PATHS.argocdDir, ...parts);
const redisConf = () => dir('redis.conf');
const redisPasswordFile = () => dir('redis-password');
const controllerKubeconfig = () => dir('kubeconfig-application-controller.json');

async function ensureArgoCdBuilt(): Promise<void> {
  if (argocdBuilt()) return;
  say(
    `building Argo CD's application controller and repo server into ${PATHS.cache} (~10 min once on 2 cores)`,
  );
  const r = await run('bash', [PATHS.buildScript, 'argocd'], { stream: true });
  if (r.code !== 0 || !argocdBuilt())
    throw new SandboxError(`building Argo CD failed (exit ${r.code}); logs in ${PATHS.buildLogs}`);
}

/** Started through a link in this checkout's .sandbox/, so its command line names this checkout. */
function checkoutLink(): string {
  const link = dir('bin', 'argocd');
  mkdirSync(dirname(link), { recursive: true });
  rmSync(link, { force: true });
  symlinkSync(argocdBinary(), link);
  return link;
}

async function applyObjects(what: string, items: unknown[]): Promise<void> {
  const r = await kubectl(
    ['apply', '--server-side', '--force-conflicts', '--field-manager=sluice-sandbox', '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'List', items }),
  );
  if (r.code !== 0) throw new SandboxError(`applying ${what} failed:\n${r.stderr.trim()}`);
}

/** Argo CD's CRDs of the version built, byte for byte as upstream ships them. */
async function applyArgoCdCrds(): Promise<void> {
  const crds = join(PATHS.argocdBin, 'crds');
  await applyFiles(
    readdirSync(crds).map((f) => join(crds, f)),
    'Argo CD CRDs',
  );
  // `kubectl wait` fails at once on a CRD whose status has no conditions yet (just applied).
  const names = ['applications', 'appprojects', 'applicationsets'].map((n) => `crd/${n}.argoproj.io`);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await kubectl(['wait', '--for=condition=Established', '--timeout=10s', ...names]);
    if (r.code === 0) return;
    if (Date.now() > deadline)
      throw new SandboxError(`Argo CD CRDs did not become Established:\n${r.stderr.trim()}`);
    await delay(500);
  }
}

const labels = (name: string) => ({
  'app.kubernetes.io/name': name,
  'app.kubernetes.io/part-of': 'argocd',
});

/** A secret made once per sandbox and kept in .sandbox/argocd (mode 0600). */
function secretFile(file: string): string {
  if (!existsSync(file)) writeFileSync(file, randomBytes(24).toString('base64url'), { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

/**
 * What upstream's install manifests put in namespace argocd, for the two components that run
 * here (written for the sandbox, after manifests/base and manifests/cluster-rbac of the module):
 * the settings ConfigMaps and Secret, the `default` AppProject (created by argocd-server, which
 * does not run here), and the application controller's ServiceAccount with upstream's Role in
 * its namespace and upstream's ClusterRole (every verb on every resource, as a cluster-wide
 * install grants it). The repo server never calls the API server, as upstream's grants nothing.
 */
/** The `data` of examples/argocd/argocd-cm.yaml: Sluice's Rollout health check and actions. */
function sluiceCustomizations(): Record<string, string> {
  const doc = parseYaml(readFileSync(join(PATHS.repo, 'examples', 'argocd', 'argocd-cm.yaml'), 'utf8')) as {
    data?: Record<string, string>;
  };
  if (!doc?.data) throw new SandboxError('examples/argocd/argocd-cm.yaml has no data');
  return doc.data;
}

async function applyArgoCdConfig(): Promise<void> {
  const ns = ARGOCD_NAMESPACE;
  const redisPassword = secretFile(redisPasswordFile());
  const objects = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'argocd-cm', namespace: ns, labels: labels('argocd-cm') },
      data: {
        // Upstream's default: status changes alone do not trigger a refresh (health changes do).
        'resource.customizations.ignoreResourceUpdates.all': 'jsonPointers:\n  - /status\n',
        // Objects nobody declares in git and that churn, kept out of the controller's cache.
        'resource.exclusions': [
          '- apiGroups: ["", "discovery.k8s.io"]',
          '  kinds: [Endpoints, EndpointSlice]',
          '- apiGroups: [coordination.k8s.io]',
          '  kinds: [Lease]',
          '- apiGroups: [authentication.k8s.io, authorization.k8s.io]',
          '  kinds: [SelfSubjectReview, TokenReview, LocalSubjectAccessReview, SelfSubjectAccessReview, SelfSubjectRulesReview, SubjectAccessReview]',
          '- apiGroups: [certificates.k8s.io]',
          '  kinds: [CertificateSigningRequest]',
          '',
        ].join('\n'),
        // Seconds, not minutes, between a push and its sync in tests: git is polled this often.
        'timeout.reconciliation': '10s',
        // Sluice's health check and actions, exactly as users merge them (the file they copy),
        // so Argo CD's own Lua VM runs what is shipped.
        ...sluiceCustomizations(),
      },
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'argocd-rbac-cm', namespace: ns, labels: labels('argocd-rbac-cm') },
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'argocd-cmd-params-cm', namespace: ns, labels: labels('argocd-cmd-params-cm') },
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'argocd-secret', namespace: ns, labels: labels('argocd-secret') },
      type: 'Opaque',
      // argocd-server would generate it on first start; the settings are incomplete without it.
      stringData: { 'server.secretkey': secretFile(dir('server-secretkey')) },
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'argocd-redis', namespace: ns, labels: labels('argocd-redis') },
      type: 'Opaque',
      stringData: { auth: redisPassword },
    },
    {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'AppProject',
      metadata: { name: 'default', namespace: ns },
      spec: {
        sourceRepos: ['*'],
        destinations: [{ server: '*', namespace: '*' }],
        clusterResourceWhitelist: [{ group: '*', kind: '*' }],
      },
    },
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: CONTROLLER_ACCOUNT, namespace: ns, labels: labels(CONTROLLER_ACCOUNT) },
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: CONTROLLER_ACCOUNT, namespace: ns, labels: labels(CONTROLLER_ACCOUNT) },
      rules: [
        { apiGroups: [''], resources: ['secrets', 'configmaps'], verbs: ['get', 'list', 'watch'] },
        {
          apiGroups: ['argoproj.io'],
          resources: ['applications', 'applicationsets', 'appprojects'],
          verbs: ['create', 'get', 'list', 'watch', 'update', 'patch', 'delete'],
        },
        { apiGroups: [''], resources: ['events'], verbs: ['create', 'list'] },
        { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'watch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: CONTROLLER_ACCOUNT, namespace: ns, labels: labels(CONTROLLER_ACCOUNT) },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: CONTROLLER_ACCOUNT },
      subjects: [{ kind: 'ServiceAccount', name: CONTROLLER_ACCOUNT, namespace: ns }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: CONTROLLER_ACCOUNT, labels: labels(CONTROLLER_ACCOUNT) },
      rules: [
        { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
        { nonResourceURLs: ['*'], verbs: ['*'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: CONTROLLER_ACCOUNT, labels: labels(CONTROLLER_ACCOUNT) },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: CONTROLLER_ACCOUNT },
      subjects: [{ kind: 'ServiceAccount', name: CONTROLLER_ACCOUNT, namespace: ns }],
    },
  ];
  await applyObjects(`Argo CD's namespace ${ns} and its settings`, objects);
}

/**
 * The application controller acts as its ServiceAccount (a token from the TokenRequest API),
 * not as the sandbox's admin, so it can do what upstream's RBAC grants and nothing more.
 */
async function writeControllerKubeconfig(): Promise<void> {
  const token = await kubectl([
    'create',
    'token',
    CONTROLLER_ACCOUNT,
    '-n',
    ARGOCD_NAMESPACE,
    '--duration=24h',
  ]);
  if (token.code !== 0)
    throw new SandboxError(`a token for ${CONTROLLER_ACCOUNT} could not be made:\n${token.stderr.trim()}`);
  const view = await kubectl(['config', 'view', '--raw', '--minify', '--flatten', '-o', 'json']);
  if (view.code !== 0)
    throw new SandboxError(`reading the sandbox's kubeconfig failed:\n${view.stderr.trim()}`);
  const config = JSON.parse(view.stdout) as {
    clusters: { name: string; cluster: Record<string, unknown> }[];
    contexts: { name: string; context: { cluster: string } }[];
  };
  const cluster = config.clusters[0];
  if (!cluster) throw new SandboxError(`the sandbox's kubeconfig ${PATHS.kubeconfig} names no cluster`);
  const kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [cluster],
    users: [{ name: CONTROLLER_ACCOUNT, user: { token: token.stdout.trim() } }],
    contexts: [
      {
        name: CONTROLLER_ACCOUNT,
        context: { cluster: cluster.name, user: CONTROLLER_ACCOUNT, namespace: ARGOCD_NAMESPACE },
      },
    ],
    'current-context': CONTROLLER_ACCOUNT,
  };
  writeFileSync(controllerKubeconfig(), JSON.stringify(kubeconfig, null, 2), { mode: 0o600 });
}

/** Redis answers PONG to an authenticated PING. */
function redisPing(password: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(PORTS.argocdRedis, HOST);
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write(`AUTH ${password}\r\nPING\r\n`));
    socket.on('data', (d) => {
      reply += d.toString();
      if (reply.includes('+PONG')) done(true);
      else if (reply.includes('-')) done(false);
    });
  });
}

/** Debian's redis-server on loopback, password-protected, no persistence: a cache, as in upstream. */
async function ensureRedis(): Promise<void> {
  const password = secretFile(redisPasswordFile());
  if (daemonPid('argocd-redis') !== undefined && (await redisPing(password))) return;
  await stopDaemon('argocd-redis');
  await assertPortFree(PORTS.argocdRedis, 'argocd-redis');
  mkdirSync(dir('redis'), { recursive: true });
  writeFileSync(
    redisConf(),
    [
      `bind ${HOST}`,
      `port ${PORTS.argocdRedis}`,
      'protected-mode yes',
      `requirepass ${password}`,
      'save ""',
      'appendonly no',
      `dir ${dir('redis')}`,
      'daemonize no',
      // Redis rewrites its command line by default; the config path in it is how `down` finds it.
      'set-proc-title no',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  say(`starting redis on ${HOST}:${PORTS.argocdRedis}`);
  startDaemon('argocd-redis', REDIS_SERVER.program, [redisConf()], {
    log: argocdLog('argocd-redis'),
    marker: redisConf(),
    cwd: dir('redis'),
  });
  await waitHealthy('argocd-redis', () => redisPing(password), {
    timeoutMs: 30_000,
    log: argocdLog('argocd-redis'),
    alive: () => daemonPid('argocd-redis') !== undefined,
  });
}

/**
 * Environment for both components. ARGOCD_FAKE_IN_CLUSTER is upstream's switch for running out
 * of cluster (its Procfile uses it): the in-cluster destination https://kubernetes.default.svc,
 * which only resolves inside a pod, is then reached with the kubeconfig in KUBECONFIG instead of
 * the pod's service-account files. Data directories that default to /app/config or /tmp are
 * moved into .sandbox/argocd, so two checkouts' sandboxes never share them.
 */
function argoEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ARGOCD_FAKE_IN_CLUSTER: 'true',
    KUBECONFIG: controllerKubeconfig(),
    REDIS_PASSWORD: secretFile(redisPasswordFile()),
    ARGOCD_TLS_DATA_PATH: dir('tls'),
    ARGOCD_SSH_DATA_PATH: dir('ssh'),
    ARGOCD_GNUPGHOME: dir('gnupg'),
    ARGOCD_GPG_ENABLED: 'false',
    ARGOCD_ASK_PASS_SOCK: dir('ask-pass.sock'),
    TMPDIR: dir('tmp'),
    // Upstream's git-verify-wrapper.sh, which the repo server runs from PATH, is built next to it.
    PATH: `${PATHS.argocdBin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    ...extra,
  };
}

async function ensureRepoServer(link: string): Promise<void> {
  const name = 'argocd-repo-server';
  const healthz = `http://${HOST}:${PORTS.argocdRepoServerMetrics}/healthz?full=true`;
  if (daemonPid(name) !== undefined && (await httpOk(healthz))) return;
  await stopDaemon(name);
  await assertPortFree(PORTS.argocdRepoServer, 'argocd-repo-server');
  await assertPortFree(PORTS.argocdRepoServerMetrics, 'argocd-repo-server-metrics');
  say(`starting Argo CD repo server on ${repoServerAddress()}`);
  startDaemon(
    name,
    link,
    [
      'repo-server',
      `--address=${HOST}`,
      `--port=${PORTS.argocdRepoServer}`,
      `--metrics-address=${HOST}`,
      `--metrics-port=${PORTS.argocdRepoServerMetrics}`,
      `--redis=${HOST}:${PORTS.argocdRedis}`,
      // Loopback only, between two processes of this sandbox: no TLS, as upstream's Procfile.
      '--disable-tls',
      // Its default names a pod's mTLS mount, and it refuses any client CA with TLS off.
      '--client-ca-path=',
      '--logformat=text',
    ],
    { log: argocdLog(name), marker: link, env: argoEnv(), cwd: PATHS.argocdDir },
  );
  await waitHealthy(name, () => httpOk(healthz), {
    timeoutMs: 60_000,
    log: argocdLog(name),
    alive: () => daemonPid(name) !== undefined,
  });
}

async function ensureApplicationController(link: string): Promise<void> {
  const name = 'argocd-application-controller';
  const healthz = `http://${HOST}:${PORTS.argocdControllerMetrics}/healthz`;
  if (daemonPid(name) !== undefined && (await httpOk(healthz))) return;
  await stopDaemon(name);
  await assertPortFree(PORTS.argocdControllerMetrics, 'argocd-controller-metrics', '0.0.0.0');
  say('starting Argo CD application controller');
  startDaemon(
    name,
    link,
    [
      'application-controller',
      `--namespace=${ARGOCD_NAMESPACE}`,
      `--repo-server=${repoServerAddress()}`,
      '--repo-server-plaintext',
      `--redis=${HOST}:${PORTS.argocdRedis}`,
      `--metrics-port=${PORTS.argocdControllerMetrics}`,
      // Self-heal retries quickly in a test rather than backing off for minutes.
      '--self-heal-backoff-timeout-seconds=1',
      '--self-heal-backoff-cap-seconds=10',
      '--logformat=text',
    ],
    { log: argocdLog(name), marker: link, env: argoEnv(), cwd: PATHS.argocdDir },
  );
  await waitHealthy(name, () => httpOk(healthz), {
    timeoutMs: 120_000,
    log: argocdLog(name),
    alive: () => daemonPid(name) !== undefined,
  });
}

export async function ensureArgoCd(): Promise<void> {
  await ensureArgoCdBuilt();
  await ensureDebianPackages([REDIS_SERVER]);
  for (const d of ['tls', 'ssh', 'gnupg', 'tmp']) mkdirSync(dir(d), { recursive: true, mode: 0o700 });
  await applyArgoCdCrds();
  await applyArgoCdConfig();
  await writeControllerKubeconfig();
  await ensureGitServer();
  await ensureRedis();
  const link = checkoutLink();
  await ensureRepoServer(link);
  await ensureApplicationController(link);
}

export async function stopArgoCd(): Promise<void> {
  // The controller first: it talks to the other two until it stops.
  for (const name of [...ARGOCD_DAEMONS].reverse()) if (await stopDaemon(name)) say(`stopped ${name}`);
}

/**
 * A resource action on a Rollout, run as argocd-server runs one (Argo CD's settings and Lua VM,
 * then a merge patch, status through its subresource), under Argo CD's own identity. `discover`
 * returns the actions discovery offers; any other name runs that action and returns the patch.
 */
export async function runArgoAction(namespace: string, name: string, action: string): Promise<unknown> {
  const out = await runOk(
    argocdBinary(),
    ['resource-action', ARGOCD_NAMESPACE, 'sluice.dev', 'v1alpha1', 'rollouts', namespace, name, action],
    { env: { ...process.env, KUBECONFIG: controllerKubeconfig() } },
  );
  return JSON.parse(out);
}
