// `npm run demo`: the GitOps path end to end on the local sandbox. The app lives in a git
// repository on the sandbox's git server; Flux applies it; Sluice releases it. A healthy v2 is
// committed and walked through every canary step under live Prometheus gates; a broken v3 (10%
// errors) is committed, caught by the success-rate gate, rolled back, and Sluice commits the
// revert so git again says v2; Flux applies it and the Rollout ends Healthy on v2. Prints the
// release live, writes an HTML report, and exits non-zero if anything did not happen as it should.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
import { logSubjects, readFileAt } from '../git/repo.ts';
import { condition, createFluxApp, type FluxApp, removeFluxApp } from '../gitops.ts';
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

const started = Date.now();
const elapsed = () => (Date.now() - started) / 1000;
const say = (line: string) => console.log(`[demo ${elapsed().toFixed(0).padStart(3)}s] ${line}`);

/** How a new version reaches the cluster: a git commit Flux applies, or (without Flux) an apply. */
interface Delivery {
  how: string;
  release(image: string, message: string): Promise<void>;
  /** Flux's word on the current revision, for the live view. */
  status(): Promise<string>;
  flux?: FluxApp;
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
    if (obj.kind === 'VirtualService')
      // Created by Flux, then Sluice's: see examples/flux/README.md.
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
  const text = `# The shop app, delivered by Flux and released by Sluice.\n${docs.join('---\n')}`;
  return text.replace(`image: ${V1}`, `image: ${image}`);
}

async function gitDelivery(kc: KubeConfig, env: SandboxEnv): Promise<Delivery> {
  if (!env.GIT_URL || !env.GIT_ROOT) throw new Error('the sandbox has no git server');
  const flux = await createFluxApp(
    kc,
    { url: env.GIT_URL, root: env.GIT_ROOT },
    { name: 'sluice-demo', path: './apps' },
  );
  say(`git repository ${flux.url}; Flux GitRepository + Kustomization flux-system/${flux.name} apply ./apps`);
  return {
    how: `git commits to ${flux.url}, applied by Flux`,
    flux,
    async release(image, message) {
      const sha = await flux.commit({ [APP_FILE]: appYaml(image) }, message);
      say(`git commit ${sha.slice(0, 7)} "${message}" pushed; Flux asked to sync`);
    },
    async status() {
      const k = await flux.kustomization();
      const ready = condition(k, 'Ready');
      return `flux ${ready?.status === 'True' ? 'Ready' : (ready?.reason ?? '…')}`;
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
    'bringing the sandbox up with Flux (the first run builds Kubernetes and Flux from source; later runs take seconds)',
  );
  let env: SandboxEnv;
  let withFlux = true;
  try {
    env = await up({ flux: true });
  } catch (err) {
    withFlux = false;
    sandboxSay(
      `Flux could not be started (${err instanceof Error ? err.message : err}); the demo applies directly`,
    );
    env = await up();
  }
  const kc = loadKubeConfig({ kubeconfig: env.KUBECONFIG });

  // Running before the old namespace goes: its Rollout's finalizer returns traffic to stable,
  // and only a running controller can take it off.
  const controller = startController(env);
  // The previous run's Flux objects would apply its last commit into the new namespace.
  await removeFluxApp(kc, 'sluice-demo');
  await resetNamespace(kc);
  await setTraffic(kc, { [APP]: '50' }, { [key(BAD)]: stringify({ image: BAD, errorRate: 0.1 }) });
  const delivery = withFlux && env.GIT_URL ? await gitDelivery(kc, env) : applyDelivery(kc);
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

    if (delivery.flux && v3?.status?.phase === 'Degraded') {
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
    ...(delivery.flux
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
  if (delivery.flux)
    console.log(
      `\ngit log of ${delivery.flux.url}:\n${logSubjects(delivery.flux.bareDir)
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
 * After the rollback: Sluice's revert lands in git, Flux applies it, and the Rollout settles
 * Healthy on v2 without starting another release. Returns what did not happen.
 */
async function followWriteBack(
  kc: KubeConfig,
  env: SandboxEnv,
  delivery: Delivery,
  samples: Sample[],
  moments: Moment[],
  v2Stable: string | undefined,
): Promise<string[]> {
  const flux = delivery.flux as FluxApp;
  const deadline = Date.now() + 90_000;
  say('waiting for Sluice to commit the revert to git');
  while (!readFileAt(flux.bareDir, APP_FILE).includes(`image: ${GOOD}`)) {
    if (Date.now() > deadline) return ['Sluice did not commit a revert to git within 90s'];
    await new Promise((r) => setTimeout(r, 500));
  }
  const subject = logSubjects(flux.bareDir)[0] ?? '';
  say(`git: "${subject}"`);
  moments.push({ t: elapsed(), label: `Sluice committed the revert: ${subject}`, kind: 'git' });
  const historyBefore = (await getRollout(kc)).status?.history?.length ?? 0;
  await flux.sync();
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
  if (!settled) return ['Flux did not apply the revert, or the Rollout did not settle Healthy on v2'];
  moments.push({
    t: elapsed(),
    label: 'Flux applied the revert: git and the cluster agree on v2',
    kind: 'git',
  });
  const problems: string[] = [];
  if (settled.status?.stableRevision !== v2Stable) problems.push('after the revert, stable is not v2');
  if ((settled.status?.history?.length ?? 0) !== historyBefore)
    problems.push('the revert started another release instead of settling on v2');
  return problems;
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
      if (isNotFound(err)) return undefined; // Flux has not applied it yet
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
    const flux = await delivery.status().catch(() => '');
    // A new line when the release moves; while it only measures, one every few seconds.
    const state = `${s.phase} ${s.currentStepIndex} ${weight} ${flux} ${s.message}`;
    if (state !== last || Date.now() - lastPrinted >= 4000) {
      say(`${line}  ${flux ? `${flux}  ` : ''}${s.message ?? ''}`);
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
