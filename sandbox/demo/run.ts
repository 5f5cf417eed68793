// `npm run demo`: the GitOps path end to end on the local sandbox. The app lives in a git
// repository on the sandbox's git server; Flux (or Argo CD, with `-- --argocd`) applies it;
// Sluice releases it. A healthy v2 is committed and walked through every canary step under live
// Prometheus gates; a broken v3 (10% errors) is committed, caught by the success-rate gate,
// rolled back, and Sluice commits the revert so git again says v2; the GitOps tool applies it
// and the Rollout ends Healthy on v2. Prints the release live, writes an HTML report, and exits
// non-zero if anything did not happen as it should.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { latencyP99Query, successRateQuery } from '../../analysis/queries.ts';
import {
  applyPatch,
  isNotFound,
  loadKubeConfig,
  mergePatch,
  requestJson,
} from '../../controller/kube/client.ts';
import type { Rollout } from '../../crds/index.ts';
import { canaryApp, objectPath } from '../apps.ts';
import { PATHS, REPO } from '../config.ts';
import { headOf, logSubjects, readFileAt } from '../git/repo.ts';
import { condition, createFluxApp, removeFluxApp } from '../gitops.ts';
import { createArgoApp, documentedSyncSettings, removeArgoApp } from '../gitops-argocd.ts';
import { type SandboxEnv, up } from '../lifecycle.ts';
import { say as sandboxSay } from '../log.ts';
import { LOAD_CONFIGMAP, PROFILES_CONFIGMAP, SANDBOX_NAMESPACE } from '../traffic/kube.ts';
import { type Moment, renderReport, type Sample } from './report.ts';

const NS = 'sluice-demo';
const APP = 'shop';
const V1 = 'demo/shop:1.0';
const GOOD = 'demo/shop:2.0';
const BAD = 'demo/shop:3.0';
const SUCCESS_MIN = 99;
const P99_MAX = 500;
const INTERVAL_MS = 5000;
const APP_FILE = 'apps/shop.yaml';
/** Names the repository and the GitOps tool's objects. */
const DEMO = 'sluice-demo';

/** Which GitOps tool delivers the releases: Flux unless `--argocd`. */
const TOOL = parseArgs({ options: { argocd: { type: 'boolean', default: false } } }).values.argocd
  ? ({ key: 'argocd', name: 'Argo CD' } as const)
  : ({ key: 'flux', name: 'Flux' } as const);

const started = Date.now();
const elapsed = () => (Date.now() - started) / 1000;
const say = (line: string) => console.log(`[demo ${elapsed().toFixed(0).padStart(3)}s] ${line}`);

/** How a new version reaches the cluster: a git commit the GitOps tool applies, or (without one) an apply. */
interface Delivery {
  how: string;
  release(image: string, message: string): Promise<void>;
  /** The GitOps tool's word on the current revision, for the live view. */
  status(): Promise<string>;
  /** Set when releases go through git. */
  git?: GitTool;
}

/** A repository on the sandbox's git server and the GitOps tool (Flux or Argo CD) applying its apps/. */
interface GitTool {
  url: string;
  bareDir: string;
  /** Commits and pushes, and asks the tool to sync now. Returns the sha. */
  commit(files: Record<string, string>, message: string): Promise<string>;
  /** What a git host's push webhook does: the tool looks at git now. */
  sync(): Promise<unknown>;
  /** Whether the tool has applied commit `sha` and reads what it applied as healthy. */
  applied(sha: string): Promise<boolean>;
  /** The tool's word on the current revision, for the live view. */
  status(): Promise<string>;
}

function appObjects(): KubernetesObject[] {
  return canaryApp(NS, {
    name: APP,
    image: V1,
    replicas: 3,
    steps: [
      { setWeight: 20 },
      { pause: { duration: '15s' } },
      { setWeight: 50 },
      { pause: { duration: '15s' } },
    ],
    canary: {
      analysis: {
        interval: `${INTERVAL_MS / 1000}s`,
        successRate: { min: SUCCESS_MIN },
        latencyP99: { maxMs: P99_MAX },
      },
      scaleDownDelaySeconds: 5,
      abortScaleDownDelaySeconds: 5,
    },
  }).map((obj) => {
    if (obj.kind === 'VirtualService' && TOOL.key === 'flux')
      // Created by Flux, then Sluice's: see examples/flux/README.md. Argo CD's Application
      // leaves the weights to Sluice through its ignoreDifferences instead.
      return {
        ...obj,
        metadata: { ...obj.metadata, annotations: { 'kustomize.toolkit.fluxcd.io/ssa': 'IfNotPresent' } },
      };
    if (obj.kind === 'Rollout') {
      const r = obj as unknown as Rollout;
      return { ...r, spec: { ...r.spec, writeBack: { enabled: true } } } as unknown as KubernetesObject;
    }
    return obj;
  });
}

/** The file a person keeps in git, and edits by hand to release: only the image line changes. */
function appYaml(image: string): string {
  const docs = appObjects().map((o) => stringify(o));
  const text = `# The shop app, delivered by ${TOOL.name} and released by Sluice.\n${docs.join('---\n')}`;
  return text.replace(`image: ${V1}`, `image: ${image}`);
}

async function gitDelivery(kc: KubeConfig, env: SandboxEnv): Promise<Delivery> {
  if (!env.GIT_URL || !env.GIT_ROOT) throw new Error('the sandbox has no git server');
  const server = { url: env.GIT_URL, root: env.GIT_ROOT };
  const git = TOOL.key === 'argocd' ? await argoTool(kc, server) : await fluxTool(kc, server);
  return {
    how: `git commits to ${git.url}, applied by ${TOOL.name}`,
    git,
    async release(image, message) {
      const sha = await git.commit({ [APP_FILE]: appYaml(image) }, message);
      say(`git commit ${sha.slice(0, 7)} "${message}" pushed; ${TOOL.name} asked to sync`);
    },
    status: () => git.status(),
  };
}

async function fluxTool(kc: KubeConfig, server: { url: string; root: string }): Promise<GitTool> {
  const flux = await createFluxApp(kc, server, { name: DEMO, path: './apps' });
  say(`git repository ${flux.url}; Flux GitRepository + Kustomization flux-system/${flux.name} apply ./apps`);
  return {
    url: flux.url,
    bareDir: flux.bareDir,
    commit: (files, message) => flux.commit(files, message),
    sync: () => flux.sync(),
    async applied(sha) {
      const k = await flux.kustomization();
      return k.status?.lastAppliedRevision === flux.revision(sha) && condition(k, 'Ready')?.status === 'True';
    },
    async status() {
      const k = await flux.kustomization();
      const ready = condition(k, 'Ready');
      return `flux ${ready?.status === 'True' ? 'Ready' : (ready?.reason ?? '…')}`;
    },
  };
}

/**
 * An Application as examples/argocd/application.yaml gives it (automated sync with self-heal,
 * the ignoreDifferences that leave weights and the revision selector key to Sluice). Argo CD
 * looks at the repository when the Application is made, so it starts with a note in apps/.
 */
async function argoTool(kc: KubeConfig, server: { url: string; root: string }): Promise<GitTool> {
  const app = await createArgoApp(
    kc,
    server,
    { name: DEMO, namespace: NS, path: 'apps', selfHeal: true, ...documentedSyncSettings() },
    { 'apps/README.md': `The shop app: ${APP_FILE}, synced by Argo CD, released by Sluice.\n` },
  );
  say(
    `git repository ${app.url}; Argo CD Application argocd/${app.name} syncs apps/ (auto-sync, self-heal, the documented ignoreDifferences)`,
  );
  return {
    url: app.url,
    bareDir: app.bareDir,
    commit: (files, message) => app.commit(files, message),
    sync: () => app.refresh(),
    async applied(sha) {
      const s = (await app.application()).status;
      return (
        s?.sync?.status === 'Synced' &&
        s.sync.revision === sha &&
        s.operationState?.syncResult?.revision === sha &&
        s.health?.status === 'Healthy'
      );
    },
    async status() {
      const s = (await app.application()).status;
      return `argocd ${s?.sync?.status ?? '…'}/${s?.health?.status ?? '…'}`;
    },
  };
}

function applyDelivery(kc: KubeConfig): Delivery {
  return {
    how: 'server-side apply (Flux is not available on this machine)',
    async release(image) {
      const objects = appObjects().map((o) =>
        o.kind === 'Rollout' ? (JSON.parse(JSON.stringify(o).replaceAll(V1, image)) as KubernetesObject) : o,
      );
      for (const obj of objects)
        await applyPatch(kc, objectPath(obj), obj, { fieldManager: 'sluice-demo', force: true });
    },
    status: async () => '',
  };
}

async function main(): Promise<number> {
  say(
    `bringing the sandbox up with ${TOOL.name} (the first run builds Kubernetes and ${TOOL.name} from source; later runs take seconds)`,
  );
  let env: SandboxEnv;
  let withTool = true;
  try {
    env = await up({ [TOOL.key]: true });
  } catch (err) {
    withTool = false;
    sandboxSay(
      `${TOOL.name} could not be started (${err instanceof Error ? err.message : err}); the demo applies directly`,
    );
    env = await up();
  }
  const kc = loadKubeConfig({ kubeconfig: env.KUBECONFIG });

  // Running before the old namespace goes: its Rollout's finalizer returns traffic to stable,
  // and only a running controller can take it off.
  const controller = startController(env);
  // The previous run's Flux objects or Application would apply its last commit into the new namespace.
  await removeFluxApp(kc, DEMO);
  await removeArgoApp(kc, DEMO);
  await resetNamespace(kc);
  await setTraffic(kc, { [APP]: '50' }, { [key(BAD)]: stringify({ image: BAD, errorRate: 0.1 }) });
  const delivery = withTool && env.GIT_URL ? await gitDelivery(kc, env) : applyDelivery(kc);
  say(`releases go out by ${delivery.how}`);

  const samples: Sample[] = [];
  const moments: Moment[] = [];
  const failures: string[] = [];
  const watchRelease = (release: string, done: (r: Rollout) => boolean, timeoutS: number) =>
    watch(kc, env, delivery, samples, release, done, timeoutS);
  try {
    await delivery.release(V1, `shop v1 (${V1})`);
    await watchRelease('v1', (r) => r.status?.phase === 'Healthy', 90);
    const v1 = (await getRollout(kc)).status?.stableRevision;

    say(`committing v2 (${GOOD}, healthy) — watch it move through the steps`);
    moments.push({ t: elapsed(), label: `v2 (${GOOD}) committed`, kind: 'release' });
    await delivery.release(GOOD, `shop v2 (${GOOD})`);
    const v2 = await watchRelease(
      'v2',
      (r) => r.status?.phase === 'Healthy' && r.status.stableRevision !== v1,
      150,
    );
    if (v2?.status?.phase === 'Healthy')
      moments.push({
        t: elapsed(),
        label: `v2 promoted (revision ${v2.status.stableRevision})`,
        kind: 'promoted',
      });
    else failures.push('v2 was not promoted');

    say(`committing v3 (${BAD}, returns 10% errors) — the success-rate gate should roll it back`);
    moments.push({ t: elapsed(), label: `v3 (${BAD}) committed`, kind: 'release' });
    await delivery.release(BAD, `shop v3 (${BAD})`);
    const v3 = await watchRelease('v3', (r) => r.status?.phase === 'Degraded', 150);
    if (v3?.status?.phase === 'Degraded') {
      moments.push({ t: elapsed(), label: `v3 rolled back: ${v3.status.message}`, kind: 'rollback' });
      const canaryWeight = await vsCanaryWeight(kc);
      if (canaryWeight !== 0)
        failures.push(`after the rollback the VirtualService gives the canary ${canaryWeight}%`);
      if (v3.status.stableRevision !== v2?.status?.stableRevision)
        failures.push('after the rollback stable is not v2');
    } else {
      failures.push('v3 was not rolled back');
    }

    if (delivery.git && v3?.status?.phase === 'Degraded') {
      failures.push(
        ...(await followWriteBack(kc, env, delivery, samples, moments, v2?.status?.stableRevision)),
      );
    }
  } finally {
    controller.kill('SIGTERM');
  }

  const reportPath = join(PATHS.logs, '..', 'demo-report.html');
  mkdirSync(join(PATHS.logs, '..'), { recursive: true });
  const summary = [
    `delivery: ${delivery.how}`,
    `v2 (${GOOD}): ${moments.some((m) => m.kind === 'promoted') ? 'promoted through every step' : 'NOT promoted'}`,
    `v3 (${BAD}): ${moments.some((m) => m.kind === 'rollback') ? 'rolled back automatically by the success-rate gate' : 'NOT rolled back'}`,
    ...(delivery.git
      ? [
          `git: ${moments.some((m) => m.label.startsWith('Sluice committed')) ? `Sluice committed the revert; ${APP_FILE} says ${GOOD} again` : 'NO revert was committed'}`,
        ]
      : []),
    `gates: success rate ≥ ${SUCCESS_MIN}%, p99 ≤ ${P99_MAX} ms, measured every ${INTERVAL_MS / 1000}s on the canary Service`,
    `took ${Math.round(elapsed())}s`,
  ];
  writeFileSync(
    reportPath,
    renderReport({
      title: 'Sluice demo: from git to production, a canary promoted and a canary rolled back',
      samples,
      moments,
      thresholds: { successRateMin: SUCCESS_MIN, p99MaxMs: P99_MAX },
      summary,
    }),
  );
  console.log(`\n${summary.map((l) => `  • ${l}`).join('\n')}`);
  if (delivery.git)
    console.log(
      `\ngit log of ${delivery.git.url}:\n${logSubjects(delivery.git.bareDir)
        .map((l) => `  ${l}`)
        .join('\n')}`,
    );
  console.log(`\nreport: ${reportPath}`);
  console.log(
    `the sandbox is still running: try \`KUBECONFIG=${env.KUBECONFIG} npx kubectl-sluice get rollout ${APP} -n ${NS}\`; \`npm run sandbox:down\` stops it`,
  );
  for (const f of failures) console.error(`demo: FAILED: ${f}`);
  return failures.length ? 1 : 0;
}

/**
 * After the rollback: Sluice's revert lands in git, the GitOps tool applies it, and the Rollout
 * settles Healthy on v2 without starting another release. Returns what did not happen.
 */
async function followWriteBack(
  kc: KubeConfig,
  env: SandboxEnv,
  delivery: Delivery,
  samples: Sample[],
  moments: Moment[],
  v2Stable: string | undefined,
): Promise<string[]> {
  const git = delivery.git as GitTool;
  const deadline = Date.now() + 90_000;
  say('waiting for Sluice to commit the revert to git');
  while (!readFileAt(git.bareDir, APP_FILE).includes(`image: ${GOOD}`)) {
    if (Date.now() > deadline) return ['Sluice did not commit a revert to git within 90s'];
    await new Promise((r) => setTimeout(r, 500));
  }
  const subject = logSubjects(git.bareDir)[0] ?? '';
  say(`git: "${subject}"`);
  moments.push({ t: elapsed(), label: `Sluice committed the revert: ${subject}`, kind: 'git' });
  const revert = headOf(git.bareDir);
  const historyBefore = (await getRollout(kc)).status?.history?.length ?? 0;
  await git.sync();
  const settled = await watch(
    kc,
    env,
    delivery,
    samples,
    'revert',
    (r) =>
      r.spec.template?.spec?.containers?.[0]?.image === GOOD &&
      r.status?.phase === 'Healthy' &&
      r.status.currentRevision === r.status.stableRevision,
    90,
  );
  if (!settled) return [`${TOOL.name} did not apply the revert, or the Rollout did not settle Healthy on v2`];
  if (!(await appliedWithin(git, revert, 60)))
    return [`${TOOL.name} does not report Sluice's revert ${revert.slice(0, 7)} applied and healthy`];
  moments.push({
    t: elapsed(),
    label: `${TOOL.name} applied the revert: git and the cluster agree on v2`,
    kind: 'git',
  });
  const problems: string[] = [];
  if (settled.status?.stableRevision !== v2Stable) problems.push('after the revert, stable is not v2');
  if ((settled.status?.history?.length ?? 0) !== historyBefore)
    problems.push('the revert started another release instead of settling on v2');
  return problems;
}

/** Whether the tool reports `sha` applied and healthy within `timeoutS`. */
async function appliedWithin(git: GitTool, sha: string, timeoutS: number): Promise<boolean> {
  const deadline = Date.now() + timeoutS * 1000;
  while (!(await git.applied(sha).catch(() => false))) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 500));
  }
  say(`${await git.status()} on ${sha.slice(0, 7)}`);
  return true;
}

async function watch(
  kc: KubeConfig,
  env: SandboxEnv,
  delivery: Delivery,
  samples: Sample[],
  release: string,
  done: (r: Rollout) => boolean,
  timeoutS: number,
): Promise<Rollout | undefined> {
  const deadline = Date.now() + timeoutS * 1000;
  let last = '';
  let lastPrinted = 0;
  while (Date.now() < deadline) {
    const r = await getRollout(kc).catch((err: unknown) => {
      if (isNotFound(err)) return undefined; // the GitOps tool has not applied it yet
      throw err;
    });
    if (!r) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      continue;
    }
    const s = r.status ?? {};
    const canary = { service: `${APP}-canary`, namespace: NS };
    const [rate, p99] = await Promise.all([
      promValue(env, successRateQuery(canary, INTERVAL_MS)),
      promValue(env, latencyP99Query(canary, INTERVAL_MS)),
    ]);
    const weight = s.canary?.weight ?? 0;
    samples.push({
      t: elapsed(),
      release,
      phase: s.phase ?? '',
      weight,
      successRate: weight > 0 ? rate : undefined,
      p99Ms: weight > 0 ? p99 : undefined,
    });
    const steps = r.spec.strategy.canary?.steps?.length ?? 0;
    const line = `${release}  ${(s.phase ?? '…').padEnd(11)} step ${Math.min((s.currentStepIndex ?? 0) + 1, steps)}/${steps}  weight ${String(weight).padStart(3)}%  success ${fmt(weight > 0 ? rate : undefined, '%', 2)}  p99 ${fmt(weight > 0 ? p99 : undefined, 'ms', 0)}`;
    const tool = await delivery.status().catch(() => '');
    // A new line when the release moves; while it only measures, one every few seconds.
    const state = `${s.phase} ${s.currentStepIndex} ${weight} ${tool} ${s.message}`;
    if (state !== last || Date.now() - lastPrinted >= 4000) {
      say(`${line}  ${tool ? `${tool}  ` : ''}${s.message ?? ''}`);
      lastPrinted = Date.now();
    }
    last = state;
    if (done(r)) return r;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  say(`${release}: gave up waiting after ${timeoutS}s`);
  return undefined;
}

const fmt = (v: number | undefined, unit: string, digits: number) =>
  v === undefined ? '   -  ' : `${v.toFixed(digits)}${unit}`;

async function promValue(env: SandboxEnv, query: string): Promise<number | undefined> {
  try {
    const res = await fetch(`${env.PROMETHEUS_URL}/api/v1/query?query=${encodeURIComponent(query)}`, {
      signal: AbortSignal.timeout(3000),
    });
    const body = (await res.json()) as { data?: { result?: { value: [number, string] }[] } };
    const v = Number(body.data?.result?.[0]?.value[1]);
    return Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined; // the live view is best effort; the gates are what decide
  }
}

function startController(env: SandboxEnv): ChildProcess {
  const proc = spawn(
    process.execPath,
    [
      join(REPO, 'bin/sluice.js'),
      'controller',
      '--namespace',
      NS,
      '--prometheus-url',
      env.PROMETHEUS_URL,
      '--metrics-addr',
      env.SLUICE_CONTROLLER_METRICS_ADDR,
      '--health-addr',
      '127.0.0.1:0',
      // The sandbox's git server speaks plain http on loopback; a real install keeps https only.
      '--git-allow-http',
    ],
    { env: { ...process.env, KUBECONFIG: env.KUBECONFIG }, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  say(`controller started (pid ${proc.pid}), metrics on ${env.SLUICE_CONTROLLER_METRICS_ADDR}`);
  return proc;
}

async function resetNamespace(kc: KubeConfig): Promise<void> {
  const path = `/api/v1/namespaces/${NS}`;
  try {
    await requestJson(kc, { method: 'DELETE', path });
    say(`deleting the previous demo namespace ${NS}`);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  for (;;) {
    try {
      await requestJson(kc, { method: 'GET', path });
      await new Promise((r) => setTimeout(r, 500));
    } catch (err) {
      if (isNotFound(err)) break;
      throw err;
    }
  }
  await requestJson(kc, { method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name: NS } } });
}

const key = (image: string) => image.replace(/[^-._a-zA-Z0-9]/g, '_');

async function setTraffic(
  kc: KubeConfig,
  load: Record<string, string>,
  profiles: Record<string, string>,
): Promise<void> {
  const cm = (name: string) => `/api/v1/namespaces/${SANDBOX_NAMESPACE}/configmaps/${name}`;
  await mergePatch(kc, cm(LOAD_CONFIGMAP), { data: load });
  await mergePatch(kc, cm(PROFILES_CONFIGMAP), { data: profiles });
  say(
    `traffic: ${Object.entries(load)
      .map(([h, r]) => `${r} rps to ${h}`)
      .join(', ')}; ${BAD} answers 10% of requests with 503`,
  );
}

const getRollout = (kc: KubeConfig) =>
  requestJson<Rollout>(kc, {
    method: 'GET',
    path: `/apis/sluice.dev/v1alpha1/namespaces/${NS}/rollouts/${APP}`,
  });

async function vsCanaryWeight(kc: KubeConfig): Promise<number | undefined> {
  const vs = await requestJson<{ spec: { http: { route: { weight?: number }[] }[] } }>(kc, {
    method: 'GET',
    path: `/apis/networking.istio.io/v1/namespaces/${NS}/virtualservices/${APP}`,
  });
  return vs.spec.http[0]?.route[1]?.weight;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`demo: ${err instanceof Error ? err.stack : err}`);
    process.exit(1);
  },
);
