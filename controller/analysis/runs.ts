import type { KubeConfig } from '@kubernetes/client-node';
import { ArgValueError, resolveArgValues } from '../../analysis/arg-values.ts';
import { evidenceSinceFor } from '../../analysis/measure.ts';
import type { AnalysisPolicy } from '../../analysis/policy.ts';
import { type FoundTemplates, InvalidAnalysis, resolveGate, templateKey } from '../../analysis/resolve.ts';
import { REASON_INVALID } from '../../analysis/run-state.ts';
import type { ScrapeIntervalSource } from '../../analysis/scrape-interval.ts';
import {
  type AnalysisRun,
  type AnalysisTemplateSpec,
  API_VERSION,
  type BuiltinMetrics,
  type GateKind,
  type Gates,
  GROUP,
  gatesFor,
  INSTANCE_LABEL,
  progressDeadlineMs,
  type Rollout,
  VERSION,
} from '../../crds/index.ts';
import type { EffectParams } from '../../machines/actions.ts';
import { isNotFound, requestJson, resourcePath } from '../kube/client.ts';
import type { EventRecorder } from '../kube/events.ts';
import { ROLLOUT_LABEL } from '../revision.ts';
import { envoyClusters, type RouteLookup } from '../traffic/envoy-clusters.ts';
import { ownerReference } from '../workload.ts';
import type { Writer } from '../writer.ts';
import { defaultFlavour, type GatewayController } from './default-flavour.ts';

/** Where templates are read from: an informer cache, then the API server on a miss. */
export interface TemplateSource {
  get(namespace: string, name: string, clusterScope: boolean): Promise<AnalysisTemplateSpec | undefined>;
}

/** The canary's Istio subsets when it routes by them (blue-green never does). */
const subsetsOf = (rollout: Rollout) => rollout.spec.strategy.canary?.trafficRouting?.istio?.destinationRule;

/**
 * The Service a gate's builtins measure: the canary, the preview before promotion, the active
 * after. Under subset routing the canary subset's name: the revision identifies the pods, and
 * the name only says which side a message is about.
 */
export function measuredService(rollout: Rollout, gate: GateKind): string | undefined {
  const { canary, blueGreen } = rollout.spec.strategy;
  if (canary) return subsetsOf(rollout)?.canarySubsetName ?? canary.canaryService;
  if (!blueGreen) return undefined;
  return gate === 'postPromotion' ? blueGreen.activeService : blueGreen.previewService;
}

/**
 * The Service compareToStable compares with: stable for canaries (the stable subset's name under
 * subset routing), active before a blue-green switch.
 */
export function comparedService(rollout: Rollout, gate: GateKind): string | undefined {
  const { canary, blueGreen } = rollout.spec.strategy;
  if (canary) return subsetsOf(rollout)?.stableSubsetName ?? canary.stableService;
  return blueGreen && gate !== 'postPromotion' ? blueGreen.activeService : undefined;
}

/**
 * compareToStable's side when the canary has a fresh baseline. The shared-incident check of the
 * absolute builtins keeps the stable: a dependency's outage reaches pods of any age, and the
 * stable, with most of the traffic, shows it with the most requests.
 */
const baselineOf = (rollout: Rollout): { baselineService?: string } => {
  const baselineService = rollout.spec.strategy.canary?.baselineService;
  return baselineService === undefined ? {} : { baselineService };
};

/**
 * The canonical revisions that tell the sides apart under subset routing, where both share one
 * Service; undefined otherwise. The pods carry their `sluice.dev/revision` value as Istio's
 * canonical revision. No stable side when there is no stable yet or the stable is the revision
 * under test: comparing a revision with itself would pass anything.
 */
export function measuredRevisions(
  rollout: Rollout,
  revision: string,
): { canary: string; stable?: string } | undefined {
  if (!subsetsOf(rollout)) return undefined;
  const stable = rollout.status?.stableRevision;
  return { canary: revision, ...(stable === undefined || stable === revision ? {} : { stable }) };
}

/** Undecided looks a watch tolerates: one a second for 68 years, i.e. for as long as the pause. */
export const WATCH_INCONCLUSIVE_LIMIT = 2 ** 31 - 1;

/**
 * The AnalysisRun object for a gate the machine started. Its name comes from the machine and
 * is deterministic, so creating it twice (after a crash) finds the first one. The gate's
 * builtins and templates are resolved into metrics here, once: a template edited mid-run does
 * not change a run already measuring. A gate that cannot be resolved gives a run whose status
 * is Error with a message naming the metric and the problem (written after create: the API
 * server ignores status on create).
 */
export function analysisRunFor(
  rollout: Rollout,
  start: EffectParams['startAnalysis'],
  templates: FoundTemplates = new Map(),
  /** The Rollout's runs so far: a gate's re-run continues the first run's comparison evidence. */
  earlier: AnalysisRun[] = [],
  /** The admin's bounds: a metric outside them makes the run fail at once, naming field and flag. */
  policy?: AnalysisPolicy,
  /** Scrape interval per Prometheus address ('' = the default one), where it could be learned. */
  scrapeIntervals?: ReadonlyMap<string, number>,
  /** For an envoyGateway gate: the Envoy clusters of each Service, or why there are none. */
  clusters?: ReadonlyMap<string, readonly string[]> | string,
  /** The builtins' metrics when the gate does not say (the routes' data plane). */
  defaultMetrics?: BuiltinMetrics,
): AnalysisRun {
  const written = gatesFor(rollout.spec, start.gate, start.stepIndex);
  const name = rollout.metadata.name ?? '';
  const namespace = rollout.metadata.namespace ?? 'default';
  let metrics: AnalysisRun['spec']['metrics'] = [];
  let error: string | undefined;
  let notes: string[] = [];
  let gates: Gates | undefined;
  try {
    if (!written) throw new InvalidAnalysis(`no ${start.gate} gate in the Rollout's spec`);
    gates = withArgValues(written, rollout, start.revision);
    if (gates.builtinMetrics === undefined && defaultMetrics === 'envoyGateway')
      gates = { ...gates, builtinMetrics: defaultMetrics };
    const revisions = measuredRevisions(rollout, start.revision);
    ({ metrics, notes } = resolveGate({
      gates,
      gate: start.gate,
      namespace,
      service: measuredService(rollout, start.gate),
      stableService: comparedService(rollout, start.gate),
      ...baselineOf(rollout),
      ...(revisions ? { revisions } : {}),
      templates,
      ...(policy ? { policy } : {}),
      ...(scrapeIntervals ? { scrapeIntervals } : {}),
      ...(clusters === undefined ? {} : { envoyClusters: clusters }),
      progressDeadlineSeconds: progressDeadlineMs(rollout.spec) / 1000,
    }));
  } catch (err) {
    if (!(err instanceof InvalidAnalysis)) throw err;
    error = err.message;
  }
  // A watch (a background gate run again while the release is paused) lasts the pause: an
  // undecided look (no traffic yet, no data) is not a reason to stop looking. Failures and
  // errors keep their limits, so a bad canary still aborts and an outage still ends it.
  if (start.watch) metrics = metrics.map((m) => ({ ...m, inconclusiveLimit: WATCH_INCONCLUSIVE_LIMIT }));
  const compares = metrics.some((m) => m.compare);
  // A run belongs to the controller instance that owns its Rollout: the runs informer selects
  // on this label as the Rollouts informer does, so two instances never both measure a run.
  const instance = rollout.metadata.labels?.[INSTANCE_LABEL];
  const evidenceSince = compares ? evidenceSinceFor(start.name, earlier) : undefined;
  return {
    apiVersion: API_VERSION,
    kind: 'AnalysisRun',
    metadata: {
      name: start.name,
      namespace,
      labels: {
        [ROLLOUT_LABEL]: name,
        'sluice.dev/gate': start.gate,
        ...(instance === undefined ? {} : { [INSTANCE_LABEL]: instance }),
      },
      ownerReferences: [ownerReference(rollout)],
      ...(notes.length ? { annotations: { [WINDOW_NOTES_ANNOTATION]: notes.join('\n') } } : {}),
    },
    spec: {
      rollout: name,
      revision: start.revision,
      gate: start.gate,
      ...(start.stepIndex === undefined ? {} : { stepIndex: start.stepIndex }),
      ...(gates?.args ? { args: gates.args } : {}),
      metrics,
      ...(error === undefined ? {} : { error: `cannot proceed: ${error}` }),
      ...(evidenceSince === undefined ? {} : { evidenceSince }),
    },
  };
}

/** The gate with its args' valueFrom read from the Rollout, as the run will record them. */
function withArgValues(gates: Gates, rollout: Rollout, revision: string): Gates {
  if (!gates.args?.some((a) => a.valueFrom)) return gates;
  try {
    const revisions = { latest: revision, stable: rollout.status?.stableRevision };
    return { ...gates, args: resolveArgValues(gates.args, rollout, revisions) };
  } catch (err) {
    if (err instanceof ArgValueError) throw new InvalidAnalysis(err.message);
    throw err;
  }
}

/** Windows a run's gate had widened or should widen, one per line: kept with the run for `kubectl describe`. */
export const WINDOW_NOTES_ANNOTATION = 'sluice.dev/analysis-window';

export interface AnalysisDeps {
  templates: TemplateSource;
  policy?: AnalysisPolicy;
  /** Where scrape intervals are learned; absent: windows are used as written. */
  scrapeIntervals?: ScrapeIntervalSource;
  /** Where a widened or short window is said as a Warning Event on the Rollout. */
  events?: Pick<EventRecorder, 'record'>;
  /** A Gateway's GatewayClass controller, for the default flavour of Gateway API routes. */
  gatewayController?: GatewayController;
}

/**
 * The scrape interval of the admin's Prometheus (`--prometheus-url`), keyed '' as resolveGate
 * reads it, when the gate's builtins or a template metric without its own address query it.
 * Only that address is asked. A tenant's address (even an allowed one) is not: a run start waits
 * on the lookup, so a silent address would hold a reconcile worker (outside the analysis
 * runner's per-namespace share) and open one more connection to it. Templates that name their
 * own address get no window warning; an unreadable config leaves the map empty.
 */
export async function learnScrapeIntervals(
  source: ScrapeIntervalSource,
  policy: AnalysisPolicy | undefined,
  usesDefault: boolean,
  templates: FoundTemplates,
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const address = policy?.defaultAddress;
  const queried =
    usesDefault ||
    [...templates.values()].some((spec) =>
      (spec?.metrics ?? []).some(
        (m) => m.provider.prometheus !== undefined && m.provider.prometheus.address === undefined,
      ),
    );
  if (!address || !queried) return out;
  const ms = await source.get(address);
  if (ms !== undefined) out.set('', ms);
  return out;
}

/** Reads the templates a gate names, builds the run, creates it, and records a resolution error. */
export async function startAnalysisRun(
  writer: Writer,
  analysis: AnalysisDeps | undefined,
  rollout: Rollout,
  start: EffectParams['startAnalysis'],
  earlier: AnalysisRun[],
  /** The Rollout's Gateway API routes as the caches hold them. */
  routes?: RouteLookup,
): Promise<void> {
  const gates = gatesFor(rollout.spec, start.gate, start.stepIndex);
  const found: FoundTemplates = new Map();
  const namespace = rollout.metadata.namespace ?? 'default';
  for (const ref of gates?.templates ?? []) {
    found.set(
      templateKey(ref),
      analysis
        ? await analysis.templates.get(namespace, ref.templateName, ref.clusterScope === true)
        : undefined,
    );
  }
  const scrapeIntervals =
    analysis?.scrapeIntervals && gates
      ? await learnScrapeIntervals(
          analysis.scrapeIntervals,
          analysis.policy,
          Boolean(gates.successRate || gates.latencyP99),
          found,
        )
      : undefined;
  // A gate that cannot be resolved still gets its run, carrying the problem in spec.error:
  // the runner, the one writer of run status, ends it in Error at once.
  // Read only for a gate that asks: Istio's metrics need no route.
  const usesBuiltins = Boolean(gates?.successRate || gates?.latencyP99 || gates?.compareToStable);
  const chosen =
    gates?.builtinMetrics ??
    (usesBuiltins && routes && analysis?.gatewayController
      ? await defaultFlavour(rollout.spec, namespace, routes, analysis.gatewayController)
      : 'istio');
  let clusters =
    chosen === 'envoyGateway' && routes ? envoyClusters(rollout.spec, namespace, routes) : undefined;
  if (typeof clusters === 'string' && gates?.builtinMetrics === undefined) {
    clusters = `${clusters} (envoyGateway is the default here: every Gateway the routes attach to is Envoy Gateway's; set builtinMetrics: istio to read Istio's metrics instead)`;
  }
  const run = analysisRunFor(
    rollout,
    start,
    found,
    earlier,
    analysis?.policy,
    scrapeIntervals,
    clusters,
    chosen,
  );
  await writer.createAnalysisRun(run);
  const notes = run.metadata.annotations?.[WINDOW_NOTES_ANNOTATION];
  if (notes && analysis?.events) {
    await analysis.events.record(
      {
        apiVersion: API_VERSION,
        kind: 'Rollout',
        name: rollout.metadata.name ?? '',
        namespace,
        ...(rollout.metadata.uid ? { uid: rollout.metadata.uid } : {}),
      },
      {
        type: 'Warning',
        reason: 'AnalysisWindow',
        action: 'StartAnalysis',
        note: `analysis ${start.name}: ${notes.replace(/\n/g, '; ')}`,
      },
    );
  }
}

interface Cache {
  get(namespace: string, name: string): { spec?: unknown } | undefined;
}

/** Templates from informer caches, falling back to a GET when the cache has not seen one yet. */
export function templateSource(
  kc: KubeConfig,
  caches: { namespaced: Cache; cluster: Cache },
): TemplateSource {
  return {
    async get(namespace, name, clusterScope) {
      const cached = clusterScope ? caches.cluster.get('', name) : caches.namespaced.get(namespace, name);
      if (cached?.spec) return cached.spec as AnalysisTemplateSpec;
      const path = resourcePath({
        group: GROUP,
        version: VERSION,
        plural: clusterScope ? 'clusteranalysistemplates' : 'analysistemplates',
        namespace: clusterScope ? undefined : namespace,
        name,
      });
      try {
        const obj = await requestJson<{ spec?: AnalysisTemplateSpec }>(kc, { method: 'GET', path });
        return obj.spec;
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
  };
}

/**
 * A release held on a run that can never pass as written (missing template, bad CEL, unknown
 * arg) cannot proceed without a change to git: that is Stalled, not merely Paused.
 */
export function analysisProblem(
  runs: AnalysisRun[],
  status: { pause?: { reason?: string }; analysis?: { name: string }; backgroundAnalysis?: { name: string } },
): { reason: string; message: string } | undefined {
  if (status.pause?.reason !== 'AnalysisError') return undefined;
  for (const ref of [status.analysis, status.backgroundAnalysis]) {
    const run = ref && runs.find((r) => r.metadata.name === ref.name);
    if (run?.status?.reason === REASON_INVALID) {
      return { reason: REASON_INVALID, message: `analysis ${ref?.name}: ${run.status.message ?? 'invalid'}` };
    }
  }
  return undefined;
}
