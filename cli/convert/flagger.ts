// A Flagger Canary (with the MetricTemplates it names) as far as its ideas are Sluice's: the
// Deployment's pod template in a Rollout, Flagger's weight ladder (stepWeight up to maxWeight,
// one analysis interval each) as setWeight/pause steps, its failed-check threshold as the
// background gate's failureLimit, and its Istio builtins as Sluice's. Flagger generates the
// Services and the VirtualService; Sluice uses ones that exist, named as Flagger names them.
import { Document } from 'yaml';
import { API_VERSION } from '../../crds/common.ts';
import { type Converted, Edit } from './edit.ts';
import { type Workloads, workloadKey } from './rollout.ts';

export interface MetricTemplateEntry {
  object: { metadata?: { name?: unknown; namespace?: unknown }; spec?: unknown };
  used: boolean;
}
export type MetricTemplates = Map<string, MetricTemplateEntry>;
export const metricTemplateKey = workloadKey;

/** What each unhandled Canary field was for, and why Sluice does not carry it. */
const NOT_SLUICE: Record<string, string> = {
  'spec.autoscalerRef':
    'Flagger points the autoscaler at its primary; with Sluice point the HorizontalPodAutoscaler at the Rollout (it has a scale subresource)',
  'spec.skipAnalysis':
    'skipping analysis is not a Sluice idea: `kubectl sluice promote --full` skips the steps',
  'spec.ingressRef':
    'another traffic router (ingress): Sluice routes traffic through Istio or the Gateway API',
  'spec.upstreamRef':
    'another traffic router (Gloo upstream): Sluice routes traffic through Istio or the Gateway API',
  'spec.revertOnDeletion': 'Sluice does not hand a Deployment back when its Rollout is deleted',
  'spec.analysis.webhooks':
    'webhooks (load tests, manual gates, confirm-rollout) are not a Sluice idea: use a pause step and `kubectl sluice promote`',
  'spec.analysis.iterations':
    'iteration-based A/B and blue-green analysis are not carried: Sluice counts steps',
  'spec.analysis.match':
    'header and cookie matching (A/B testing) is not a Sluice idea: Sluice moves traffic by weight only',
  'spec.analysis.mirror': 'mirrored traffic is not a Sluice idea',
  'spec.analysis.mirrorWeight': 'mirrored traffic is not a Sluice idea',
  'spec.analysis.alerts': "Sluice reports through Events and its controller's metrics, not alert providers",
  'spec.analysis.stepWeightPromotion': 'Sluice promotes in one step after the last pause',
  'spec.analysis.primaryReadyThreshold': 'Sluice waits for every pod of a revision to be ready',
  'spec.analysis.canaryReadyThreshold': 'Sluice waits for every pod of a revision to be ready',
  'spec.analysis.sessionAffinity.primaryCookieName':
    'Sluice keeps only canary sessions: a session on the primary moves as the weights say',
};

/** Fields the conversion reads. */
const READ = new Set([
  'spec.targetRef',
  'spec.provider',
  'spec.service',
  'spec.progressDeadlineSeconds',
  'spec.analysis',
  'spec.analysis.interval',
  'spec.analysis.threshold',
  'spec.analysis.maxWeight',
  'spec.analysis.stepWeight',
  'spec.analysis.stepWeights',
  'spec.analysis.metrics',
  'spec.analysis.sessionAffinity',
  'spec.analysis.sessionAffinity.cookieName',
  'spec.analysis.sessionAffinity.maxAge',
  'spec.service.gatewayRefs',
]);

interface FlaggerMetric {
  name?: string;
  interval?: string;
  thresholdRange?: { min?: number; max?: number };
  templateRef?: { name?: string; namespace?: string };
  templateVariables?: Record<string, string>;
}

interface Canary {
  metadata?: { name?: string; namespace?: string; labels?: unknown; annotations?: unknown };
  spec?: {
    provider?: string;
    targetRef?: { kind?: string; name?: string };
    service?: { name?: string; gatewayRefs?: unknown[] };
    progressDeadlineSeconds?: number;
    analysis?: {
      sessionAffinity?: { cookieName?: string; maxAge?: number };
      interval?: string;
      threshold?: number;
      maxWeight?: number;
      stepWeight?: number;
      stepWeights?: number[];
      metrics?: FlaggerMetric[];
    };
  };
}

const obj = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * The Canary as the conversion reads it, every field of the type it must have or absent: the
 * file is anybody's, and a mistyped field is for the output's schema check to name, never a crash.
 */
function readCanary(raw: Record<string, unknown>): Canary {
  const metadata = obj(raw.metadata);
  const spec = obj(raw.spec);
  const analysis = obj(spec.analysis);
  const readMetric = (m: unknown): FlaggerMetric => {
    const metric = obj(m);
    const range = obj(metric.thresholdRange);
    const ref = metric.templateRef === undefined ? undefined : obj(metric.templateRef);
    return {
      name: str(metric.name),
      interval: str(metric.interval),
      thresholdRange: { min: num(range.min), max: num(range.max) },
      templateRef: ref && { name: str(ref.name), namespace: str(ref.namespace) },
      templateVariables: Object.fromEntries(
        Object.entries(obj(metric.templateVariables)).map(([k, v]) => [k, String(v)]),
      ),
    };
  };
  return {
    metadata: { name: str(metadata.name), namespace: str(metadata.namespace) },
    spec: {
      provider: spec.provider === undefined ? undefined : String(spec.provider),
      targetRef: { kind: str(obj(spec.targetRef).kind), name: str(obj(spec.targetRef).name) },
      service: {
        name: str(obj(spec.service).name),
        gatewayRefs: Array.isArray(obj(spec.service).gatewayRefs)
          ? (obj(spec.service).gatewayRefs as unknown[])
          : undefined,
      },
      progressDeadlineSeconds: num(spec.progressDeadlineSeconds),
      analysis: {
        interval: str(analysis.interval),
        threshold: num(analysis.threshold),
        maxWeight: num(analysis.maxWeight),
        stepWeight: num(analysis.stepWeight),
        stepWeights: Array.isArray(analysis.stepWeights)
          ? analysis.stepWeights.filter((w): w is number => num(w) !== undefined)
          : undefined,
        metrics: Array.isArray(analysis.metrics) ? analysis.metrics.slice(0, 20).map(readMetric) : [],
        sessionAffinity:
          analysis.sessionAffinity === undefined
            ? undefined
            : {
                cookieName: str(obj(analysis.sessionAffinity).cookieName),
                maxAge: num(obj(analysis.sessionAffinity).maxAge),
              },
      },
    },
  };
}

/** The weights Flagger walks through: stepWeights as given, else stepWeight up to maxWeight. Bounded to 100 steps. */
export function weightLadder(analysis: NonNullable<Canary['spec']>['analysis']): number[] {
  if (Array.isArray(analysis?.stepWeights)) return analysis.stepWeights.slice(0, 100);
  const step = analysis?.stepWeight ?? 0;
  const max = Math.min(analysis?.maxWeight ?? 100, 100);
  if (!(step > 0)) return [];
  const out: number[] = [];
  for (let w = step; w <= max && out.length < 100; w += step) out.push(w);
  return out;
}

/** A Flagger threshold range as the condition that fails a look outside it. */
function failureCondition(range: FlaggerMetric['thresholdRange']): string | undefined {
  const parts: string[] = [];
  if (typeof range?.min === 'number') parts.push(`result < ${celNumber(range.min)}`);
  if (typeof range?.max === 'number') parts.push(`result > ${celNumber(range.max)}`);
  return parts.length ? parts.join(' || ') : undefined;
}
const celNumber = (n: number) => (Number.isInteger(n) ? `${n}.0` : String(n));

/** Flagger's {{ namespace }}, {{ target }}, {{ interval }}, {{ variables.X }}, filled in with this Canary's values. */
function fillQuery(query: string, values: Record<string, string>): { query: string; unknown: string[] } {
  const unknown: string[] = [];
  const out = query.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (whole, name: string) => {
    const v = values[name];
    if (v === undefined) unknown.push(name);
    return v ?? whole;
  });
  return { query: out, unknown };
}

function unhandled(value: unknown, prefix: string, out: string[]): void {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return;
  for (const key of Object.keys(value)) {
    const path = `${prefix}.${key}`;
    if (path === 'spec.analysis') unhandled((value as Record<string, unknown>)[key], path, out);
    else if (!READ.has(path)) out.push(path);
  }
}

export function convertCanary(
  canary: Record<string, unknown>,
  workloads: Workloads,
  templates: MetricTemplates,
): Converted[] {
  const c = readCanary(canary);
  const name = c.metadata?.name ?? 'canary';
  const namespace = c.metadata?.namespace;
  const spec = c.spec ?? {};
  const analysis = spec.analysis ?? {};
  const target = spec.targetRef?.name ?? name;
  const service = spec.service?.name ?? target;
  const interval = analysis.interval ?? '1m';

  const rollout: Record<string, unknown> = {
    apiVersion: API_VERSION,
    kind: 'Rollout',
    metadata: { name, ...(namespace ? { namespace } : {}) },
    spec: {},
  };
  const doc = new Document(rollout);
  doc.commentBefore = ` converted from Flagger Canary ${namespace ? `${namespace}/` : ''}${name} by kubectl sluice convert`;
  const edit = new Edit(doc, rollout);
  const report = (path: string, reason: string) => edit.refuse(path.split('.'), reason);
  const out: Converted[] = [];

  const paths: string[] = [];
  unhandled(obj(canary.spec), 'spec', paths);
  for (const path of paths) report(path, NOT_SLUICE[path] ?? 'a Flagger field with no Sluice counterpart');
  // Flagger's Gateway API provider is `gatewayapi` or `gatewayapi:v1` (the API version).
  const gatewayApi = spec.provider !== undefined && /^gatewayapi(:v1(beta1)?)?$/.test(spec.provider);
  if (spec.provider !== undefined && spec.provider !== 'istio' && !gatewayApi)
    report(
      'spec.provider',
      `another traffic router (${spec.provider}): Sluice routes traffic through Istio or the Gateway API`,
    );

  const deployment = workloads.get(workloadKey(namespace, target));
  if (spec.targetRef?.kind !== 'Deployment' || !deployment?.template) {
    report(
      'spec.targetRef',
      `the pod template of ${spec.targetRef?.kind ?? 'the target'} "${target}" is not in the input: Sluice keeps it in the Rollout, so give the Deployment in the same file`,
    );
  } else {
    const replicas = (deployment as { replicas?: unknown }).replicas;
    if (typeof replicas === 'number') edit.set(['spec', 'replicas'], replicas);
    edit.set(['spec', 'selector'], deployment.selector);
    edit.set(['spec', 'template'], deployment.template);
    edit.note(
      `the pod template of Deployment "${target}" is copied into the Rollout: delete the Deployment (or scale it to 0) once the Rollout's pods serve`,
    );
  }
  if (typeof spec.progressDeadlineSeconds === 'number')
    edit.set(['spec', 'progressDeadlineSeconds'], spec.progressDeadlineSeconds);
  edit.note(
    gatewayApi
      ? `Flagger generates Services "${service}-primary", "${service}-canary" and HTTPRoute "${service}" (attached to spec.service.gatewayRefs) from spec.service; Sluice uses ones that exist: create them, the HTTPRoute with one rule whose backendRefs are both Services (the Rollout names them as Flagger does)`
      : `Flagger generates Services "${service}-primary", "${service}-canary" and VirtualService "${service}" from spec.service; Sluice uses ones that exist: create them (the Rollout names them as Flagger does)`,
  );
  if (spec.service?.gatewayRefs && !gatewayApi)
    report('spec.service.gatewayRefs', 'gatewayRefs are for the gatewayapi provider');
  const affinity = analysis.sessionAffinity;
  if (affinity && !affinity.cookieName)
    report('spec.analysis.sessionAffinity', 'sessionAffinity needs cookieName');

  const gates: Record<string, unknown> = { interval };
  // Flagger rolls back once failed checks reach the threshold; Sluice once they pass failureLimit.
  if (typeof analysis.threshold === 'number') {
    gates.failureLimit = Math.max(analysis.threshold - 1, 0);
    edit.note(
      `spec.analysis.threshold ${analysis.threshold} → failureLimit ${gates.failureLimit}: Flagger counts failed checks of all metrics together, Sluice each metric's own`,
    );
  }
  const templateRefs: { templateName: string }[] = [];
  (analysis.metrics ?? []).forEach((m, i) => {
    const at = `spec.analysis.metrics[${i}]`;
    const metricName = m.name ?? `metric-${i}`;
    if (m.interval && m.interval !== interval && !m.templateRef)
      edit.note(
        `${at}: Sluice measures its builtins every ${interval} (the analysis interval), not every ${m.interval}`,
      );
    if (m.name === 'request-success-rate' && !m.templateRef) {
      if (typeof m.thresholdRange?.min === 'number') gates.successRate = { min: m.thresholdRange.min };
      else report(at, 'request-success-rate needs thresholdRange.min to mean a Sluice successRate');
      if (typeof m.thresholdRange?.max === 'number')
        report(`${at}.thresholdRange.max`, 'successRate has only a minimum');
      edit.note(
        `${at}: Sluice's successRate fails a look on a confidence bound below min, not on the point estimate`,
      );
      return;
    }
    if (m.name === 'request-duration' && !m.templateRef) {
      if (typeof m.thresholdRange?.max === 'number') gates.latencyP99 = { maxMs: m.thresholdRange.max };
      else report(at, 'request-duration needs thresholdRange.max to mean a Sluice latencyP99');
      if (typeof m.thresholdRange?.min === 'number')
        report(`${at}.thresholdRange.min`, 'latencyP99 has only a maximum');
      return;
    }
    if (!m.templateRef?.name) {
      report(at, `"${m.name}" is not a builtin Sluice has and names no templateRef`);
      return;
    }
    const t = templates.get(metricTemplateKey(m.templateRef.namespace ?? namespace, m.templateRef.name));
    if (!t) {
      report(`${at}.templateRef`, `MetricTemplate "${m.templateRef.name}" is not in the input`);
      return;
    }
    t.used = true;
    const converted = convertMetricTemplate(
      t,
      { ...m, name: metricName },
      {
        name: `${name}-${metricName}`,
        namespace,
        values: {
          namespace: namespace ?? 'default',
          target,
          service,
          interval: m.interval ?? interval,
          ...Object.fromEntries(
            Object.entries(m.templateVariables ?? {}).map(([k, v]) => [`variables.${k}`, String(v)]),
          ),
        },
        failureLimit: gates.failureLimit as number | undefined,
      },
    );
    out.push(converted);
    templateRefs.push({ templateName: `${name}-${metricName}` });
  });
  if (templateRefs.length) gates.templates = templateRefs;

  const steps = weightLadder(analysis).flatMap((w) => [{ setWeight: w }, { pause: { duration: interval } }]);
  if (!steps.length)
    report('spec.analysis.stepWeight', 'no weights to walk: give stepWeight (and maxWeight) or stepWeights');
  const canaryStrategy: Record<string, unknown> = {
    stableService: `${service}-primary`,
    canaryService: `${service}-canary`,
    trafficRouting: gatewayApi
      ? { gatewayAPI: { httpRoutes: [{ name: service }] } }
      : { istio: { virtualService: { name: service } } },
    ...(affinity?.cookieName && {
      sessionAffinity: {
        cookieName: affinity.cookieName,
        // Flagger's maxAge is whole seconds, 86400 by default, which is Sluice's default too.
        ...(affinity.maxAge !== undefined && { maxAge: `${Math.max(1, Math.floor(affinity.maxAge))}s` }),
      },
    }),
    ...(gates.successRate || gates.latencyP99 || gates.templates ? { analysis: gates } : {}),
    ...(steps.length ? { steps } : {}),
  };
  edit.set(['spec', 'strategy'], { canary: canaryStrategy });
  return [edit.finish('Rollout', `Canary ${namespace ? `${namespace}/` : ''}${name}`), ...out];
}

function convertMetricTemplate(
  t: MetricTemplateEntry,
  use: FlaggerMetric,
  opts: { name: string; namespace?: string; values: Record<string, string>; failureLimit?: number },
): Converted {
  const raw = obj(t.object.spec);
  const provider = obj(raw.provider);
  const spec = {
    provider: { ...provider, type: str(provider.type), address: str(provider.address) },
    query: str(raw.query),
  };
  const template: Record<string, unknown> = {
    apiVersion: API_VERSION,
    kind: 'AnalysisTemplate',
    metadata: { name: opts.name, ...(opts.namespace ? { namespace: opts.namespace } : {}) },
    spec: {},
  };
  const doc = new Document(template);
  doc.commentBefore = ` converted from Flagger MetricTemplate ${String(t.object.metadata?.name)} as the Canary uses it`;
  const edit = new Edit(doc, template);
  const type = spec.provider?.type ?? 'prometheus';
  if (type !== 'prometheus')
    edit.refuse(
      ['spec', 'provider', 'type'],
      `another metric provider (${type}): Sluice measures through Prometheus`,
    );
  for (const k of Object.keys(spec.provider ?? {}))
    if (k !== 'type' && k !== 'address')
      edit.refuse(
        ['spec', 'provider', k],
        "Sluice reaches Prometheus with the controller's settings, not per-template credentials",
      );
  const { query, unknown } = fillQuery(spec.query ?? '', opts.values);
  for (const u of unknown) edit.refuse(['spec', 'query'], `{{ ${u} }} has no value for this Canary`);
  const condition = failureCondition(use.thresholdRange);
  if (!condition)
    edit.refuse(
      ['spec', 'analysis', 'metrics', 'thresholdRange'],
      `the Canary's metric "${use.name}" has no thresholdRange: it would judge nothing`,
    );
  if (/\{\{\s*target\s*\}\}/.test(spec.query ?? ''))
    edit.note(
      `{{ target }} reads "${opts.values.target}": in Sluice both revisions are pods of the Rollout, so check the query tells the canary apart (by destination_service_name="${opts.values.service}-canary")`,
    );
  const metric: Record<string, unknown> = {
    name: use.name,
    interval: opts.values.interval,
    ...(opts.failureLimit === undefined ? {} : { failureLimit: opts.failureLimit }),
    ...(condition ? { failureCondition: condition } : {}),
    provider: {
      prometheus: { ...(spec.provider?.address ? { address: spec.provider.address } : {}), query },
    },
  };
  edit.set(['spec', 'metrics'], [metric]);
  return edit.finish('AnalysisTemplate', `MetricTemplate ${String(t.object.metadata?.name)}`);
}
