// The analysis runner: a second work queue in the controller process, over AnalysisRuns.
// Each pass restores a run's bookkeeping from its status, takes the measurements that are due,
// writes status only when it changed, and requeues at the next due time. A phase change
// enqueues the owning Rollout at once, so the reconcile that sees a Failed run aborts then.
import type { Logger } from 'pino';
import {
  evidenceStart,
  intervalMs,
  nextDueAt,
  runStart,
  type Taken,
  takeMeasurement,
} from '../../analysis/measure.ts';
import {
  type AnalysisPolicy,
  DEFAULT_MAX_TIMEOUT_MS,
  JOB_FLAG,
  policyProblem,
} from '../../analysis/policy.ts';
import { type ProviderPool, redactAddress } from '../../analysis/provider.ts';
import {
  isTerminal,
  REASON_INVALID,
  REASON_UNREACHABLE,
  restore,
  statusOf,
  step,
} from '../../analysis/run-state.ts';
import {
  REASON_NO_TRAFFIC,
  type TrafficSeen,
  trafficStart,
  trafficStep,
} from '../../analysis/traffic-start.ts';
import type { AnalysisRun, AnalysisRunStatus, MetricResult, Rollout, RunMetric } from '../../crds/index.ts';
import type { AnalysisRunEvent } from '../../machines/analysis-run.ts';
import { type QueueObserver, type ReconcileResult, WorkQueue } from '../kube/workqueue.ts';
import { sameJson } from '../revision.ts';
import type { GatewayRoute, GatewayRouteKind } from '../traffic/gateway-route.ts';
import { NotLeaderError, StaleWrite } from '../writer.ts';
import { assessRun, type DetectabilityDeps, warnIfBlind } from './detectability.ts';
import { type JobMeasurer, STILL_RUNNING } from './jobs.ts';
import type { AnalysisMetrics } from './metrics.ts';
import type { AnalysisWriter } from './writer.ts';

export interface RunStore {
  run(namespace: string, name: string): AnalysisRun | undefined;
  runs(namespace: string, rollout: string): AnalysisRun[];
  all(): AnalysisRun[];
  /** Our own write, so the next read (ours and the Rollout reconcile's) need not wait for the watch. */
  remember(run: AnalysisRun): void;
  rollout(namespace: string, name: string): Rollout | undefined;
  /**
   * What reaches the revision the run measures, and the release's progress deadline; undefined
   * when it cannot be told (no Rollout). Without it runs count from their start.
   */
  traffic?(run: AnalysisRun): { seen: TrafficSeen; deadlineMs: number } | undefined;
  /** A Gateway API route as the caches hold it: a run reading Envoy Gateway finds its clusters there. */
  gatewayRoute?(kind: GatewayRouteKind, namespace: string, name: string): GatewayRoute | undefined;
}

export interface RunnerOptions {
  /** client-go's workqueue metrics for this worker's queue. */
  queueObserver?: QueueObserver;
  store: RunStore;
  writer: AnalysisWriter;
  providers: ProviderPool;
  /** The controller's --prometheus-url, for metrics whose template names no address. */
  prometheusUrl?: string;
  /** --prometheus-allowed-urls: the other addresses a run may query (none by default). */
  allowedPrometheusUrls?: readonly string[];
  /** --analysis-max-timeout. */
  maxTimeoutMs?: number;
  now?: () => number;
  metrics?: AnalysisMetrics;
  logger: Logger;
  mayRun?: () => boolean;
  /** A run's phase changed (to `phase`): reconcile its Rollout now. */
  gateChanged: (namespace: string, rollout: string, phase: AnalysisRunStatus['phase']) => void;
  workers?: number;
  /** Old runs kept per Rollout, per outcome. */
  keep?: { successful: number; unsuccessful: number };
  /** --analysis-job-provider: creates and reads the Jobs of `job` metrics (absent: they are refused). */
  jobs?: Pick<JobMeasurer, 'measure' | 'stop'>;
  /** What a compareToStable gate can see, worked out at its run's first pass (absent: not said). */
  detectability?: Omit<DetectabilityDeps, 'providers' | 'address'>;
}

const KEEP = { successful: 5, unsuccessful: 5 };

/** How often a running Job is read: a Job's pod takes seconds at least to start and finish. */
export const JOB_POLL_MS = 2000;

/**
 * Workers one namespace may hold at once: half of them. A pass waits for its measurements, so
 * a tenant with four gates against a silent address would otherwise hold all four workers for
 * a whole timeout while another team's failed canary waits for its verdict.
 */
export const perNamespace = (workers: number) => Math.max(1, Math.floor(workers / 2));

export class AnalysisRunner {
  private readonly queue: WorkQueue;
  private readonly now: () => number;
  /** Runs that ended unreachable whose Prometheus answers again: since when (memory only; a restart re-waits). */
  private readonly answeringSince = new Map<string, number>();

  readonly policy: AnalysisPolicy;

  constructor(private readonly opts: RunnerOptions) {
    this.now = opts.now ?? Date.now;
    this.policy = {
      ...(opts.prometheusUrl === undefined ? {} : { defaultAddress: opts.prometheusUrl }),
      allowedPrefixes: opts.allowedPrometheusUrls ?? [],
      maxTimeoutMs: opts.maxTimeoutMs ?? DEFAULT_MAX_TIMEOUT_MS,
      jobs: opts.jobs !== undefined,
    };
    const workers = opts.workers ?? 4;
    this.queue = new WorkQueue((key) => this.process(key), {
      observer: opts.queueObserver,
      workers,
      perGroup: { groupOf: (key) => key.slice(0, key.indexOf('/')), max: perNamespace(workers) },
      backoff: { baseMs: 50, capMs: 30_000 },
      onError: (key, err) => {
        if (!(err instanceof StaleWrite) && !(err instanceof NotLeaderError))
          opts.logger.warn({ run: key, err }, 'analysis run pass failed; will retry');
      },
    });
  }

  enqueue(run: { metadata?: { namespace?: string; name?: string } }): void {
    const { namespace, name } = run.metadata ?? {};
    if (namespace && name) this.queue.add(`${namespace}/${name}`);
  }

  enqueueAll(): void {
    for (const run of this.opts.store.all()) this.enqueue(run);
  }

  shutdown(): Promise<void> {
    return this.queue.shutdown();
  }

  /** One pass over one run; exported through the class for tests and the bench. */
  async process(key: string): Promise<ReconcileResult | undefined> {
    if (this.opts.mayRun && !this.opts.mayRun()) return undefined;
    const [namespace, name] = key.split('/') as [string, string];
    let run = this.opts.store.run(namespace, name);
    if (!run) return undefined;
    if (isTerminal(run.status?.phase)) return this.afterEnd(run);

    if (run.spec.error !== undefined || run.spec.metrics.length === 0) return this.invalid(run);
    // A run built before the admin's policy, or written by hand, is held to it all the same.
    const refused = this.refusal(run);
    if (refused) return this.invalid(run, refused);

    let snapshot = restore(run);
    const before = run.status;
    const terminated = run.spec.terminate === true;
    // Worked out once, before the first look, and kept with the run's status from then on.
    if (!before?.detectability && !terminated) {
      const detectability = await this.assess(run);
      if (detectability) run = { ...run, status: { ...run.status, detectability } };
    }
    // The first look waits for the canary's first traffic: until then nothing is measured.
    const traffic = terminated ? undefined : this.trafficOf(run);
    if (traffic?.kind === 'waiting' || traffic?.kind === 'gaveUp') {
      return this.withoutTraffic(run, before, snapshot, traffic);
    }
    if (traffic?.record) run = { ...run, status: { ...run.status, trafficSince: iso(traffic.since) } };
    const jobsRunning = new Set<string>();
    if (terminated) {
      snapshot = step(snapshot, [{ type: 'TERMINATE', now: this.now() }]);
    } else {
      const start = traffic?.since ?? runStart(run);
      const since = evidenceStart(run);
      const results = new Map((run.status?.metricResults ?? []).map((r) => [r.name, r]));
      const now = this.now();
      // Dry-run metrics are recorded first: a gating result that ends the run in this pass
      // must not drop the dry-run measurement taken alongside it.
      const due = run.spec.metrics
        .filter((m) => {
          const at = nextDueAt(m, results.get(m.name), start);
          return at !== undefined && at <= now;
        })
        .sort((a, b) => Number(b.dryRun === true) - Number(a.dryRun === true));
      if (due.length) {
        const measured = await Promise.all(
          due.map((m) =>
            m.provider.job
              ? this.measureJob(run, m, results.get(m.name))
              : takeMeasurement(m, this.opts.providers, this.policy, now, since),
          ),
        );
        due.forEach((m, i) => {
          if (measured[i] === STILL_RUNNING) jobsRunning.add(m.name);
        });
        const taken = measured.filter((t): t is Taken => t !== STILL_RUNNING);
        this.logDetails(run, taken);
        const recordedAt = this.now();
        snapshot = step(
          snapshot,
          taken.map(
            (t): AnalysisRunEvent => ({
              type: 'MEASURE',
              now: recordedAt,
              startedAt: now,
              metric: t.metric,
              phase: t.phase,
              ...(t.value === undefined ? {} : { value: t.value }),
              ...(t.message === undefined ? {} : { message: t.message }),
              ...(t.comparison === undefined ? {} : { comparison: t.comparison }),
              ...(t.absolute === undefined ? {} : { absolute: t.absolute }),
              ...(t.sharedIncident ? { sharedIncident: true } : {}),
            }),
          ),
        );
        this.count(run, taken);
      }
    }

    const status = statusOf(run, snapshot, terminated);
    // Before the end is written: a pass that fails here runs again and stops them then.
    if (terminated || isTerminal(status.phase)) await this.stopJobs(run, status);
    if (!sameStatus(before, status)) {
      const written = await this.opts.writer.writeRunStatus(run, status);
      if (written === false) throw new StaleWrite(`status of AnalysisRun ${key}`);
      this.opts.store.remember(written);
      // A shared incident beginning or ending changes no phase, but the release holds or resumes on it.
      const incidentChanged = Boolean(before?.sharedIncident) !== Boolean(status.sharedIncident);
      if (incidentChanged && before?.phase === status.phase)
        this.opts.gateChanged(namespace, run.spec.rollout, status.phase);
      if (before?.phase !== status.phase) {
        this.opts.gateChanged(namespace, run.spec.rollout, status.phase);
        this.opts.logger.info(
          { run: name, rollout: run.spec.rollout, phase: status.phase },
          status.message ?? `analysis ${status.phase}`,
        );
      }
      if (isTerminal(status.phase)) return this.afterEnd(written);
    }
    if (terminated || isTerminal(status.phase)) return undefined;

    const start = traffic?.since ?? runStart(run);
    const results = new Map((status.metricResults ?? []).map((r) => [r.name, r]));
    const next = Math.min(
      ...run.spec.metrics
        .filter((m) => !jobsRunning.has(m.name))
        .map((m) => nextDueAt(m, results.get(m.name), start) ?? Number.POSITIVE_INFINITY),
      // A running Job is read again shortly: Jobs are not watched (see jobs.ts).
      jobsRunning.size ? this.now() + JOB_POLL_MS : Number.POSITIVE_INFINITY,
    );
    if (!Number.isFinite(next)) return undefined;
    return { requeueAfterMs: Math.max(0, next - this.now()) };
  }

  /** A Job metric's due measurement: its n-th Job's outcome, or STILL_RUNNING. */
  private measureJob(run: AnalysisRun, m: RunMetric, result: MetricResult | undefined) {
    const jobs = this.opts.jobs;
    if (!jobs)
      return {
        metric: m.name,
        phase: 'Error' as const,
        message: `provider.job is not enabled (${JOB_FLAG})`,
      };
    return jobs.measure(run, m, (result?.count ?? 0) + 1);
  }

  /** Deletes the Jobs an ending run would still be waiting on, with their pods. */
  private async stopJobs(run: AnalysisRun, status: AnalysisRunStatus): Promise<void> {
    const jobs = this.opts.jobs;
    if (!jobs) return;
    const results = new Map((status.metricResults ?? []).map((r) => [r.name, r]));
    for (const m of run.spec.metrics) {
      if (m.provider.job) await jobs.stop(run, m, (results.get(m.name)?.count ?? 0) + 1);
    }
  }

  /** Whether the run's canary has had traffic; undefined for a terminated run. */
  private trafficOf(run: AnalysisRun) {
    const start = runStart(run);
    // Once the clock has started the world is not read again: the moment stays as recorded.
    const observed = trafficStart(run, start) === undefined ? this.opts.store.traffic?.(run) : undefined;
    return trafficStep(run, start, observed?.seen, this.now(), observed?.deadlineMs ?? 0);
  }

  /**
   * A run whose canary has no traffic yet takes no look: its status says what it waits for and
   * it looks again shortly. Past the release's progress deadline it ends Inconclusive
   * (NoTraffic), so the release pauses saying why instead of waiting silently.
   */
  private async withoutTraffic(
    run: AnalysisRun,
    before: AnalysisRunStatus | undefined,
    snapshot: ReturnType<typeof restore>,
    traffic: Exclude<ReturnType<typeof trafficStep>, { kind: 'flowing' }>,
  ): Promise<ReconcileResult | undefined> {
    const status: AnalysisRunStatus =
      traffic.kind === 'waiting'
        ? { ...statusOf(run, snapshot), message: traffic.message }
        : {
            ...statusOf(run, step(snapshot, [{ type: 'TERMINATE', now: this.now() }])),
            message: traffic.message,
            reason: REASON_NO_TRAFFIC,
          };
    const key = `${run.metadata.namespace}/${run.metadata.name}`;
    if (!sameStatus(before, status)) {
      const written = await this.opts.writer.writeRunStatus(run, status);
      if (written === false) throw new StaleWrite(`status of AnalysisRun ${key}`);
      this.opts.store.remember(written);
      if (before?.phase !== status.phase) {
        this.opts.gateChanged(run.metadata.namespace ?? 'default', run.spec.rollout, status.phase);
      }
      if (traffic.kind === 'gaveUp') {
        this.opts.logger.info({ run: run.metadata.name, rollout: run.spec.rollout }, traffic.message);
        return this.afterEnd(written);
      }
    }
    return traffic.kind === 'waiting'
      ? { requeueAfterMs: Math.max(0, traffic.recheckAt - this.now()) }
      : undefined;
  }

  /**
   * Once per run, before its first look: what its compareToStable gate can see. The Warning is
   * said when it is worked out; a pass that loses its status write works it out again from the
   * cache, and the recorder counts the repeat on the same Event.
   */
  private async assess(run: AnalysisRun): Promise<AnalysisRunStatus['detectability']> {
    const deps = this.opts.detectability;
    if (!deps || !run.spec.metrics.some((m) => m.builtin === 'compareErrors')) return undefined;
    const rollout = this.opts.store.rollout(run.metadata.namespace ?? 'default', run.spec.rollout);
    const d = await assessRun(
      {
        ...deps,
        providers: this.opts.providers,
        ...(this.policy.defaultAddress === undefined ? {} : { address: this.policy.defaultAddress }),
      },
      run,
      rollout,
      this.opts.store.gatewayRoute?.bind(this.opts.store),
    );
    if (d && rollout) await warnIfBlind(deps.events, run, rollout, d);
    return d;
  }

  /** The first metric the policy refuses, as a message naming it; undefined when all pass. */
  private refusal(run: AnalysisRun): string | undefined {
    for (const m of run.spec.metrics) {
      const problem = policyProblem(m, this.policy);
      if (problem) return `cannot proceed: metric ${m.name}: ${problem}`;
    }
    return undefined;
  }

  /** What a tenant-named address really answered: for the admin's log, never for status. */
  private logDetails(run: AnalysisRun, taken: Taken[]): void {
    for (const t of taken) {
      if (t.detail === undefined) continue;
      this.opts.logger.info(
        { run: run.metadata.name, namespace: run.metadata.namespace, metric: t.metric, detail: t.detail },
        t.message ?? 'measurement error',
      );
    }
  }

  /** A gate that could not be resolved: Error at once, with the problem as the message. */
  private async invalid(run: AnalysisRun, problem?: string): Promise<undefined> {
    const at = new Date(this.now()).toISOString();
    const status: AnalysisRunStatus = {
      phase: 'Error',
      reason: REASON_INVALID,
      message: problem ?? run.spec.error ?? 'cannot proceed: the gate has no metrics to measure',
      startedAt: at,
      finishedAt: at,
      metricResults: [],
    };
    const written = await this.opts.writer.writeRunStatus(run, status);
    if (written === false) throw new StaleWrite(`status of AnalysisRun ${run.metadata.name}`);
    this.opts.store.remember(written);
    this.opts.gateChanged(run.metadata.namespace ?? 'default', run.spec.rollout, status.phase);
    this.opts.logger.warn({ run: run.metadata.name, rollout: run.spec.rollout }, status.message);
    return undefined;
  }

  private count(run: AnalysisRun, taken: Taken[]): void {
    const m = this.opts.metrics;
    if (!m) return;
    const rollout = { namespace: run.metadata.namespace ?? '', name: run.spec.rollout };
    for (const t of taken) {
      m.measurements.inc({ ...rollout, metric: t.metric, phase: t.phase });
      if (t.number !== undefined) m.lastValue.set({ ...rollout, metric: t.metric }, t.number);
    }
  }

  /**
   * A run that ended: prune its Rollout's old runs, and when it ended because Prometheus
   * could not be reached, keep probing; once Prometheus answers and the Rollout is paused on
   * this run, resume it (gates run again, as `kubectl sluice resume` would).
   */
  private async afterEnd(run: AnalysisRun): Promise<ReconcileResult | undefined> {
    await this.prune(run);
    if (run.status?.phase !== 'Error' || run.status.reason !== REASON_UNREACHABLE) return undefined;
    const namespace = run.metadata.namespace ?? 'default';
    const name = run.metadata.name ?? '';
    const rollout = this.opts.store.rollout(namespace, run.spec.rollout);
    const st = rollout?.status;
    const current = st?.analysis?.name === name || st?.backgroundAnalysis?.name === name;
    if (!current) return undefined;
    const probeEvery = Math.min(...run.spec.metrics.map(intervalMs), 30_000);
    if (st?.pause?.reason !== 'AnalysisError') return { requeueAfterMs: probeEvery };
    // Probe with the run's own queries. A Prometheus just started has no samples for the
    // window yet: resume once every query returns data, or once it has answered for two
    // windows (then the gates run again and judge, e.g. inconclusive when there is no traffic).
    const key = `${namespace}/${name}`;
    const now = this.now();
    const evidence = evidenceStart(run);
    const probes = await Promise.all(
      run.spec.metrics.map((m) => takeMeasurement(m, this.opts.providers, this.policy, now, evidence)),
    );
    if (probes.some((p) => p.unreachable)) {
      this.answeringSince.delete(key);
      return { requeueAfterMs: probeEvery };
    }
    const since = this.answeringSince.get(key) ?? now;
    this.answeringSince.set(key, since);
    const allData = probes.every((p) => !p.message?.startsWith('no data'));
    const windows = 2 * Math.max(...run.spec.metrics.map(intervalMs));
    if (!allData && now - since < windows) return { requeueAfterMs: probeEvery };
    this.answeringSince.delete(key);
    const first = run.spec.metrics[0]?.provider;
    const address = first?.prometheus?.address ?? (first?.web ? undefined : this.opts.prometheusUrl);
    const what = first?.web
      ? `the web address of metric ${run.spec.metrics[0]?.name}`
      : `Prometheus at ${address === undefined ? 'its address' : redactAddress(address)}`;
    await this.opts.writer.signalResume(
      namespace,
      run.spec.rollout,
      `sluice: ${what} is reachable again`,
      new Date(this.now()),
    );
    this.opts.logger.info(
      { run: name, rollout: run.spec.rollout },
      'Prometheus reachable again: resuming the release',
    );
    return undefined;
  }

  /** Keeps the newest `keep.successful` successful and `keep.unsuccessful` other finished runs. */
  private async prune(run: AnalysisRun): Promise<void> {
    const namespace = run.metadata.namespace ?? 'default';
    const keep = this.opts.keep ?? KEEP;
    const rollout = this.opts.store.rollout(namespace, run.spec.rollout);
    const inUse = new Set([rollout?.status?.analysis?.name, rollout?.status?.backgroundAnalysis?.name]);
    const finished = this.opts.store
      .runs(namespace, run.spec.rollout)
      .filter((r) => isTerminal(r.status?.phase) && !inUse.has(r.metadata.name))
      .sort(
        (a, b) => created(b) - created(a) || (b.metadata.name ?? '').localeCompare(a.metadata.name ?? ''),
      );
    const ok = finished.filter((r) => r.status?.phase === 'Successful').slice(keep.successful);
    const bad = finished.filter((r) => r.status?.phase !== 'Successful').slice(keep.unsuccessful);
    for (const r of [...ok, ...bad]) await this.opts.writer.deleteRun(namespace, r.metadata.name ?? '');
  }
}

const iso = (t: number) => new Date(t).toISOString();

const created = (r: AnalysisRun) => Date.parse(r.metadata.creationTimestamp ?? '') || 0;

function sameStatus(a: AnalysisRunStatus | undefined, b: AnalysisRunStatus): boolean {
  return sameJson(a ?? {}, b);
}
