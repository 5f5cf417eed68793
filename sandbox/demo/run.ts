// `npm run demo`: the controller releasing real Rollouts in the local sandbox. A healthy v2 is
// walked through every canary step under live Prometheus gates and promoted; a broken v3 (10%
// errors) is caught by the success-rate gate and rolled back on its own. Prints the release
// live, writes an HTML report, and exits non-zero if anything did not happen as it should.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
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
import { type SandboxEnv, sandboxEnv, sandboxHealthy, up } from '../lifecycle.ts';
import { LOAD_CONFIGMAP, PROFILES_CONFIGMAP, SANDBOX_NAMESPACE } from '../traffic/kube.ts';
import { type Moment, renderReport, type Sample } from './report.ts';

const NS = 'sluice-demo';
const APP = 'shop';
const GOOD = 'demo/shop:2.0';
const BAD = 'demo/shop:3.0';
const SUCCESS_MIN = 99;
const P99_MAX = 500;
const INTERVAL_MS = 5000;

const started = Date.now();
const elapsed = () => (Date.now() - started) / 1000;
const say = (line: string) => console.log(`[demo ${elapsed().toFixed(0).padStart(3)}s] ${line}`);

async function main(): Promise<number> {
  say('bringing the sandbox up (the first run builds Kubernetes from source; later runs take seconds)');
  const env = (await sandboxHealthy()) ? sandboxEnv() : await up();
  const kc = loadKubeConfig({ kubeconfig: env.KUBECONFIG });

  await resetNamespace(kc);
  await setTraffic(kc, { [APP]: '50' }, { [key(BAD)]: stringify({ image: BAD, errorRate: 0.1 }) });
  const app = canaryApp(NS, {
    name: APP,
    image: 'demo/shop:1.0',
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
  });
  for (const obj of app)
    await applyPatch(kc, objectPath(obj), obj, { fieldManager: 'sluice-demo', force: true });
  say(
    `applied Services ${APP}-stable/${APP}-canary, VirtualService ${APP} and Rollout ${APP} (v1) in namespace ${NS}`,
  );

  const controller = startController(env);
  const samples: Sample[] = [];
  const moments: Moment[] = [];
  const failures: string[] = [];
  try {
    await watch(kc, env, samples, 'v1', (r) => r.status?.phase === 'Healthy', 60);
    const v1 = (await getRollout(kc)).status?.stableRevision;

    say(`committing v2 (${GOOD}, healthy) — watch it move through the steps`);
    moments.push({ t: elapsed(), label: `v2 (${GOOD}) released`, kind: 'release' });
    await setImage(kc, GOOD);
    const v2 = await watch(
      kc,
      env,
      samples,
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
    moments.push({ t: elapsed(), label: `v3 (${BAD}) released`, kind: 'release' });
    await setImage(kc, BAD);
    const v3 = await watch(kc, env, samples, 'v3', (r) => r.status?.phase === 'Degraded', 150);
    if (v3?.status?.phase === 'Degraded') {
      moments.push({ t: elapsed(), label: `v3 rolled back: ${v3.status.message}`, kind: 'rollback' });
      const vs = await requestJson<{ spec: { http: { route: { weight?: number }[] }[] } }>(kc, {
        method: 'GET',
        path: `/apis/networking.istio.io/v1/namespaces/${NS}/virtualservices/${APP}`,
      });
      const canaryWeight = vs.spec.http[0]?.route[1]?.weight;
      if (canaryWeight !== 0)
        failures.push(`after the rollback the VirtualService gives the canary ${canaryWeight}%`);
      if (v3.status.stableRevision !== v2?.status?.stableRevision)
        failures.push('after the rollback stable is not v2');
    } else {
      failures.push('v3 was not rolled back');
    }
  } finally {
    controller.kill('SIGTERM');
  }

  const reportPath = join(PATHS.logs, '..', 'demo-report.html');
  mkdirSync(join(PATHS.logs, '..'), { recursive: true });
  const summary = [
    `v2 (${GOOD}): ${moments.some((m) => m.kind === 'promoted') ? 'promoted through every step' : 'NOT promoted'}`,
    `v3 (${BAD}): ${moments.some((m) => m.kind === 'rollback') ? 'rolled back automatically by the success-rate gate' : 'NOT rolled back'}`,
    `gates: success rate ≥ ${SUCCESS_MIN}%, p99 ≤ ${P99_MAX} ms, measured every ${INTERVAL_MS / 1000}s on the canary Service`,
    `took ${Math.round(elapsed())}s`,
  ];
  writeFileSync(
    reportPath,
    renderReport({
      title: 'Sluice demo: a canary promoted, a canary rolled back',
      samples,
      moments,
      thresholds: { successRateMin: SUCCESS_MIN, p99MaxMs: P99_MAX },
      summary,
    }),
  );
  console.log(`\n${summary.map((l) => `  • ${l}`).join('\n')}`);
  console.log(`\nreport: ${reportPath}`);
  console.log(
    `the sandbox is still running: try \`KUBECONFIG=${env.KUBECONFIG} npx kubectl-sluice status ${APP} -n ${NS}\`; \`npm run sandbox:down\` stops it`,
  );
  for (const f of failures) console.error(`demo: FAILED: ${f}`);
  return failures.length ? 1 : 0;
}

async function watch(
  kc: KubeConfig,
  env: SandboxEnv,
  samples: Sample[],
  release: string,
  done: (r: Rollout) => boolean,
  timeoutS: number,
): Promise<Rollout | undefined> {
  const deadline = Date.now() + timeoutS * 1000;
  let last = '';
  while (Date.now() < deadline) {
    const r = await getRollout(kc);
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
    if (line !== last) say(`${line}  ${s.message ?? ''}`);
    last = line;
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

async function setImage(kc: KubeConfig, image: string): Promise<void> {
  await requestJson(kc, {
    method: 'PATCH',
    path: `/apis/sluice.dev/v1alpha1/namespaces/${NS}/rollouts/${APP}`,
    contentType: 'application/json-patch+json',
    body: [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: image }],
  });
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`demo: ${err instanceof Error ? err.stack : err}`);
    process.exit(1);
  },
);
