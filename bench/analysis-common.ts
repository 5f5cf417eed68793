// Shared by the analysis benchmarks: a namespace of canary Rollouts with background gates on
// the sandbox's real API server, Prometheus and traffic simulator, the controller in-process,
// and watches that timestamp what traffic saw.

import { randomBytes } from 'node:crypto';
import type { KubeConfig, KubernetesObject, V1Service } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { loadKubeConfig, mergePatch, requestJson } from '../controller/kube/client.ts';
import { kubeSource, ResilientInformer } from '../controller/kube/informer.ts';
import { type RunningController, runController } from '../controller/main.ts';
import { REVISION_LABEL } from '../controller/revision.ts';
import type { VirtualService } from '../controller/traffic/virtual-service.ts';
import type { AnalysisRun, Gates, Rollout } from '../crds/index.ts';
import { canaryApp, objectPath } from '../sandbox/apps.ts';
import { readEnvFile, sandboxHealthy, up } from '../sandbox/lifecycle.ts';
import { adoptSandbox } from '../sandbox/lock.ts';
import { LOAD_CONFIGMAP, PROFILES_CONFIGMAP, SANDBOX_NAMESPACE } from '../sandbox/traffic/kube.ts';

export interface Bench {
  kc: KubeConfig;
  ns: string;
  names: string[];
  image: (name: string, version: number) => string;
  /** Per VirtualService: [time, canary weight] as watch events arrived. */
  weights: Map<string, [number, number][]>;
  runs: ResilientInformer<AnalysisRun & KubernetesObject>;
  /** Per canary Service: [time, revision selected] as watch events arrived. */
  selectors: Map<string, [number, string][]>;
  /** When this process's watch first saw each run Failed. */
  runFailedSeen: Map<string, number>;
  controller: RunningController;
  rollout(name: string): Promise<Rollout>;
  setImage(name: string, image: string): Promise<void>;
  setProfile(image: string, errorRate: number): Promise<void>;
  cleanup(): Promise<void>;
}

const cmPath = (name: string) => `/api/v1/namespaces/${SANDBOX_NAMESPACE}/configmaps/${name}`;

export async function setUp(opts: {
  prefix: string;
  rollouts: number;
  rps: number;
  weight: number;
  analysis: Gates;
}): Promise<Bench> {
  if (!(await sandboxHealthy())) {
    await up();
    adoptSandbox(); // left running, like a person's `npm run sandbox:up`
  }
  const env = readEnvFile();
  const kc = loadKubeConfig({ kubeconfig: env.KUBECONFIG });
  const ns = `${opts.prefix}-${randomBytes(3).toString('hex')}`;
  const names = Array.from({ length: opts.rollouts }, (_, i) => `app${i}`);
  const image = (name: string, v: number) => `bench/${ns}-${name}:${v}`;
  await requestJson(kc, { method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name: ns } } });
  for (const name of names) {
    const app = canaryApp(ns, {
      name,
      image: image(name, 1),
      steps: [{ setWeight: opts.weight }, { pause: {} }],
      canary: { analysis: opts.analysis },
    });
    for (const obj of app) {
      await requestJson(kc, { method: 'POST', path: objectPath(obj).replace(/\/[^/]+$/, ''), body: obj });
    }
  }
  const load = Object.fromEntries(names.map((n) => [`${n}.${ns}.svc.cluster.local`, String(opts.rps)]));
  await mergePatch(kc, cmPath(LOAD_CONFIGMAP), { data: load });
  const profileKeys: string[] = [];

  const { weights, informer: vs } = watchWeights(kc, ns);
  const runs = new ResilientInformer<AnalysisRun & KubernetesObject>(
    kubeSource(kc, `/apis/sluice.dev/v1alpha1/namespaces/${ns}/analysisruns`),
    { name: 'bench-runs' },
  );
  const selectors = new Map<string, [number, string][]>();
  const services = new ResilientInformer<V1Service>(kubeSource(kc, `/api/v1/namespaces/${ns}/services`), {
    name: 'bench-services',
  });
  services.onChange((svc) => {
    const name = svc.metadata?.name ?? '';
    if (!name.endsWith('-canary')) return;
    const seen = selectors.get(name) ?? [];
    const rev = svc.spec?.selector?.[REVISION_LABEL] ?? '';
    if (seen.at(-1)?.[1] !== rev) seen.push([Date.now(), rev]);
    selectors.set(name, seen);
  });
  services.start();
  const runFailedSeen = new Map<string, number>();
  runs.onChange((r) => {
    const key = r.metadata?.name ?? '';
    if (r.status?.phase === 'Failed' && !runFailedSeen.has(key)) runFailedSeen.set(key, Date.now());
  });
  vs.start();
  runs.start();
  await Promise.all([vs.waitForSync(), runs.waitForSync()]);

  const controller = await runController({
    kubeconfig: env.KUBECONFIG,
    namespace: ns,
    prometheusUrl: env.PROMETHEUS_URL,
    metricsAddr: '127.0.0.1:0',
    healthAddr: '127.0.0.1:0',
    leaderElectionNamespace: 'default',
    logLevel: process.env.BENCH_LOG ?? 'warn',
  });
  const rolloutPath = (name: string) => `/apis/sluice.dev/v1alpha1/namespaces/${ns}/rollouts/${name}`;
  return {
    kc,
    ns,
    names,
    image,
    weights,
    runs,
    runFailedSeen,
    selectors,
    controller,
    rollout: (name) => requestJson<Rollout>(kc, { method: 'GET', path: rolloutPath(name) }),
    setImage: (name, img) =>
      requestJson(kc, {
        method: 'PATCH',
        path: rolloutPath(name),
        contentType: 'application/json-patch+json',
        body: [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: img }],
      }),
    async setProfile(img, errorRate) {
      const key = img.replace(/[^-._a-zA-Z0-9]/g, '_');
      profileKeys.push(key);
      await mergePatch(kc, cmPath(PROFILES_CONFIGMAP), {
        data: { [key]: stringify({ image: img, errorRate }) },
      });
    },
    async cleanup() {
      await controller.stop();
      await vs.stop();
      await services.stop();
      await runs.stop();
      const none = (keys: string[]) => Object.fromEntries(keys.map((k) => [k, null]));
      await mergePatch(kc, cmPath(LOAD_CONFIGMAP), { data: none(Object.keys(load)) });
      if (profileKeys.length) await mergePatch(kc, cmPath(PROFILES_CONFIGMAP), { data: none(profileKeys) });
      await requestJson(kc, { method: 'DELETE', path: `/api/v1/namespaces/${ns}` }).catch(() => undefined);
    },
  };
}

/** A watch on a namespace's VirtualServices: per name, [time seen, canary weight] on every change. */
export function watchWeights(kc: KubeConfig, ns: string) {
  const weights = new Map<string, [number, number][]>();
  const informer = new ResilientInformer<VirtualService & KubernetesObject>(
    kubeSource(kc, `/apis/networking.istio.io/v1/namespaces/${ns}/virtualservices`),
    { name: 'bench-vs' },
  );
  informer.onChange((v) => {
    const at = Date.now();
    const w = v.spec.http?.[0]?.route?.[1]?.weight ?? 0;
    const seen = weights.get(v.metadata?.name ?? '') ?? [];
    if (seen.at(-1)?.[1] !== w) seen.push([at, w]);
    weights.set(v.metadata?.name ?? '', seen);
  });
  return { weights, informer };
}

export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 120_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export { percentile } from './stats.ts';

/** The failing measurement that decided a Failed run: when it was recorded (epoch ms). */
export function failedAt(run: AnalysisRun): number | undefined {
  for (const r of run.status?.metricResults ?? []) {
    if (r.phase !== 'Failed') continue;
    const m = [...r.measurements].reverse().find((x) => x.phase === 'Failed');
    if (m?.finishedAt) return Date.parse(m.finishedAt);
  }
  return undefined;
}

export interface Release {
  name: string;
  round: number;
  /** The failing measurement's finishedAt, from the run's status. */
  failedAt: number;
  /** This process's watch saw the run Failed. */
  runSeenAt: number;
  /** The VirtualService first gave the canary traffic. */
  trafficAt: number;
  /** The VirtualService showed canary weight 0 again. */
  zeroAt: number;
  /** The canary Service was pointed back at the stable revision (abort). */
  canaryServiceBackAt: number;
}

/** Runs rounds of bad releases on every Rollout; returns per-release facts. */
export async function badReleases(b: Bench, rounds: number, errorRate: number): Promise<Release[]> {
  for (const name of b.names) {
    await until(`${name} to be Healthy`, async () =>
      (await b.rollout(name)).status?.phase === 'Healthy' ? true : undefined,
    );
  }
  const out: Release[] = [];
  for (let round = 1; round <= rounds; round++) {
    const version = round + 1;
    for (const name of b.names) await b.setProfile(b.image(name, version), errorRate);
    const since = new Map(b.names.map((n) => [n, b.weights.get(n)?.length ?? 0]));
    const before = new Map(
      await Promise.all(b.names.map(async (n) => [n, (await b.rollout(n)).status?.currentRevision] as const)),
    );
    await Promise.all(b.names.map((name) => b.setImage(name, b.image(name, version))));
    await Promise.all(
      b.names.map(async (name) => {
        const r = await until(`${name} round ${round} to be rolled back`, async () => {
          const ro = await b.rollout(name);
          const fresh = ro.status?.currentRevision !== before.get(name);
          return fresh && ro.status?.phase === 'Degraded' && ro.status.abort ? ro : undefined;
        });
        let runName = '';
        const failed = await until(`${name}: its Failed run`, () => {
          const run = b.runs
            .list(b.ns)
            .find(
              (x) =>
                x.spec.rollout === name &&
                x.spec.revision === r.status?.currentRevision &&
                x.status?.phase === 'Failed',
            );
          runName = run?.metadata.name ?? '';
          return run ? failedAt(run) : undefined;
        });
        const events = (b.weights.get(name) ?? []).slice(since.get(name));
        const traffic = events.find(([, w]) => w > 0);
        const zero = await until(`${name}: canary weight 0 seen`, () => {
          const evs = (b.weights.get(name) ?? []).slice(since.get(name));
          const i = evs.findIndex(([, w]) => w > 0);
          return i >= 0 ? evs.slice(i).find(([, w]) => w === 0)?.[0] : undefined;
        });
        out.push({
          name,
          round,
          failedAt: failed,
          runSeenAt: b.runFailedSeen.get(runName) ?? Number.NaN,
          trafficAt: traffic?.[0] ?? Number.NaN,
          zeroAt: zero,
          canaryServiceBackAt:
            (b.selectors.get(`${name}-canary`) ?? []).find(
              ([at, rev]) => at >= failed && rev === r.status?.stableRevision,
            )?.[0] ?? Number.NaN,
        });
      }),
    );
  }
  return out;
}
