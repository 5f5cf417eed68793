// The controller process: informers feed a work queue; the leader's workers reconcile; every
// replica serves metrics and health. Everything here is wiring; decisions live in machines/.
import { hostname } from 'node:os';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { type AnalysisPolicy, DEFAULT_MAX_TIMEOUT_MS } from '../analysis/policy.ts';
import { ProviderPool } from '../analysis/provider.ts';
import { ScrapeIntervalCache } from '../analysis/scrape-interval.ts';
import { TrafficHistoryCache } from '../analysis/traffic-history.ts';
import {
  type AnalysisRun,
  type AnalysisTemplate,
  type ClusterAnalysisTemplate,
  GROUP,
  INSTANCE_LABEL,
  VERSION,
} from '../crds/index.ts';
import { canaryTraffic } from './analysis/canary-traffic.ts';
import type { GatewayController } from './analysis/default-flavour.ts';
import { JobMeasurer } from './analysis/jobs.ts';
import { createAnalysisMetrics } from './analysis/metrics.ts';
import { AnalysisRunner } from './analysis/runner.ts';
import { templateSource } from './analysis/runs.ts';
import { AnalysisWriter } from './analysis/writer.ts';
import { DEFAULT_LEASE_NAME, DEFAULT_WORKERS } from './flags.ts';
import { loadKubeConfig, requestJson, statusCode } from './kube/client.ts';
import { EventRecorder, kubeEventSink } from './kube/events.ts';
import { type ChangeType, kubeSource, ResilientInformer } from './kube/informer.ts';
import { kubeLeaseStore, LeaderElector } from './kube/leader.ts';
import { type Priority, WorkQueue } from './kube/workqueue.ts';
import { createLogger, type Logger } from './log.ts';
import { PodRestarts } from './restart.ts';
import { ROLLOUT_LABEL } from './revision.ts';
import { rolloutHandler } from './rollout-worker.ts';
import { informersReady, type RunningServer, sluiceMetrics, startServer } from './server.ts';
import { type RoutedKind, routersFor } from './traffic/router.ts';
import { CachedWorld, type Informers } from './world-cache.ts';
import type { WriteBackPolicy } from './write-back/policy.ts';
import { WriteBackWorker } from './write-back/worker.ts';
import { fieldManagerFor, Writer } from './writer.ts';

/**
 * A reconcile mostly waits on the API server, so concurrency is cheap here. bench/scale at 1,000
 * Rollouts: 4 workers left pause steps up to 29 s late (p99) when deadlines fell due together;
 * 16 brought that to ~3 s at the same CPU. The analysis runner keeps its own 4: at 16 it loaded
 * the API server more and made steps later (p99 11 s) for a faster rollback.
 */
export { DEFAULT_WORKERS };

export interface ControllerOptions {
  kubeconfig?: string;
  context?: string;
  /** Watch one namespace; all when absent. */
  namespace?: string;
  prometheusUrl?: string;
  /** --prometheus-allowed-urls: URL prefixes a template's provider.prometheus.address may name (none by default). */
  prometheusAllowedUrls?: string[];
  /** --analysis-max-timeout: the longest a metric may wait on Prometheus. Default 30 s. */
  analysisMaxTimeoutMs?: number;
  /** --analysis-job-provider: `job` metrics may create Jobs (off by default). */
  analysisJobs?: boolean;
  /** Default `:8090`. */
  metricsAddr?: string;
  /** Default `:8080`. */
  healthAddr?: string;
  leaderElect?: boolean;
  /** Default `sluice-system`. */
  leaderElectionNamespace?: string;
  leaseName?: string;
  /** Own only Rollouts labelled sluice.dev/controller-instance=<id>; without it, only unlabelled ones. */
  instanceId?: string;
  /** Concurrent reconciles. Default DEFAULT_WORKERS. */
  workers?: number;
  /** Default `info`. */
  logLevel?: string;
  identity?: string;
  logger?: Logger;
  /** Commit automatic rollbacks to git for Rollouts that do not say (spec.writeBack.enabled). */
  writeBack?: boolean;
  /** Where Argo CD Applications live when a tracking id names no namespace. Default `argocd`. */
  argoNamespace?: string;
  /** Where tenants may point a write-back (--write-back-tenant-repositories, --write-back-allowed-urls, --git-allow-http). */
  writeBackPolicy?: WriteBackPolicy;
}

export interface RunningController {
  stop(): Promise<void>;
  metricsPort: number;
  healthPort: number;
  isLeader(): boolean;
}

const GATEWAY_GROUP = 'gateway.networking.k8s.io';

/** The plurals an API group version serves; none when the group is not served at all. */
async function servedResources(kc: KubeConfig, group: string, version: string): Promise<Set<string>> {
  try {
    const list = await requestJson<{ resources?: { name: string }[] }>(kc, {
      method: 'GET',
      path: `/apis/${group}/${version}`,
    });
    return new Set((list.resources ?? []).map((r) => r.name));
  } catch (err) {
    if (statusCode(err) === 404) return new Set();
    throw err;
  }
}

/**
 * A Gateway's GatewayClass controller, read when a gate starts (two GETs, 5 s each). Anything
 * unreadable (forbidden in a namespaced install, gone, slow) is unknown, and unknown is Istio.
 */
function gatewayControllerOf(kc: KubeConfig): GatewayController {
  const get = async <T>(p: string): Promise<T | undefined> => {
    try {
      return await requestJson<T>(kc, { method: 'GET', path: p, signal: AbortSignal.timeout(5000) });
    } catch {
      return undefined;
    }
  };
  return async (namespace, gateway) => {
    const gw = await get<{ spec?: { gatewayClassName?: string } }>(
      `/apis/${GATEWAY_GROUP}/v1/namespaces/${encodeURIComponent(namespace)}/gateways/${encodeURIComponent(gateway)}`,
    );
    const cls = gw?.spec?.gatewayClassName;
    if (!cls) return undefined;
    const gc = await get<{ spec?: { controllerName?: string } }>(
      `/apis/${GATEWAY_GROUP}/v1/gatewayclasses/${encodeURIComponent(cls)}`,
    );
    return gc?.spec?.controllerName;
  };
}

const path = (group: string, version: string, plural: string, namespace?: string) =>
  `${group ? `/apis/${group}` : '/api'}/${version}${namespace ? `/namespaces/${namespace}` : ''}/${plural}`;

export async function runController(opts: ControllerOptions): Promise<RunningController> {
  const log = opts.logger ?? createLogger({ level: (opts.logLevel ?? 'info') as never });
  const kc = loadKubeConfig({ kubeconfig: opts.kubeconfig, context: opts.context });
  const identity = opts.identity ?? `${hostname()}-${process.pid}`;
  const ns = opts.namespace;
  const instanceSelector = opts.instanceId ? `${INSTANCE_LABEL}=${opts.instanceId}` : `!${INSTANCE_LABEL}`;

  const informer = <T extends KubernetesObject>(name: string, p: string, labelSelector?: string) =>
    new ResilientInformer<T>(kubeSource<T>(kc, p, { labelSelector, watchTimeoutSeconds: 50 }), {
      name,
      logger: log.child({ informer: name }),
    });
  const gatewayApi = await servedResources(kc, GATEWAY_GROUP, 'v1');
  if (gatewayApi.size === 0)
    log.info(
      'the Gateway API is not served: Rollouts naming HTTPRoutes will stall until it is and Sluice restarts',
    );
  const informers: Informers = {
    rollouts: informer('rollouts', path(GROUP, VERSION, 'rollouts', ns), instanceSelector),
    replicaSets: informer('replicasets', path('apps', 'v1', 'replicasets', ns), ROLLOUT_LABEL),
    // Services and VirtualServices are the tenants' own objects, named by a Rollout: they carry
    // no label of ours to select on, and a field selector takes one name, not a list. So they
    // are watched whole (only --namespace's when given); a reconcile reads only the ones its
    // Rollout names, in the Rollout's own namespace, and writes nothing else.
    services: informer('services', path('', 'v1', 'services', ns)),
    virtualServices: informer('virtualservices', path('networking.istio.io', 'v1', 'virtualservices', ns)),
    destinationRules: informer('destinationrules', path('networking.istio.io', 'v1', 'destinationrules', ns)),
    // The Gateway API is optional: a cluster that does not serve it has no routes to watch, and
    // an informer that cannot list never syncs. Looked up once; installing it later needs a restart.
    ...(gatewayApi.has('httproutes') && {
      httpRoutes: informer('httproutes', path(GATEWAY_GROUP, 'v1', 'httproutes', ns)),
    }),
    ...(gatewayApi.has('grpcroutes') && {
      grpcRoutes: informer('grpcroutes', path(GATEWAY_GROUP, 'v1', 'grpcroutes', ns)),
    }),
    // Runs carry their Rollout's instance label (analysis/runs.ts): each instance measures its own.
    analysisRuns: informer('analysisruns', path(GROUP, VERSION, 'analysisruns', ns), instanceSelector),
    // Deployments a Rollout names in workloadRef: the tenant's own, so watched whole like Services.
    deployments: informer('deployments', path('apps', 'v1', 'deployments', ns)),
  };
  const world = new CachedWorld(informers);
  // Analysis templates are only read when a gate starts; a cache miss falls back to a GET.
  // ClusterAnalysisTemplates are cluster-wide, which a controller confined to one namespace may
  // not be allowed to list (its Role cannot grant them: release/namespaced.ts), and an informer
  // that cannot list never syncs. There, a gate naming one is read by that GET alone.
  const templateInformers = {
    analysisTemplates: informer<AnalysisTemplate & KubernetesObject>(
      'analysistemplates',
      path(GROUP, VERSION, 'analysistemplates', ns),
    ),
    ...(ns
      ? {}
      : {
          clusterAnalysisTemplates: informer<ClusterAnalysisTemplate & KubernetesObject>(
            'clusteranalysistemplates',
            path(GROUP, VERSION, 'clusteranalysistemplates'),
          ),
        }),
  };

  let leader: LeaderElector | undefined;
  // With --leader-elect nothing is written until the Lease is ours: the elector only exists
  // once the informers have synced, and a replica must not act as leader before that.
  const mayWrite = () => (opts.leaderElect ? leader?.isLeader() === true : true);
  // Informer events arrive (and enqueue keys) while the first lists are still coming in; a
  // reconcile then would decide from a partial world (a VirtualService not yet listed reads as
  // missing). Keys taken before the sync are dropped: enqueueAll re-adds every one after it.
  let synced = false;
  const fieldManager = fieldManagerFor(opts.identity);
  const writer = new Writer(kc, mayWrite, fieldManager);
  const recorder = new EventRecorder(kubeEventSink(kc), {
    controller: 'sluice.dev/controller',
    instance: identity,
    logger: log,
  });
  const metrics = sluiceMetrics;
  const analysisMetrics = createAnalysisMetrics(metrics.registry);
  const analysisWriter = new AnalysisWriter(kc, mayWrite, fieldManager);
  const analysisPolicy: AnalysisPolicy = {
    ...(opts.prometheusUrl ? { defaultAddress: opts.prometheusUrl } : {}),
    allowedPrefixes: opts.prometheusAllowedUrls ?? [],
    maxTimeoutMs: opts.analysisMaxTimeoutMs ?? DEFAULT_MAX_TIMEOUT_MS,
    jobs: opts.analysisJobs === true,
  };
  const analysis = {
    writer: analysisWriter,
    policy: analysisPolicy,
    // A gate's rate window shorter than two scrapes is widened, and said (issue 20).
    scrapeIntervals: new ScrapeIntervalCache(),
    events: recorder,
    ...(gatewayApi.size > 0 ? { gatewayController: gatewayControllerOf(kc) } : {}),
    templates: templateSource(kc, {
      namespaced: templateInformers.analysisTemplates,
      cluster: templateInformers.clusterAnalysisTemplates ?? { get: () => undefined },
    }),
  };

  const queue = new WorkQueue(
    rolloutHandler({
      ready: () => synced && mayWrite(),
      world,
      reconcile: {
        world,
        writer,
        events: recorder,
        now: Date.now,
        statusWritten: (r) => world.remember(r),
        analysis,
        pods: new PodRestarts(kc, mayWrite, fieldManager),
      },
      metrics,
      analysisMetrics,
      log,
    }),
    { workers: opts.workers ?? DEFAULT_WORKERS, observer: metrics.queueObserver('rollouts') },
  );

  const enqueueRollout = (
    namespace: string | undefined,
    name: string | undefined,
    priority: Priority = 'routine',
  ) => {
    if (namespace && name) queue.add(`${namespace}/${name}`, priority);
  };
  const runner = new AnalysisRunner({
    queueObserver: metrics.queueObserver('analysisruns'),
    store: {
      run: (namespace, name) => world.analysisRun(namespace, name),
      runs: (namespace, rollout) => world.analysisRuns(namespace, rollout),
      all: () => informers.analysisRuns.list() as AnalysisRun[],
      remember: (run) => world.rememberRun(run),
      rollout: (namespace, name) => world.rollout(namespace, name),
      traffic: (run) => canaryTraffic(world, run),
      gatewayRoute: (kind, namespace, name) => world.gatewayRoute(kind, namespace, name),
    },
    writer: analysisWriter,
    providers: new ProviderPool(),
    prometheusUrl: opts.prometheusUrl,
    // What a compareToStable gate can see, from the last hour's traffic (issue 20).
    detectability: { traffic: new TrafficHistoryCache(), events: recorder },
    allowedPrometheusUrls: analysisPolicy.allowedPrefixes,
    maxTimeoutMs: analysisPolicy.maxTimeoutMs,
    ...(analysisPolicy.jobs ? { jobs: new JobMeasurer(kc, mayWrite, fieldManager) } : {}),
    metrics: analysisMetrics,
    logger: log.child({ component: 'analysis' }),
    // Like the Rollout queue: nothing before the first lists are in (enqueueAll re-adds every run).
    mayRun: () => synced && mayWrite(),
    // A failure (traffic must leave the canary) goes ahead of everything; a pass (a step owed)
    // ahead of routine echoes.
    gateChanged: (namespace, name, phase) =>
      enqueueRollout(namespace, name, phase === 'Failed' ? 'critical' : 'due'),
  });
  const writeBack = new WriteBackWorker({
    queueObserver: metrics.queueObserver('writeback'),
    kc,
    store: {
      rollout: (namespace, name) => world.rollout(namespace, name),
      replicaSets: (namespace, name) => world.replicaSets(namespace, name),
    },
    writer,
    written: (r) => world.remember(r),
    events: recorder,
    logger: log.child({ component: 'write-back' }),
    enabledByDefault: opts.writeBack === true,
    mayRun: () => synced && mayWrite(),
    ...(opts.argoNamespace ? { argoNamespace: opts.argoNamespace } : {}),
    ...(opts.writeBackPolicy ? { policy: opts.writeBackPolicy } : {}),
  });
  const enqueueAll = () => {
    for (const r of informers.rollouts.list()) {
      enqueueRollout(r.metadata?.namespace, r.metadata?.name);
      writeBack.consider(world.rollout(r.metadata?.namespace ?? '', r.metadata?.name ?? ''));
    }
    runner.enqueueAll();
  };
  informers.rollouts.onChange((r, type: ChangeType) => {
    if (type === 'delete') world.forget(r.metadata?.namespace ?? '', r.metadata?.name ?? '');
    enqueueRollout(r.metadata?.namespace, r.metadata?.name);
    if (type !== 'delete')
      writeBack.consider(world.rollout(r.metadata?.namespace ?? '', r.metadata?.name ?? ''));
  });
  const byLabel = (o: KubernetesObject) =>
    enqueueRollout(o.metadata?.namespace, o.metadata?.labels?.[ROLLOUT_LABEL]);
  informers.replicaSets.onChange(byLabel);
  informers.analysisRuns.onChange((run) => {
    byLabel(run);
    runner.enqueue(run);
  });
  // Services and VirtualServices are the user's: find the Rollouts in the namespace naming them.
  // A listed object need not carry its kind: each informer says which kind it holds.
  const byReference = (kind: ReferencedKind) => (o: KubernetesObject) => {
    for (const r of informers.rollouts.list(o.metadata?.namespace)) {
      if (r.spec && references(r, kind, o)) enqueueRollout(r.metadata?.namespace, r.metadata?.name);
    }
  };
  informers.services.onChange(byReference('Service'));
  informers.virtualServices.onChange(byReference('VirtualService'));
  informers.destinationRules.onChange(byReference('DestinationRule'));
  informers.httpRoutes?.onChange(byReference('HTTPRoute'));
  informers.grpcRoutes?.onChange(byReference('GRPCRoute'));
  informers.deployments.onChange(byReference('Deployment'));

  const all = [...Object.entries(informers), ...Object.entries(templateInformers)].map(([name, inf]) => ({
    name,
    inf,
  }));
  for (const { inf } of all) inf.start();

  const ready = informersReady(all.map(({ name, inf }) => ({ name, hasSynced: () => inf.hasSynced() })));
  const servers: RunningServer[] = [
    await startServer({ addr: opts.metricsAddr ?? ':8090', registry: metrics.registry }),
    await startServer({ addr: opts.healthAddr ?? ':8080', health: { ready } }),
  ];

  log.info({ metricsPort: servers[0]?.port, healthPort: servers[1]?.port }, 'serving metrics and health');
  await Promise.all(all.map(({ inf }) => inf.waitForSync()));
  log.info({ identity, namespace: ns ?? '*', instance: opts.instanceId ?? null }, 'informers synced');
  synced = true;

  if (opts.leaderElect) {
    leader = new LeaderElector(
      kubeLeaseStore(
        kc,
        opts.leaderElectionNamespace ?? 'sluice-system',
        opts.leaseName ?? DEFAULT_LEASE_NAME,
      ),
      {
        identity,
        logger: log,
        onStartedLeading: () => {
          log.info({ identity }, 'became leader');
          enqueueAll();
        },
        onStoppedLeading: () => {
          log.warn({ identity }, 'lost leadership; writes stopped');
          metrics.forgetRolloutState();
        },
      },
    );
    leader.start();
  } else {
    enqueueAll();
  }

  let stopped = false;
  return {
    metricsPort: servers[0]?.port ?? 0,
    healthPort: servers[1]?.port ?? 0,
    isLeader: () => mayWrite(),
    async stop() {
      if (stopped) return;
      stopped = true;
      await queue.shutdown();
      await runner.shutdown();
      await writeBack.shutdown();
      await leader?.stop();
      await Promise.all(all.map(({ inf }) => inf.stop()));
      await Promise.all(servers.map((s) => s.close()));
      log.info({ identity }, 'stopped');
    },
  };
}

type ReferencedKind = 'Service' | RoutedKind | 'DestinationRule' | 'Deployment';

function references(rollout: { spec: unknown }, kind: ReferencedKind, obj: KubernetesObject): boolean {
  try {
    return namesObject(rollout, kind, obj);
  } catch {
    return true; // a malformed spec: let the reconcile say what is wrong with it
  }
}

function namesObject(rollout: { spec: unknown }, kind: ReferencedKind, obj: KubernetesObject): boolean {
  const spec = rollout.spec as Parameters<typeof routersFor>[0];
  const name = obj.metadata?.name;
  if (kind === 'VirtualService' || kind === 'HTTPRoute' || kind === 'GRPCRoute')
    return routersFor(spec).some((router) => router.kind === kind && router.name === name);
  if (kind === 'Deployment') return spec.workloadRef?.name === name;
  if (kind === 'DestinationRule') {
    const istio = spec.strategy?.canary?.trafficRouting?.istio;
    return istio?.destinationRule?.name === name;
  }
  const { canary, blueGreen } = spec.strategy ?? {};
  return [
    canary?.stableService,
    canary?.canaryService,
    canary?.baselineService,
    blueGreen?.activeService,
    blueGreen?.previewService,
  ].includes(name);
}
