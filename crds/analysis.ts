import { z } from 'zod';
import { Condition, DnsSubdomain, Duration, NonNegativeInt, resource } from './common.ts';

/** `{{args.NAME}}` is the only substitution syntax; CEL below checks every NAME is declared. */
export const ARG_REFERENCE = /\{\{args\.([A-Za-z0-9_.-]+)\}\}/g;

const ArgName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _, . and -');

export const Arg = z.object({
  name: ArgName,
  value: z.string().max(1024).optional(),
});

/**
 * A list keyed by `name`: the API server itself rejects a duplicate name (and server-side
 * apply merges entries by name), at no CEL cost.
 */
const keyedByName = { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] };

export const Args = z.array(Arg).max(20).meta(keyedByName);

export const PrometheusProvider = z.object({
  address: z.string().max(2048).optional().meta({
    description: "Prometheus base URL; the controller's --prometheus-url when absent.",
  }),
  query: z.string().min(1).max(8192),
  timeout: Duration.optional(),
});

const CelExpression = z.string().min(1).max(1024);

const metricLimits = {
  failureLimit: NonNegativeInt.optional().meta({ description: 'Failed measurements tolerated (default 0).' }),
  inconclusiveLimit: NonNegativeInt.optional().meta({
    description: 'Inconclusive measurements tolerated before the release pauses (default 0).',
  }),
  consecutiveErrorLimit: NonNegativeInt.optional().meta({
    description: 'Consecutive measurement errors tolerated (default 4).',
  }),
};

export const Metric = z.object({
  name: ArgName,
  interval: Duration.optional(),
  count: NonNegativeInt.optional().meta({ description: 'Measurements to take; 0 or absent: until stopped.' }),
  initialDelay: Duration.optional(),
  ...metricLimits,
  successCondition: CelExpression.optional().meta({ description: 'CEL over `result`.' }),
  failureCondition: CelExpression.optional().meta({ description: 'CEL over `result`.' }),
  dryRun: z.boolean().optional().meta({ description: 'Measured and shown, never gates.' }),
  provider: z.object({ prometheus: PrometheusProvider }),
});
export type Metric = z.infer<typeof Metric>;

export const AnalysisTemplateSpec = z
  .object({
    args: Args.optional(),
    metrics: z.array(Metric).min(1).max(20).meta(keyedByName),
  })
  // Undeclared args are caught here and by the controller, not by CEL: a rule scanning every
  // query for {{args.X}} costs far more than the API server's CEL budget allows.
  .superRefine((spec, ctx) => {
    const declared = new Set((spec.args ?? []).map((a) => a.name));
    spec.metrics.forEach((metric, i) => {
      for (const [, arg] of metric.provider.prometheus.query.matchAll(ARG_REFERENCE)) {
        if (!declared.has(arg as string)) {
          ctx.addIssue({
            code: 'custom',
            path: ['metrics', i, 'provider', 'prometheus', 'query'],
            message: `{{args.${arg}}} is not declared in spec.args`,
          });
        }
      }
    });
  });
export type AnalysisTemplateSpec = z.infer<typeof AnalysisTemplateSpec>;

export const AnalysisTemplate = resource('AnalysisTemplate', AnalysisTemplateSpec, z.object({}));
export type AnalysisTemplate = z.infer<typeof AnalysisTemplate>;
export const ClusterAnalysisTemplate = resource(
  'ClusterAnalysisTemplate',
  AnalysisTemplateSpec,
  z.object({}),
);
export type ClusterAnalysisTemplate = z.infer<typeof ClusterAnalysisTemplate>;

/** A reference from a Rollout to a template, namespaced unless clusterScope. */
export const TemplateRef = z.object({
  templateName: DnsSubdomain,
  clusterScope: z.boolean().optional(),
});

/**
 * The gates one analysis point runs: the zero-PromQL builtins and/or templates. The same
 * shape serves background analysis, `analysis` steps and blue-green pre/post promotion.
 */
export const Gates = z
  .object({
    interval: Duration.optional().meta({
      description: 'Time between measurements of the builtins (default 30s).',
    }),
    count: NonNegativeInt.optional().meta({
      description:
        'Measurements per builtin for a step gate (default 1 for steps; background runs until promotion).',
    }),
    initialDelay: Duration.optional(),
    ...metricLimits,
    successRate: z
      .object({
        min: z.number().min(0).max(100).meta({ description: 'Minimum percent of non-5xx responses.' }),
      })
      .optional(),
    latencyP99: z
      .object({
        maxMs: z.number().min(0).meta({ description: 'Maximum p99 request duration in milliseconds.' }),
      })
      .optional(),
    templates: z.array(TemplateRef).max(10).optional(),
    args: Args.optional(),
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: 'has(self.successRate) || has(self.latencyP99) || (has(self.templates) && size(self.templates) > 0)',
        message: 'an analysis needs at least one gate: successRate, latencyP99 or templates',
      },
    ],
  });
export type Gates = z.infer<typeof Gates>;

export const ANALYSIS_PHASES = [
  'Pending',
  'Running',
  'Successful',
  'Failed',
  'Inconclusive',
  'Error',
] as const;
export const AnalysisPhase = z.enum(ANALYSIS_PHASES);
export type AnalysisPhase = z.infer<typeof AnalysisPhase>;

export const Measurement = z.object({
  phase: AnalysisPhase,
  value: z.string().max(4096).optional(),
  message: z.string().max(4096).optional(),
  startedAt: z.string(),
  finishedAt: z.string().optional(),
});

export const MetricResult = z.object({
  name: z.string(),
  phase: AnalysisPhase,
  message: z.string().optional(),
  dryRun: z.boolean().optional(),
  count: NonNegativeInt,
  successful: NonNegativeInt,
  failed: NonNegativeInt,
  inconclusive: NonNegativeInt,
  error: NonNegativeInt,
  consecutiveError: NonNegativeInt,
  measurements: z.array(Measurement).max(10),
});
export type MetricResult = z.infer<typeof MetricResult>;

/**
 * A metric as a run holds it: a template's metric with args substituted, or a builtin gate
 * written out as PromQL. `builtin` marks the zero-PromQL gates, whose queries must return one
 * value (several series are an error rather than a list).
 */
export const RunMetric = Metric.extend({
  builtin: z.enum(['successRate', 'latencyP99']).optional(),
  template: z.string().max(253).optional().meta({ description: 'Where the metric came from.' }),
});
export type RunMetric = z.infer<typeof RunMetric>;

export const AnalysisRunSpec = z.object({
  rollout: z.string().meta({ description: 'Name of the owning Rollout.' }),
  revision: z.string().meta({ description: 'Pod-template hash of the revision under test.' }),
  gate: z.enum(['background', 'step', 'prePromotion', 'postPromotion']),
  stepIndex: NonNegativeInt.optional(),
  args: Args.optional(),
  metrics: z.array(RunMetric).max(40),
  error: z.string().max(4096).optional().meta({
    description:
      'Why the gate could not be turned into metrics (missing template, unknown arg, invalid CEL); the run ends in Error with this message.',
  }),
  terminate: z
    .boolean()
    .optional()
    .meta({ description: 'Set to stop measuring; the run ends as it stands.' }),
});
export type AnalysisRunSpec = z.infer<typeof AnalysisRunSpec>;

export const AnalysisRunStatus = z.object({
  phase: AnalysisPhase.optional(),
  message: z.string().optional(),
  reason: z.string().max(64).optional().meta({
    description:
      'Why the run ended, in CamelCase: InvalidAnalysis (a template, arg or condition is wrong), PrometheusUnreachable, or the deciding phase.',
  }),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  metricResults: z.array(MetricResult).optional(),
  conditions: z.array(Condition).optional(),
});
export type AnalysisRunStatus = z.infer<typeof AnalysisRunStatus>;

export const AnalysisRun = resource('AnalysisRun', AnalysisRunSpec, AnalysisRunStatus);
export type AnalysisRun = z.infer<typeof AnalysisRun>;
