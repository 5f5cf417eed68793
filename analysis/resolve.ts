// From a gate (builtins + template references + args) to the metrics an AnalysisRun measures.
// Pure: templates come in as data, so every failure here is a message, not a network call.
import type { AnalysisTemplateSpec, Gates, Metric, RunMetric } from '../crds/index.ts';
import { DEFAULTS, parseDuration } from '../crds/index.ts';
import type { GateKind } from '../machines/events.ts';
import { hasCredentials } from './address.ts';
import { compileCondition } from './conditions.ts';
import { type Destination, latencyP99Query, substituteArgs, successRateQuery } from './queries.ts';

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

export const BUILTIN_NAMES = { successRate: 'success-rate', latencyP99: 'latency-p99' } as const;

export interface ResolveInput {
  gates: Gates;
  gate: GateKind;
  namespace: string;
  /** The Service whose traffic the builtins measure; undefined when the strategy has none. */
  service?: string;
  templates: FoundTemplates;
}

/** How many measurements a metric takes when it does not say: steps and promotions one, background until stopped. */
export const defaultCount = (gates: Gates, gate: GateKind): number =>
  gates.count ?? (gate === 'background' ? 0 : 1);

/** Numbers in CEL: always with a decimal point, so `result >= 99.0` compares doubles. */
const celNumber = (n: number) => (Number.isInteger(n) ? `${n}.0` : String(n));

export function resolveMetrics(input: ResolveInput): RunMetric[] {
  const { gates, gate, namespace } = input;
  const interval = gates.interval ?? DEFAULTS.interval;
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
    const destination: Destination = { service: input.service, namespace };
    const windowMs = parseDuration(interval);
    if (gates.successRate) {
      const min = celNumber(gates.successRate.min);
      metrics.push({
        name: BUILTIN_NAMES.successRate,
        builtin: 'successRate',
        ...timing,
        ...limits,
        successCondition: `result >= ${min}`,
        failureCondition: `result < ${min}`,
        provider: { prometheus: { query: successRateQuery(destination, windowMs) } },
      });
    }
    if (gates.latencyP99) {
      const max = celNumber(gates.latencyP99.maxMs);
      metrics.push({
        name: BUILTIN_NAMES.latencyP99,
        builtin: 'latencyP99',
        ...timing,
        ...limits,
        successCondition: `result <= ${max}`,
        failureCondition: `result > ${max}`,
        provider: { prometheus: { query: latencyP99Query(destination, windowMs) } },
      });
    }
  }

  const gateArgs = new Map((gates.args ?? []).map((a) => [a.name, a.value]));
  for (const ref of gates.templates ?? []) {
    const spec = input.templates.get(templateKey(ref));
    if (!spec) throw new InvalidAnalysis(`${describeRef(ref, namespace)} not found`);
    // Template defaults < gate args; a declared arg without a value anywhere stays undefined.
    const args: Record<string, string | undefined> = {};
    for (const a of spec.args ?? []) args[a.name] = gateArgs.get(a.name) ?? a.value;
    for (const metric of spec.metrics) {
      metrics.push(resolveTemplateMetric(metric, ref, args, count, gate, gates.initialDelay));
    }
  }

  const seen = new Set<string>();
  for (const m of metrics) {
    if (seen.has(m.name)) {
      throw new InvalidAnalysis(`metric ${m.name}: two metrics of this gate share the name; rename one`);
    }
    seen.add(m.name);
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
  return metrics;
}

function resolveTemplateMetric(
  metric: Metric,
  ref: TemplateRef,
  args: Record<string, string | undefined>,
  count: number,
  gate: GateKind,
  initialDelay: string | undefined,
): RunMetric {
  let query: string;
  try {
    query = substituteArgs(metric.provider.prometheus.query, args);
  } catch (err) {
    throw new InvalidAnalysis(
      `metric ${metric.name} (template ${ref.templateName}): ${(err as Error).message}`,
    );
  }
  for (const d of [metric.interval, metric.initialDelay, metric.provider.prometheus.timeout]) {
    if (d === undefined) continue;
    try {
      parseDuration(d);
    } catch (err) {
      throw new InvalidAnalysis(`metric ${metric.name}: ${(err as Error).message}`);
    }
  }
  const address = metric.provider.prometheus.address;
  if (address !== undefined && hasCredentials(address)) {
    // Copying it into the AnalysisRun would show the password to everyone who can read runs.
    throw new InvalidAnalysis(
      `metric ${metric.name} (template ${ref.templateName}): provider.prometheus.address carries credentials; ` +
        "a template lives in git and is copied into every AnalysisRun: give them to the controller's --prometheus-url (from a Secret) instead",
    );
  }
  // A step's template metric without a count measures as often as the gate says (once by
  // default): otherwise the step would never end.
  const withCount = metric.count !== undefined || gate === 'background' ? {} : count ? { count } : {};
  // The gate's initialDelay applies to every metric that does not set its own.
  const withDelay = metric.initialDelay === undefined && initialDelay !== undefined ? { initialDelay } : {};
  return {
    ...metric,
    ...withCount,
    ...withDelay,
    template: ref.templateName,
    provider: { prometheus: { ...metric.provider.prometheus, query } },
  };
}
