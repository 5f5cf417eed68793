// From a gate (builtins + template references + args) to the metrics an AnalysisRun measures.
// Pure: templates come in as data, so every failure here is a message, not a network call.
import type { AnalysisTemplateSpec, GateKind, Gates, Metric, RunMetric } from '../crds/index.ts';
import {
  DEFAULTS,
  ERRORS_NEEDS_AN_EFFECT,
  fieldPath,
  hasErrorsEffect,
  MAX_QUERY_LENGTH,
  MetricProvider,
  parseDuration,
} from '../crds/index.ts';
import { DEFAULT_ABSOLUTE_CONFIDENCE, DEFAULT_ABSOLUTE_MIN_REQUESTS } from './absolute.ts';
import { hasCredentials } from './address.ts';
import { compileCondition } from './cel-conditions.ts';
import { lookBudget } from './compare/budget.ts';
import { DEFAULT_CONFIDENCE, DEFAULT_MIN_REQUESTS, DEFAULT_POWER } from './compare/measure.ts';
import { latencyBucketsQuery, requestCountsQuery, withWindow } from './compare/queries.ts';
import { type Flavour, flavourOf } from './flavour.ts';
import { jobProblem } from './job.ts';
import { parseJsonPath } from './jsonpath.ts';
import { type AnalysisPolicy, MIN_INTERVAL_MS, policyProblem } from './policy.ts';
import { widenRanges } from './promql-ranges.ts';
import { type Destination, promDuration, substituteArgs, substituteDeep } from './queries.ts';

export interface TemplateRef {
  templateName: string;
  clusterScope?: boolean;
}

/** The templates a gate names, as found: undefined when missing. */
export type FoundTemplates = Map<string, AnalysisTemplateSpec | undefined>;
export const templateKey = (ref: TemplateRef) =>
  `${ref.clusterScope ? 'cluster' : 'namespace'}/${ref.templateName}`;
const describeRef = (ref: TemplateRef, namespace: string) =>
  ref.clusterScope
    ? `ClusterAnalysisTemplate ${ref.templateName}`
    : `AnalysisTemplate ${namespace}/${ref.templateName}`;

/** A gate that cannot run as written: the run is created in phase Error with this message. */
export class InvalidAnalysis extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidAnalysis';
  }
}

export const BUILTIN_NAMES = {
  successRate: 'success-rate',
  latencyP99: 'latency-p99',
  compareErrors: 'compare-errors',
  compareLatencyP99: 'compare-latency-p99',
  compareLatencyDistribution: 'compare-latency-distribution',
} as const;

export interface ResolveInput {
  gates: Gates;
  gate: GateKind;
  namespace: string;
  /** The Service whose traffic the builtins measure; undefined when the strategy has none. */
  service?: string;
  /** The Service compareToStable compares with: stable (canary), active (before a blue-green switch). */
  stableService?: string;
  /**
   * A canary's baselineService: compareToStable compares with it instead, pods of the canary's age
   * under the canary's load. The absolute builtins' shared-incident check keeps the stable.
   */
  baselineService?: string;
  /**
   * Subset routing: the canonical revisions of the two sides, which share one Service. `service`
   * and `stableService` then only name the sides (the subsets) in messages. No stable revision:
   * nothing to compare with (a first release).
   */
  revisions?: { canary: string; stable?: string };
  /**
   * The Envoy clusters carrying each Service's traffic (by Service name), as Envoy Gateway names
   * them, for a gate that reads the envoyGateway flavour; or why there are none to read.
   */
  envoyClusters?: ReadonlyMap<string, readonly string[]> | string;
  templates: FoundTemplates;
  /** The admin's bounds on template metrics (addresses, timeouts); absent: intervals only. */
  policy?: AnalysisPolicy;
  /**
   * Scrape interval (ms) of each Prometheus the gate queries, as learned from its config: key
   * '' is the controller's default Prometheus (the builtins'), others a template's address.
   * Absent or missing: unknown, and windows stay as written.
   */
  scrapeIntervals?: ReadonlyMap<string, number>;
  /** The Rollout's progressDeadlineSeconds: compareToStable's look budget when it states none. Absent: the default. */
  progressDeadlineSeconds?: number;
}

/** What resolving a gate gives: the metrics, and what a person should know about them. */
export interface ResolvedGate {
  metrics: RunMetric[];
  /** Windows and template query ranges widened to hold two scrapes: for an Event and the run. */
  notes: string[];
}

/** A rate needs two samples of a series inside its window. */
export const SCRAPES_PER_WINDOW = 2;

/** How many measurements a metric takes when it does not say: steps and promotions one, background until stopped. */
export const defaultCount = (gates: Gates, gate: GateKind): number =>
  gates.count ?? (gate === 'background' ? 0 : 1);

export function resolveMetrics(input: ResolveInput): RunMetric[] {
  return resolveGate(input).metrics;
}

export function resolveGate(input: ResolveInput): ResolvedGate {
  const { gates, gate, namespace } = input;
  const notes: string[] = [];
  const interval = gates.interval ?? DEFAULTS.interval;
  // The schema says so too; a Rollout stored before it did must not measure in a hot loop.
  if (safeMs(interval) < MIN_INTERVAL_MS) {
    throw new InvalidAnalysis(`interval ${interval} is under the minimum of 1s`);
  }
  const count = defaultCount(gates, gate);
  const limits = {
    ...(gates.failureLimit === undefined ? {} : { failureLimit: gates.failureLimit }),
    ...(gates.inconclusiveLimit === undefined ? {} : { inconclusiveLimit: gates.inconclusiveLimit }),
    ...(gates.consecutiveErrorLimit === undefined
      ? {}
      : { consecutiveErrorLimit: gates.consecutiveErrorLimit }),
  };
  // The builtins' window is the interval: without an initialDelay they wait one interval, so
  // the first window holds traffic the canary actually received (else: no data, Inconclusive).
  const timing = {
    interval,
    ...(count ? { count } : {}),
    initialDelay: gates.initialDelay ?? interval,
  };
  const metrics: RunMetric[] = [];
  if (gates.successRate || gates.latencyP99) {
    if (!input.service) {
      throw new InvalidAnalysis(
        'builtin gates (successRate, latencyP99) need a Service to measure: set previewService for blue-green',
      );
    }
    const { canary: destination, stable } = sidesOf(input, input.service);
    const { flavour, recorded } = flavourFor(input, [destination, stable]);
    let windowMs = parseDuration(interval);
    let builtinTiming = timing;
    // The user asked for a window of one interval; one that cannot hold two scrapes can never
    // see a series, so it is widened to the shortest that can (docs/analysis.md, "Choosing intervals").
    const scrapeMs = input.scrapeIntervals?.get('');
    if (scrapeMs !== undefined && windowMs < SCRAPES_PER_WINDOW * scrapeMs) {
      const widened = SCRAPES_PER_WINDOW * scrapeMs;
      const names = [gates.successRate && 'successRate', gates.latencyP99 && 'latencyP99'].filter(Boolean);
      notes.push(
        `${names.join(' and ')}: rate window widened from ${promDuration(windowMs)} (the gate's interval ${interval}) to ${promDuration(widened)}: ` +
          whyWiden(scrapeMs),
      );
      windowMs = widened;
    }
    // Without an initialDelay the first look waits for one full window of canary traffic and one
    // scrape more: the first scrape that can see the canary's new series comes up to a scrape
    // interval after its traffic starts, and a window holding only that one sample finds no data.
    if (gates.initialDelay === undefined && scrapeMs !== undefined)
      builtinTiming = { ...timing, initialDelay: promDuration(windowMs + scrapeMs) };
    // Counts of the window, the Service under test's and the stable's side by side: a bound
    // needs the requests behind a rate, and a shared incident the stable's numbers of the same
    // window. Without a stable (first release, after a blue-green switch) the canary alone.
    const absolute = (options: { confidence?: number; minRequests?: number }) => ({
      canaryService: destination.service,
      ...(stable === undefined ? {} : { stableService: stable.service }),
      ...revisionsOf(destination, stable),
      confidence: options.confidence ?? DEFAULT_ABSOLUTE_CONFIDENCE,
      minRequests: options.minRequests ?? DEFAULT_ABSOLUTE_MIN_REQUESTS,
    });
    if (gates.successRate) {
      const { min, ...options } = gates.successRate;
      metrics.push({
        name: BUILTIN_NAMES.successRate,
        builtin: 'successRate',
        ...recorded,
        ...builtinTiming,
        ...limits,
        absolute: { ...absolute(options), min },
        provider: {
          prometheus: {
            query: withWindow(requestCountsQuery(destination, stable ?? destination, flavour), windowMs),
          },
        },
      });
    }
    if (gates.latencyP99) {
      const { maxMs, ...options } = gates.latencyP99;
      metrics.push({
        name: BUILTIN_NAMES.latencyP99,
        builtin: 'latencyP99',
        ...recorded,
        ...builtinTiming,
        ...limits,
        absolute: { ...absolute(options), maxMs },
        provider: {
          prometheus: {
            query: withWindow(latencyBucketsQuery(destination, stable ?? destination, flavour), windowMs),
          },
        },
      });
    }
  }
  if (gates.compareToStable) metrics.push(...compareMetrics(input, timing, limits));

  const gateArgs = new Map((gates.args ?? []).map((a) => [a.name, a.value]));
  for (const ref of gates.templates ?? []) {
    const spec = input.templates.get(templateKey(ref));
    if (!spec) throw new InvalidAnalysis(`${describeRef(ref, namespace)} not found`);
    // Template defaults < gate args; a declared arg without a value anywhere stays undefined.
    const args: Record<string, string | undefined> = {};
    for (const a of spec.args ?? []) args[a.name] = gateArgs.get(a.name) ?? a.value;
    for (const metric of spec.metrics) {
      const resolved = resolveTemplateMetric(
        metric,
        ref,
        args,
        count,
        gate,
        gates.initialDelay,
        input.policy,
      );
      const prometheus = resolved.provider.prometheus;
      const scrapeMs = prometheus && input.scrapeIntervals?.get(prometheus.address ?? '');
      if (!prometheus || scrapeMs === undefined) {
        metrics.push(resolved);
        continue;
      }
      const to = promDuration(SCRAPES_PER_WINDOW * scrapeMs);
      const { query, widened } = widenRanges(prometheus.query, SCRAPES_PER_WINDOW * scrapeMs, to);
      metrics.push({ ...resolved, provider: { prometheus: { ...prometheus, query } } });
      if (widened.length) {
        const from = widened.map((r) => `[${r}]`).join(', ');
        notes.push(
          `metric ${resolved.name} (template ${ref.templateName}): query range ${from} widened to [${to}]: ${whyWiden(scrapeMs)}`,
        );
      }
    }
  }

  const seen = new Set<string>();
  for (const m of metrics) {
    if (seen.has(m.name)) {
      throw new InvalidAnalysis(`metric ${m.name}: two metrics of this gate share the name; rename one`);
    }
    seen.add(m.name);
    // A run the API server would refuse is never created: the gate ends in Error instead.
    const length = m.provider.prometheus?.query.length ?? 0;
    if (length > MAX_QUERY_LENGTH) {
      const why =
        m.builtinMetrics === 'envoyGateway' ? ' (it names every Envoy cluster of the rules it reads)' : '';
      throw new InvalidAnalysis(
        `metric ${m.name}: its query has ${length} characters${why}, more than the ${MAX_QUERY_LENGTH} a run holds`,
      );
    }
    for (const expr of [m.successCondition, m.failureCondition]) {
      if (expr === undefined) continue;
      try {
        compileCondition(expr);
      } catch (err) {
        throw new InvalidAnalysis(`metric ${m.name}: ${(err as Error).message}`);
      }
    }
  }
  if (metrics.length === 0) throw new InvalidAnalysis('the gate has no metrics to measure');
  return { metrics, notes };
}

/**
 * The side under test and the stable side. Under subset routing both share one Service, so a
 * side is its revision, and a stable side without a revision (a first release) is none at all:
 * its subset name alone would select nothing, or the canary's pods.
 */
function sidesOf(input: ResolveInput, service: string): { canary: Destination; stable?: Destination } {
  const { namespace, revisions, stableService } = input;
  if (!revisions) {
    return {
      canary: { service, namespace },
      ...(stableService === undefined ? {} : { stable: { service: stableService, namespace } }),
    };
  }
  const canary = { service, namespace, revision: revisions.canary };
  if (stableService === undefined || revisions.stable === undefined) return { canary };
  return { canary, stable: { service: stableService, namespace, revision: revisions.stable } };
}

/**
 * The flavour a gate's builtins read, with the sides' Envoy clusters put in for envoyGateway, and
 * the field a run's metric records it by (nothing for Istio: runs read as before flavours).
 */
function flavourFor(
  input: ResolveInput,
  sides: (Destination | undefined)[],
): { flavour: Flavour; recorded: Pick<RunMetric, 'builtinMetrics'> } {
  const flavour = flavourOf(input.gates.builtinMetrics);
  if (flavour.name === 'istio') return { flavour, recorded: {} };
  const where = 'builtinMetrics envoyGateway';
  if (input.revisions) {
    throw new InvalidAnalysis(`${where}: subset routing is Istio's; its sides exist only in Istio's metrics`);
  }
  const found = input.envoyClusters;
  if (found === undefined || typeof found === 'string') {
    throw new InvalidAnalysis(
      `${where}: ${found ?? "Envoy Gateway's clusters come from the Rollout's HTTPRoutes and GRPCRoutes: it needs trafficRouting.gatewayAPI"}`,
    );
  }
  for (const side of sides) {
    if (side === undefined) continue;
    const clusters = found.get(side.service) ?? [];
    if (clusters.length === 0) {
      throw new InvalidAnalysis(
        `${where}: no route rule Sluice weighs sends Service ${side.service} traffic`,
      );
    }
    side.clusters = clusters;
  }
  return { flavour, recorded: { builtinMetrics: flavour.name } };
}

/** The revisions a run's metric block keeps so its looks can find each side in the answer. */
const revisionsOf = (canary: Destination, stable: Destination | undefined) => ({
  ...(canary.revision === undefined ? {} : { canaryRevision: canary.revision }),
  ...(stable?.revision === undefined ? {} : { stableRevision: stable.revision }),
});

const whyWiden = (scrapeMs: number) =>
  `Prometheus scrapes every ${promDuration(scrapeMs)} and a rate needs ${SCRAPES_PER_WINDOW} scrapes in its window`;

/**
 * compareToStable as up to three sequential metrics. A step looks until its first verdict, at
 * most its look budget (compare/budget.ts); background: until promotion.
 */
function compareMetrics(
  input: ResolveInput,
  timing: { interval: string; count?: number; initialDelay: string },
  limits: Pick<RunMetric, 'failureLimit' | 'inconclusiveLimit' | 'consecutiveErrorLimit'>,
): RunMetric[] {
  const cmp = input.gates.compareToStable;
  if (!cmp) return [];
  if (!input.service || !input.stableService) {
    throw new InvalidAnalysis(
      input.gate === 'postPromotion'
        ? 'compareToStable cannot run after a blue-green switch: the old revision no longer receives traffic to compare with; use it in prePromotionAnalysis'
        : 'compareToStable needs a Service under test and a stable Service to compare with',
    );
  }
  const sides = sidesOf(input, input.service);
  const { canary } = sides;
  // A baseline is host-routed (the schema allows nothing else): its Service alone tells it apart.
  const baseline = input.baselineService;
  const stable = baseline === undefined ? sides.stable : { service: baseline, namespace: input.namespace };
  if (!stable) {
    throw new InvalidAnalysis('compareToStable under subset routing needs a stable revision to compare with');
  }
  const { flavour, recorded } = flavourFor(input, [canary, stable]);
  if (cmp.errors && !hasErrorsEffect(cmp.errors)) {
    throw new InvalidAnalysis(`compareToStable.${ERRORS_NEEDS_AN_EFFECT.message}`);
  }
  const base = {
    canaryService: canary.service,
    stableService: stable.service,
    ...(baseline === undefined ? {} : { baseline: true }),
    ...revisionsOf(canary, stable),
    confidence: cmp.confidence ?? DEFAULT_CONFIDENCE,
    power: cmp.power ?? DEFAULT_POWER,
    minRequests: cmp.minRequests ?? DEFAULT_MIN_REQUESTS,
  };
  // Background: until promotion, but the budget's undecided looks at most before a first verdict
  // (inconclusiveLimit counts the ones past the first).
  const budget = lookBudget(input.gates, input.gate, input.progressDeadlineSeconds);
  const looks =
    input.gate === 'background' ? { inconclusiveLimit: budget.looks - 1 } : { count: budget.looks };
  const common = { ...timing, ...limits, ...looks };
  const checks: [
    keyof typeof BUILTIN_NAMES & RunMetric['builtin'],
    Partial<NonNullable<RunMetric['compare']>>,
    string,
  ][] = [];
  const counts = () => requestCountsQuery(canary, stable, flavour);
  const buckets = () => latencyBucketsQuery(canary, stable, flavour);
  if (cmp.errors) checks.push(['compareErrors', cmp.errors, counts()]);
  if (cmp.latencyP99) checks.push(['compareLatencyP99', cmp.latencyP99, buckets()]);
  if (cmp.latencyDistribution)
    checks.push(['compareLatencyDistribution', cmp.latencyDistribution, buckets()]);
  return checks.map(([builtin, effect, query]) => ({
    name: BUILTIN_NAMES[builtin],
    builtin,
    ...recorded,
    ...common,
    compare: { ...base, ...effect, budget: budget.limit },
    provider: { prometheus: { query } },
  }));
}

function resolveTemplateMetric(
  metric: Metric,
  ref: TemplateRef,
  args: Record<string, string | undefined>,
  count: number,
  gate: GateKind,
  initialDelay: string | undefined,
  policy: AnalysisPolicy | undefined,
): RunMetric {
  const where = `metric ${metric.name} (template ${ref.templateName})`;
  let provider: Metric['provider'];
  try {
    provider = withArgs(metric.provider, args);
  } catch (err) {
    throw new InvalidAnalysis(`${where}: ${(err as Error).message}`);
  }
  for (const d of [metric.interval, metric.initialDelay, provider.prometheus?.timeout]) {
    if (d === undefined) continue;
    try {
      parseDuration(d);
    } catch (err) {
      throw new InvalidAnalysis(`metric ${metric.name}: ${(err as Error).message}`);
    }
  }
  if (provider.web?.jsonPath !== undefined) {
    try {
      parseJsonPath(provider.web.jsonPath);
    } catch (err) {
      throw new InvalidAnalysis(`${where}: provider.web.${(err as Error).message}`);
    }
  }
  // The API server's CEL carries only part of these rules, and a template is read unparsed.
  const checked = MetricProvider.safeParse(provider);
  if (!checked.success) {
    const [issue] = checked.error.issues;
    throw new InvalidAnalysis(
      `${where}: ${fieldPath(['provider', ...(issue?.path ?? [])])}: ${issue?.message}`,
    );
  }
  const jobTrouble = provider.job && jobProblem(provider.job);
  if (jobTrouble) throw new InvalidAnalysis(`${where}: ${jobTrouble}`);
  // Checked with the args in place: an arg may make up part of a web URL.
  const resolved = { ...metric, provider };
  const problem = policy
    ? policyProblem(resolved, policy)
    : metric.interval !== undefined && safeMs(metric.interval) < MIN_INTERVAL_MS
      ? `interval ${metric.interval} is under the minimum of 1s`
      : undefined;
  if (problem) throw new InvalidAnalysis(`${where}: ${problem}`);
  const address = provider.prometheus?.address;
  if (address !== undefined && hasCredentials(address)) {
    // Copying it into the AnalysisRun would show the password to everyone who can read runs.
    throw new InvalidAnalysis(
      `${where}: provider.prometheus.address carries credentials; ` +
        "a template lives in git and is copied into every AnalysisRun: give them to the controller's --prometheus-url (from a Secret) instead",
    );
  }
  // A step's template metric without a count measures as often as the gate says (once by
  // default): otherwise the step would never end.
  const withCount = metric.count !== undefined || gate === 'background' ? {} : count ? { count } : {};
  // The gate's initialDelay applies to every metric that does not set its own.
  const withDelay = metric.initialDelay === undefined && initialDelay !== undefined ? { initialDelay } : {};
  return { ...metric, ...withCount, ...withDelay, template: ref.templateName, provider };
}

/** The provider with `{{args.NAME}}` filled in: escaped for PromQL, as written for web and Job. */
function withArgs(p: Metric['provider'], args: Record<string, string | undefined>): Metric['provider'] {
  if (p.prometheus)
    return { prometheus: { ...p.prometheus, query: substituteArgs(p.prometheus.query, args) } };
  if (p.web) return { web: substituteDeep(p.web, args) };
  return p.job ? { job: substituteDeep(p.job, args) } : p;
}

function safeMs(d: string): number {
  try {
    return parseDuration(d);
  } catch {
    return Number.NaN;
  }
}
