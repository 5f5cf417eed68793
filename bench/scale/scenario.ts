// One controller, N Rollouts, on the sandbox: create, let the controller take them over, release
// every Rollout at once (wave 1, all good), again with 10% bad versions (wave 2), then leave
// them idle. Everything is timed from watches in this process and the API server's audit log.
import { existsSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { isNotFound, mergePatch, requestJson } from '../../controller/kube/client.ts';
import { kubeSource, ResilientInformer } from '../../controller/kube/informer.ts';
import { DEFAULT_WORKERS } from '../../controller/main.ts';
import type { AnalysisRun } from '../../crds/index.ts';
import { objectPath } from '../../sandbox/apps.ts';
import { auditLogPath, scaleNodes } from '../../sandbox/cluster.ts';
import type { SandboxEnv } from '../../sandbox/lifecycle.ts';
import { LOAD_CONFIGMAP, PROFILES_CONFIGMAP, SANDBOX_NAMESPACE } from '../../sandbox/traffic/kube.ts';
import { failedAt, watchWeights } from '../analysis-common.ts';
import { histogramDelta, histogramQuantile, parseHistogram, percentile } from '../stats.ts';
import { type AuditRequest, breakdown, isWrite, parseAuditLog, requestsBetween } from './audit.ts';
import {
  accountKubeconfig,
  argoReconcileMs,
  type ControllerName,
  readLog,
  type SluiceRuntime,
  startController,
  userOf,
} from './controllers.ts';
import { type Sample, sampler } from './process.ts';
import { stepLateness, zeroAfterTraffic } from './timeline.ts';
import { argoApp, argoTemplate, PAUSE_SECONDS, STEP_WEIGHTS, sluiceApp } from './workloads.ts';

export interface ScenarioOptions {
  controller: ControllerName;
  rollouts: number;
  /** Requests per second the simulator sends to each Rollout's host. */
  rps: number;
  /** Every how-many-th Rollout gets a bad version in wave 2 (10 → 10%). */
  badEvery: number;
  idleSeconds: number;
  sluiceRuntime: SluiceRuntime;
  log: (msg: string) => void;
}

export interface Summary {
  p50: number;
  p99: number;
  max: number;
  n: number;
}

export interface ScenarioResult {
  controller: ControllerName;
  /** Sluice only: bundled JavaScript or tsx. */
  runtime?: SluiceRuntime;
  rollouts: number;
  startedAt: string;
  loadAverage: [number, number, number];
  seconds: { takeOver: number; wave1: number; wave2: number; settle: number; idle: number };
  rssMb: { peak: number; steady: number };
  /** RSS every 5 s: [seconds since the controller started, MB], to see when the peak came. */
  rssTimeline?: [number, number][];
  cpuSeconds: { total: number; waves: number; idle: number };
  reconcileMs: Summary & {
    source: string;
    /** Sluice: passes that neither acted nor wrote status, i.e. without waiting on the API server. */
    unchanged?: { p50: number; p99: number };
  };
  stepLatenessMs: Summary;
  rollbackMs: { fromRunFailedSeen: Summary; fromMeasurement: Summary };
  apiRequests: { perRelease: number; waves: number; top: [string, number][] };
  /** The API server's own time on each of the controller's writes during the waves (audit log). */
  apiServerWriteMs?: Summary;
  /** Sluice's reconcile workers (SLUICE_WORKERS, else its default). */
  workers?: number;
  idle: { writesPerMinute: number; requestsPerMinute: number; writes: [string, number][] };
  prometheusQueriesPerMinute: number;
  releases: {
    good: number;
    bad: number;
    promoted: number;
    rolledBack: number;
    /** Wrong outcomes (absent from results recorded before they were counted). */
    goodRolledBack?: number;
    badPromoted?: number;
  };
  /** Waves that ran out of time, with how far they got. */
  unfinished: string[];
}

interface Kind {
  group: string;
  objects: (ns: string, name: string, image: string) => KubernetesObject[];
  promoted(r: TrackedRollout, image: string): boolean;
  aborted(r: TrackedRollout, image: string): boolean;
}

interface TrackedRollout extends KubernetesObject {
  spec: { template: { spec: { containers: { image: string }[] } } };
  status?: {
    phase?: string;
    abort?: boolean;
    observedGeneration?: number | string;
    stableRevision?: string;
    currentRevision?: string;
    stableRS?: string;
    currentPodHash?: string;
  };
}

const imageOf = (r: TrackedRollout) => r.spec.template.spec.containers[0]?.image;
const observed = (r: TrackedRollout) =>
  String(r.status?.observedGeneration) === String(r.metadata?.generation);

const KINDS: Record<ControllerName, Kind> = {
  sluice: {
    group: 'sluice.dev',
    objects: sluiceApp,
    promoted: (r, image) =>
      imageOf(r) === image &&
      observed(r) &&
      r.status?.phase === 'Healthy' &&
      !!r.status.stableRevision &&
      r.status.stableRevision === r.status.currentRevision,
    aborted: (r, image) => imageOf(r) === image && observed(r) && r.status?.abort === true,
  },
  argo: {
    group: 'argoproj.io',
    objects: argoApp,
    // Argo (v1.9) writes observedGeneration as the generation in a string.
    promoted: (r, image) =>
      imageOf(r) === image &&
      observed(r) &&
      r.status?.phase === 'Healthy' &&
      !!r.status.stableRS &&
      r.status.stableRS === r.status.currentPodHash,
    aborted: (r, image) => imageOf(r) === image && observed(r) && r.status?.abort === true,
  },
};

export function summarize(values: readonly number[]): Summary {
  return {
    p50: percentile(values, 50),
    p99: percentile(values, 99),
    max: values.length ? Math.max(...values) : Number.NaN,
    n: values.length,
  };
}

/** Runs fn over items with at most `limit` at once. */
async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Per 100 Rollouts: on a 2-core machine shared with four other sandboxes, waves are slow. */
const WAVE_TIMEOUT_MS = 600_000;

const cmPath = (name: string) => `/api/v1/namespaces/${SANDBOX_NAMESPACE}/configmaps/${name}`;

async function deleteNamespace(kc: KubeConfig, ns: string, timeoutMs: number) {
  await requestJson(kc, { method: 'DELETE', path: `/api/v1/namespaces/${ns}` }).catch((e) => {
    if (!isNotFound(e)) throw e;
  });
  await waitUntil(
    `namespace ${ns} to be gone`,
    async () =>
      requestJson(kc, { method: 'GET', path: `/api/v1/namespaces/${ns}` }).then(
        () => false,
        (e) => isNotFound(e),
      ),
    timeoutMs,
  );
}

/** A run killed midway leaves its namespace; with no controller left, Sluice's finalizers would hold it. */
async function removeLeftovers(kc: KubeConfig, ns: string) {
  const list = await requestJson<{ items: KubernetesObject[] }>(kc, {
    method: 'GET',
    path: `/apis/sluice.dev/v1alpha1/namespaces/${ns}/rollouts`,
  }).catch(() => ({ items: [] }));
  await pool(list.items, 16, (r) =>
    mergePatch(kc, `/apis/sluice.dev/v1alpha1/namespaces/${ns}/rollouts/${r.metadata?.name}`, {
      metadata: { finalizers: null },
    }).catch(() => undefined),
  );
  await deleteNamespace(kc, ns, 300_000);
}

async function prometheusQueries(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('prometheus_http_requests_total{') && line.includes('handler="/api/v1/query"'))
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

async function readFrom(file: string, offset: number): Promise<string> {
  if (!existsSync(file)) return '';
  const fh = await open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    const buf = Buffer.alloc(Math.max(0, size - offset));
    await fh.read(buf, 0, buf.length, offset);
    return buf.toString('utf8');
  } finally {
    await fh.close();
  }
}

const fileSize = (f: string) => (existsSync(f) ? statSync(f).size : 0);

export async function runScenario(
  kc: KubeConfig,
  env: SandboxEnv,
  o: ScenarioOptions,
): Promise<ScenarioResult> {
  const kind = KINDS[o.controller];
  const ns = `scale-${o.controller}-${o.rollouts}`;
  const names = Array.from({ length: o.rollouts }, (_, i) => `app${i}`);
  const bad = new Set(names.filter((_, i) => i % o.badEvery === 0));
  const image = (name: string, v: number) => `bench/${ns}-${name}:${v}`;
  const rolloutsPath = `/apis/${kind.group}/v1alpha1/namespaces/${ns}/rollouts`;

  await removeLeftovers(kc, ns);
  // kwok's fake nodes take 110 pods each; a release briefly runs two pods per Rollout.
  await scaleNodes(Math.max(3, Math.ceil((o.rollouts * 2.2) / 110) + 1));
  await requestJson(kc, { method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name: ns } } });
  if (o.controller === 'argo') {
    const t = argoTemplate(ns, env.PROMETHEUS_URL);
    await requestJson(kc, { method: 'POST', path: objectPath(t).replace(/\/[^/]+$/, ''), body: t });
  }
  o.log(`${ns}: creating ${o.rollouts} Rollouts with their Services and VirtualServices`);
  await pool(names, 16, async (name) => {
    for (const obj of kind.objects(ns, name, image(name, 1)))
      await requestJson(kc, { method: 'POST', path: objectPath(obj).replace(/\/[^/]+$/, ''), body: obj });
  });
  const loadKeys = names.map((n) => `${n}.${ns}.svc.cluster.local`);
  await mergePatch(kc, cmPath(LOAD_CONFIGMAP), {
    data: Object.fromEntries(loadKeys.map((k) => [k, String(o.rps)])),
  });
  const profileKey = (img: string) => img.replace(/[^-._a-zA-Z0-9]/g, '_');
  const badImages = [...bad].map((n) => image(n, 3));
  await mergePatch(kc, cmPath(PROFILES_CONFIGMAP), {
    data: Object.fromEntries(
      badImages.map((img) => [profileKey(img), stringify({ image: img, errorRate: 0.5 })]),
    ),
  });

  // Watches: what the cluster saw, timestamped on arrival.
  const { weights, informer: vs } = watchWeights(kc, ns);
  const rollouts = new ResilientInformer<TrackedRollout>(kubeSource(kc, rolloutsPath), {
    name: 'bench-rollouts',
  });
  const runFailedSeen = new Map<string, number>();
  const failedMeasurement = new Map<string, number>();
  const runs = new ResilientInformer<AnalysisRun & KubernetesObject>(
    kubeSource(kc, `/apis/${kind.group}/v1alpha1/namespaces/${ns}/analysisruns`),
    { name: 'bench-runs' },
  );
  runs.onChange((r) => {
    const owner = r.metadata?.ownerReferences?.[0]?.name ?? '';
    if (r.status?.phase !== 'Failed' || runFailedSeen.has(owner)) return;
    runFailedSeen.set(owner, Date.now());
    const m = failedAt(r);
    if (m !== undefined) failedMeasurement.set(owner, m);
  });
  for (const i of [vs, rollouts, runs]) i.start();
  await Promise.all([vs, rollouts, runs].map((i) => i.waitForSync()));

  const kubeconfig = await accountKubeconfig(kc, o.controller, ns);
  const auditFile = auditLogPath();
  const auditStart = fileSize(auditFile);
  const t0 = Date.now();
  const controller = await startController(o.controller, kubeconfig, ns, env.PROMETHEUS_URL, o.sluiceRuntime);
  const proc = sampler(controller.pid);
  const count = (ok: (r: TrackedRollout, name: string) => boolean) =>
    names.filter((n) => {
      const r = rollouts.get(ns, n);
      return r !== undefined && ok(r, n);
    }).length;
  const waitAll = async (
    what: string,
    ok: (r: TrackedRollout, name: string) => boolean,
    timeoutMs: number,
  ) => {
    let last = 0;
    return waitUntil(
      what,
      () => {
        if (controller.proc.exitCode !== null || controller.proc.signalCode !== null)
          throw new Error(`${o.controller} exited (${controller.logFile})`);
        const c = count(ok);
        if (Date.now() - last > 10_000) {
          o.log(`${ns}: ${what}: ${c}/${o.rollouts}`);
          last = Date.now();
        }
        return c === o.rollouts;
      },
      timeoutMs,
    );
  };
  const setImages = (v: number) =>
    pool(names, 32, (name) =>
      requestJson(kc, {
        method: 'PATCH',
        path: `${rolloutsPath}/${name}`,
        contentType: 'application/json-patch+json',
        body: [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: image(name, v) }],
      }),
    );
  const perRollout = Math.max(1, o.rollouts / 100);
  try {
    await waitAll('taken over', (r, n) => kind.promoted(r, image(n, 1)), 300_000 * perRollout);
    const metrics0 = await fetch(controller.metricsUrl).then((r) => r.text());
    const prom0 = await prometheusQueries(env.PROMETHEUS_URL);

    const t1 = Date.now();
    o.log(`${ns}: wave 1: releasing ${o.rollouts} good versions at once`);
    await setImages(2);
    // A wave that does not finish in time is recorded as such (how far it got), not thrown away.
    const unfinished: string[] = [];
    const wave = (what: string, ok: (r: TrackedRollout, name: string) => boolean) =>
      waitAll(what, ok, WAVE_TIMEOUT_MS * perRollout).catch((e: Error) => {
        unfinished.push(`${what}: ${count(ok)}/${o.rollouts} (${e.message})`);
        o.log(unfinished.at(-1) ?? '');
      });
    // A wave ends when every release has ended, rightly or not: a controller that rolls back a
    // good version has decided, and waiting out the timeout for it would measure nothing.
    await wave(
      'wave 1 promoted or rolled back',
      (r, n) => kind.promoted(r, image(n, 2)) || kind.aborted(r, image(n, 2)),
    );
    const wave1RolledBack = count((r, n) => kind.aborted(r, image(n, 2)));

    const wave1Promoted = count((r, n) => kind.promoted(r, image(n, 2)));
    const t2 = Date.now();
    o.log(`${ns}: wave 2: ${bad.size} bad versions among ${o.rollouts}`);
    await setImages(3);
    // A bad version's rollback has ended once its canary weight is back at 0, or when the
    // controller aborted before giving it any traffic at all (Argo Rollouts does, on a NaN).
    const offCanary = (n: string) => {
      const tl = weights.get(n) ?? [];
      return zeroAfterTraffic(tl, t2) !== undefined || tl.every(([at, w]) => at < t2 || w === 0);
    };
    const ended = (r: TrackedRollout, n: string) =>
      kind.promoted(r, image(n, 3)) || (kind.aborted(r, image(n, 3)) && (!bad.has(n) || offCanary(n)));
    await wave('wave 2 promoted or rolled back', ended);
    const t3 = Date.now();
    const prom1 = await prometheusQueries(env.PROMETHEUS_URL);

    // Scale-downs after promotion and abort follow the waves; idle starts once the controller
    // has written nothing for 15 s (by the audit log), or after 5 minutes, whichever is first.
    const user = userOf(o.controller);
    let lastWrite = Date.now();
    let offset = fileSize(auditFile);
    await waitUntil(
      'the controller to go quiet',
      async () => {
        const writes = parseAuditLog(await readFrom(auditFile, offset)).filter(
          (r) => r.user === user && isWrite(r),
        );
        offset = fileSize(auditFile);
        if (writes.length) lastWrite = Math.max(lastWrite, ...writes.map((r) => r.at));
        return Date.now() - lastWrite > 15_000 || Date.now() - t3 > 300_000;
      },
      400_000,
    );
    const tIdle = Date.now();
    o.log(`${ns}: idle for ${o.idleSeconds}s`);
    await new Promise((r) => setTimeout(r, o.idleSeconds * 1000));
    const tEnd = Date.now();
    const metrics1 = await fetch(controller.metricsUrl).then((r) => r.text());
    proc.stop();

    const audit: AuditRequest[] = parseAuditLog(await readFrom(auditFile, auditStart));
    const waveRequests = requestsBetween(audit, user, t1, t3);
    const idleRequests = requestsBetween(audit, user, tIdle, tEnd);
    const idleWrites = idleRequests.filter(isWrite);
    const idleMinutes = (tEnd - tIdle) / 60_000;

    let reconcileMs: ScenarioResult['reconcileMs'];
    if (o.controller === 'sluice') {
      const name = 'sluice_reconcile_duration_seconds';
      const b = histogramDelta(parseHistogram(metrics1, name), parseHistogram(metrics0, name));
      const total = b.at(-1)?.count ?? 0;
      const quiet = histogramDelta(
        parseHistogram(metrics1, name, 'changed="false"'),
        parseHistogram(metrics0, name, 'changed="false"'),
      );
      reconcileMs = {
        p50: histogramQuantile(b, 0.5) * 1000,
        p99: histogramQuantile(b, 0.99) * 1000,
        max: Number.NaN,
        n: total,
        source: `${name} histogram (interpolated), waves and idle`,
        ...(quiet.length
          ? {
              unchanged: {
                p50: histogramQuantile(quiet, 0.5) * 1000,
                p99: histogramQuantile(quiet, 0.99) * 1000,
              },
            }
          : {}),
      };
    } else {
      // Logged with whole-second timestamps: keep the reconciles from the second wave 1 began.
      const since = Math.floor(t1 / 1000) * 1000;
      const lines = readLog(controller.logFile)
        .split('\n')
        .filter((l) => {
          const at = /"time":"([^"]+)"/.exec(l)?.[1];
          return at !== undefined && Date.parse(at) >= since;
        })
        .join('\n');
      reconcileMs = {
        ...summarize(argoReconcileMs(lines)),
        source: '"Reconciliation completed" time_ms, waves and idle',
      };
    }

    const lateness: number[] = [];
    const rollbackSeen: number[] = [];
    const rollbackMeasured: number[] = [];
    for (const n of names) {
      const tl = weights.get(n) ?? [];
      const late = (from: number) =>
        stepLateness(tl, from, PAUSE_SECONDS * 1000, STEP_WEIGHTS[0], STEP_WEIGHTS.length);
      lateness.push(...late(t1));
      if (bad.has(n)) {
        const zero = zeroAfterTraffic(tl, t2);
        const seen = runFailedSeen.get(n);
        const measured = failedMeasurement.get(n);
        if (zero !== undefined && seen !== undefined) rollbackSeen.push(zero - seen);
        if (zero !== undefined && measured !== undefined) rollbackMeasured.push(zero - measured);
        // The bad release's first step (before its abort) is a step like any other.
        const steps = late(t2);
        const nextIsStep = tl.some(([at, w]) => at >= t2 && w === STEP_WEIGHTS[1]);
        if (nextIsStep && steps[0] !== undefined) lateness.push(steps[0]);
      } else {
        lateness.push(...late(t2));
      }
    }
    const samples = proc.samples;
    const cpuAt = (t: number) =>
      (samples.find((s) => s.at >= t) ?? samples.at(-1) ?? ({ cpuSeconds: 0 } as Sample)).cpuSeconds;
    const idleRss = samples.filter((s) => s.at >= tIdle).map((s) => s.rssMb);
    const la = (await import('node:os')).loadavg() as [number, number, number];
    return {
      controller: o.controller,
      ...(o.controller === 'sluice' ? { runtime: o.sluiceRuntime } : {}),
      rollouts: o.rollouts,
      startedAt: new Date(t0).toISOString(),
      loadAverage: la.map((x) => Math.round(x * 100) / 100) as [number, number, number],
      seconds: {
        takeOver: (t1 - t0) / 1000,
        settle: (tIdle - t3) / 1000,
        wave1: (t2 - t1) / 1000,
        wave2: (t3 - t2) / 1000,
        idle: (tEnd - tIdle) / 1000,
      },
      rssMb: { peak: Math.max(...samples.map((s) => s.rssMb)), steady: percentile(idleRss, 50) },
      rssTimeline: samples
        .filter((_, i) => i % 5 === 0)
        .map((s) => [Math.round((s.at - t0) / 1000), Math.round(s.rssMb)] as [number, number]),
      cpuSeconds: {
        total: (samples.at(-1)?.cpuSeconds ?? 0) - (samples[0]?.cpuSeconds ?? 0),
        waves: cpuAt(t3) - cpuAt(t1),
        idle: cpuAt(tEnd) - cpuAt(tIdle),
      },
      reconcileMs,
      stepLatenessMs: summarize(lateness),
      rollbackMs: {
        fromRunFailedSeen: summarize(rollbackSeen),
        fromMeasurement: summarize(rollbackMeasured),
      },
      apiServerWriteMs: summarize(waveRequests.filter(isWrite).map((r) => r.ms)),
      ...(o.controller === 'sluice'
        ? { workers: Number(process.env.SLUICE_WORKERS || DEFAULT_WORKERS) }
        : {}),
      apiRequests: {
        perRelease: waveRequests.length / (2 * o.rollouts),
        waves: waveRequests.length,
        top: breakdown(waveRequests).slice(0, 8),
      },
      idle: {
        writesPerMinute: idleWrites.length / idleMinutes,
        requestsPerMinute: idleRequests.length / idleMinutes,
        writes: breakdown(idleWrites),
      },
      prometheusQueriesPerMinute: (prom1 - prom0) / ((t3 - t1) / 60_000),
      unfinished,
      releases: {
        good: 2 * o.rollouts - bad.size,
        bad: bad.size,
        promoted: count((r, n) => kind.promoted(r, image(n, 3))) + wave1Promoted,
        rolledBack: count((r, n) => kind.aborted(r, image(n, 3))),
        goodRolledBack: wave1RolledBack + count((r, n) => !bad.has(n) && kind.aborted(r, image(n, 3))),
        badPromoted: count((r, n) => bad.has(n) && kind.promoted(r, image(n, 3))),
      },
    };
  } finally {
    proc.stop();
    // Sluice's finalizer routes traffic back before a Rollout goes: it must still be running.
    if (o.controller === 'sluice') await deleteNamespace(kc, ns, 600_000).catch((e) => o.log(String(e)));
    await controller.stop();
    if (o.controller !== 'sluice') await deleteNamespace(kc, ns, 600_000).catch((e) => o.log(String(e)));
    for (const i of [vs, rollouts, runs]) await i.stop();
    const none = (keys: string[]) => Object.fromEntries(keys.map((k) => [k, null]));
    await mergePatch(kc, cmPath(LOAD_CONFIGMAP), { data: none(loadKeys) });
    await mergePatch(kc, cmPath(PROFILES_CONFIGMAP), { data: none(badImages.map(profileKey)) });
  }
}
