import { z } from 'zod';
import {
  Condition,
  DnsSubdomain,
  Duration,
  LabelMap,
  NonNegativeInt,
  resource,
  StringMap,
} from './common.ts';
import { parseDuration } from './duration.ts';

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

/** Argo Rollouts' two sources for a gate's arg, resolved once when the run is created (analysis/arg-values.ts). */
export const POD_TEMPLATE_HASH_VALUES = ['Stable', 'Latest'] as const;

export const ArgValueFrom = z
  .object({
    podTemplateHashValue: z.enum(POD_TEMPLATE_HASH_VALUES).optional().meta({
      description:
        "Stable: the stable revision's pod-template hash (the value of the sluice.dev/revision label); Latest: the hash of the revision under test.",
    }),
    fieldRef: z
      .object({
        fieldPath: z.string().min(1).max(512).meta({
          description:
            "A field of the Rollout: metadata.name, metadata.namespace, metadata.uid, metadata.labels['k'], metadata.annotations['k'], or a dotted path to a string, number or boolean under spec. or status.",
        }),
      })
      .optional(),
  })
  .refine((v) => (v.podTemplateHashValue === undefined) !== (v.fieldRef === undefined), {
    message: 'valueFrom needs exactly one of podTemplateHashValue or fieldRef',
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: 'has(self.podTemplateHashValue) != has(self.fieldRef)',
        message: 'valueFrom needs exactly one of podTemplateHashValue or fieldRef',
      },
    ],
  });

/** A gate's arg: a value, or (as in Argo Rollouts) where to read it from. */
export const GateArg = Arg.extend({ valueFrom: ArgValueFrom.optional() })
  .refine((a) => a.value === undefined || a.valueFrom === undefined, {
    message: 'value and valueFrom are exclusive',
  })
  .meta({
    'x-kubernetes-validations': [
      { rule: '!(has(self.value) && has(self.valueFrom))', message: 'value and valueFrom are exclusive' },
    ],
  });
export type GateArg = z.infer<typeof GateArg>;

/**
 * Time between measurements, at least 1s: `interval: 0s` would measure, and write the run's
 * status, in a hot loop. The API server checks it with CEL; the controller checks it again for
 * objects stored before this rule (analysis/policy.ts).
 */
const Interval = Duration.refine((d) => {
  try {
    return parseDuration(d) >= 1000;
  } catch {
    return true; // the pattern already says what is wrong
  }
}, 'must be at least 1s').meta({
  description: 'A duration of at least 1s (e.g. 30s, 1m).',
  'x-kubernetes-validations': [{ rule: "duration(self) >= duration('1s')", message: 'must be at least 1s' }],
});

/** The longest PromQL a template or a run holds: the API server stores no more. */
export const MAX_QUERY_LENGTH = 8192;

export const PrometheusProvider = z.object({
  address: z
    .string()
    .max(2048)
    .regex(/^https?:\/\/[^/?#]+/, 'an http:// or https:// URL')
    .optional()
    .meta({
      description:
        "Prometheus base URL; the controller's --prometheus-url when absent. Any other address must start with a prefix the admin allows (--prometheus-allowed-urls).",
    }),
  query: z.string().min(1).max(MAX_QUERY_LENGTH),
  timeout: Duration.optional().meta({
    description:
      "Longest wait for an answer (default 10s); at most the controller's --analysis-max-timeout (default 30s).",
  }),
});

/** An HTTP header name (RFC 9110 token). */
const HeaderName = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'an HTTP header name');

/** Headers a template may not set: they would let it address another host or frame the body itself. */
export const FORBIDDEN_HEADERS = ['host', 'content-length', 'transfer-encoding', 'connection', 'upgrade'];

export const WEB_METHODS = ['GET', 'POST', 'PUT'] as const;

/** Argo Rollouts' `web` provider: one HTTP request, a JSONPath into its answer (analysis/web.ts). */
export const WebProvider = z
  .object({
    url: z
      .string()
      .max(2048)
      .regex(/^https?:\/\/[^/?#]+/, 'an http:// or https:// URL')
      .meta({
        description:
          "Where to send the request; {{args.NAME}} allowed. It must start with the controller's --prometheus-url or a prefix the admin allows (--prometheus-allowed-urls).",
      }),
    method: z.enum(WEB_METHODS).optional().meta({ description: 'GET (default), POST or PUT.' }),
    headers: z
      .array(
        z.object({
          key: HeaderName.refine(
            (k) => !FORBIDDEN_HEADERS.includes(k.toLowerCase()),
            'a header Sluice sets itself',
          ).meta({
            'x-kubernetes-validations': [
              {
                rule: `!(self.lowerAscii() in [${FORBIDDEN_HEADERS.map((h) => `'${h}'`).join(', ')}])`,
                message: 'a header Sluice sets itself',
              },
            ],
          }),
          value: z.string().max(4096),
        }),
      )
      .max(20)
      .optional()
      .meta({
        description:
          'Request headers; values may use {{args.NAME}}. Copied into every AnalysisRun: no secrets.',
      }),
    body: z
      .string()
      .max(65_536)
      .optional()
      .meta({ description: 'Request body (POST, PUT); {{args.NAME}} allowed.' }),
    jsonBody: z.looseObject({}).optional().meta({
      description:
        'A JSON object sent as the body with Content-Type application/json; {{args.NAME}} in its strings.',
    }),
    timeoutSeconds: z.int().min(1).max(3600).optional().meta({
      description:
        "Longest wait for the whole answer (default 10); at most the controller's --analysis-max-timeout.",
    }),
    jsonPath: z.string().max(256).optional().meta({
      description:
        "Where the value is in a JSON answer: {$.data.ok}, {$.items[0].value}, $.a['b-c'] (no wildcards or filters). It must lead to a number, a numeric string, a boolean or a list of numbers. Absent: the whole answer.",
    }),
    insecure: z.boolean().optional().meta({ description: "Skip verifying the server's TLS certificate." }),
  })
  .refine((w) => w.body === undefined || w.jsonBody === undefined, 'body and jsonBody are exclusive')
  .refine(
    (w) => (w.method ?? 'GET') !== 'GET' || (w.body === undefined && w.jsonBody === undefined),
    'a GET request has no body: set method POST or PUT',
  )
  .meta({
    'x-kubernetes-validations': [
      { rule: '!(has(self.body) && has(self.jsonBody))', message: 'body and jsonBody are exclusive' },
      {
        rule: "(has(self.method) && self.method != 'GET') || (!has(self.body) && !has(self.jsonBody))",
        message: 'a GET request has no body: set method POST or PUT',
      },
    ],
  });
export type WebProvider = z.infer<typeof WebProvider>;

/**
 * Argo Rollouts' `job` provider: a Job whose success or failure is the measurement
 * (controller/analysis/jobs.ts). Off unless the admin enables it (--analysis-job-provider).
 */
export const JobProvider = z.object({
  metadata: z.object({ labels: LabelMap.optional(), annotations: StringMap.optional() }).optional().meta({
    description: "Labels and annotations copied to the Job; its name and namespace are the controller's.",
  }),
  spec: z
    .looseObject({ template: z.looseObject({}) })
    .meta({ description: "A batch/v1 Job spec; created in the Rollout's namespace." }),
});
export type JobProvider = z.infer<typeof JobProvider>;

export const PROVIDER_KINDS = ['prometheus', 'web', 'job'] as const;

export const MetricProvider = z
  .object({
    prometheus: PrometheusProvider.optional(),
    web: WebProvider.optional(),
    job: JobProvider.optional(),
  })
  .refine(
    (p) => PROVIDER_KINDS.filter((k) => p[k] !== undefined).length === 1,
    'a provider needs exactly one of prometheus, web or job',
  )
  .meta({
    'x-kubernetes-validations': [
      {
        rule: '[has(self.prometheus), has(self.web), has(self.job)].filter(x, x).size() == 1',
        message: 'a provider needs exactly one of prometheus, web or job',
      },
    ],
  });
export type MetricProviderSpec = z.infer<typeof MetricProvider>;

/**
 * The texts of a provider that may hold {{args.NAME}}, each with its path under `provider`.
 * A JSON body and a Job spec are searched as their JSON text (their paths stop at the field).
 */
export function templatedTexts(p: MetricProviderSpec): [string[], string][] {
  const out: [string[], string][] = [];
  if (p.prometheus) out.push([['prometheus', 'query'], p.prometheus.query]);
  if (p.web) {
    out.push([['web', 'url'], p.web.url]);
    p.web.headers?.forEach((h, i) => {
      out.push([['web', 'headers', String(i), 'value'], h.value]);
    });
    if (p.web.body !== undefined) out.push([['web', 'body'], p.web.body]);
    if (p.web.jsonBody !== undefined) out.push([['web', 'jsonBody'], JSON.stringify(p.web.jsonBody)]);
  }
  if (p.job) out.push([['job'], JSON.stringify(p.job)]);
  return out;
}

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
  interval: Interval.optional(),
  count: NonNegativeInt.optional().meta({ description: 'Measurements to take; 0 or absent: until stopped.' }),
  initialDelay: Duration.optional(),
  ...metricLimits,
  successCondition: CelExpression.optional().meta({ description: 'CEL over `result`.' }),
  failureCondition: CelExpression.optional().meta({ description: 'CEL over `result`.' }),
  dryRun: z.boolean().optional().meta({ description: 'Measured and shown, never gates.' }),
  provider: MetricProvider,
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
      for (const [path, text] of templatedTexts(metric.provider)) {
        for (const [, arg] of text.matchAll(ARG_REFERENCE)) {
          if (!declared.has(arg as string)) {
            ctx.addIssue({
              code: 'custom',
              path: ['metrics', i, 'provider', ...path],
              message: `{{args.${arg}}} is not declared in spec.args`,
            });
          }
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
 * An errors check judges nothing without an allowed increase. The schema's rule (the API server
 * refuses such a Rollout) and `hasErrorsEffect` (the resolver and the judge, for objects the
 * schema never saw) say the same thing in the same words.
 */
export const ERRORS_NEEDS_AN_EFFECT = {
  rule: 'has(self.maxIncreasePoints) || has(self.maxIncreasePercent)',
  message: 'errors needs maxIncreasePoints or maxIncreasePercent',
};
export const hasErrorsEffect = (e: { maxIncreasePoints?: number; maxIncreasePercent?: number }): boolean =>
  e.maxIncreasePoints !== undefined || e.maxIncreasePercent !== undefined;

/**
 * Canary versus stable over the same window, judged statistically (analysis/compare/). Each
 * check states an allowed increase. Rolled back: the canary is worse by more than it, with the
 * given confidence over every look together (a canary within it is rolled back at most
 * 1 − confidence of the time). Passed: a regression of twice the allowed increase would by now
 * have been caught with the given power, and was not (one is promoted at most 1 − power of the
 * time); or the canary is confidently within the allowed increase.
 */
export const CompareToStable = z
  .object({
    errors: z
      .object({
        maxIncreasePoints: z.number().min(0).max(100).optional().meta({
          description:
            "Allowed increase of the error percent over the stable's, in points (0.5: 0.1% → 0.6%). Worse by more: rolled back (with the confidence); worse by twice as much: caught with the power before the check passes.",
        }),
        maxIncreasePercent: z.number().min(0).optional().meta({
          description:
            "Allowed increase of the error ratio relative to the stable's, in percent (100: double). Worse by more: rolled back (with the confidence); worse by twice as much (25: 1.5× the stable's ratio): caught with the power before the check passes.",
        }),
      })
      .optional()
      .meta({
        description:
          'With both set, the canary fails only when worse by both, and the regression caught with the power is the larger of the two doubled.',
        'x-kubernetes-validations': [ERRORS_NEEDS_AN_EFFECT],
      }),
    latencyP99: z
      .object({
        maxIncreasePercent: z.number().min(0).meta({
          description:
            "Allowed increase of the p99 over the stable's p99, in percent (20: 100 ms → 120 ms). Slower by more: rolled back (more than 1% of canary requests slower than (1 + this) × the stable's p99, with the confidence); twice that share (2%) slower: caught with the power before the check passes.",
        }),
      })
      .optional(),
    latencyDistribution: z
      .object({
        maxShiftPoints: z.number().min(0).max(100).meta({
          description:
            "At any latency, allowed excess of the canary's share of slower requests over the stable's, in points. More: rolled back; twice as much at any bucket bound: caught with the power before the check passes.",
        }),
      })
      .optional(),
    confidence: z.number().min(0.5).max(0.9999).optional().meta({
      description:
        'Confidence required to call the canary worse, over all looks together (default 0.99): a canary within the allowed increase is rolled back at most 1 − confidence of the time.',
    }),
    power: z.number().min(0.5).max(0.999).optional().meta({
      description:
        'Chance a regression of twice the allowed increase must have had of being caught before a check passes (default 0.9): one is promoted at most 1 − power of the time. Higher needs more requests, so more time.',
    }),
    minRequests: NonNegativeInt.optional().meta({
      description: 'Requests each of canary and stable needs before any verdict (default 100).',
    }),
    maxDuration: Duration.optional().meta({
      description:
        "How long the comparison keeps looking for a first verdict before the release holds for a person, in looks of the gate's interval (rounded up, at least one). Default: the Rollout's progressDeadlineSeconds. A step's count or a background gate's inconclusiveLimit, when set, bounds the looks instead.",
    }),
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: 'has(self.errors) || has(self.latencyP99) || has(self.latencyDistribution)',
        message: 'compareToStable needs errors, latencyP99 or latencyDistribution',
      },
    ],
  });
export type CompareToStable = z.infer<typeof CompareToStable>;

/**
 * How sure an absolute builtin must be before it blames the canary, and how many requests a
 * window needs to be a verdict at all. Defaults in analysis/absolute.ts.
 */
const absoluteOptions = {
  confidence: z.number().min(0.5).max(0.9999).optional().meta({
    description:
      'Confidence a look needs to call the threshold broken (default 0.99): it fails when the bound, not the point estimate, is past the threshold.',
  }),
  minRequests: NonNegativeInt.optional().meta({
    description:
      'Requests the window needs before a look is a verdict (default 10); fewer: the look is Inconclusive ("too few requests"), never passed.',
  }),
};

/**
 * The gates one analysis point runs: the zero-PromQL builtins and/or templates. The same
 * shape serves background analysis, `analysis` steps and blue-green pre/post promotion.
 */
/** Shared by every gate block, the background one (which adds startingStep) included. */
export const GATES_NEED_ONE = {
  rule: 'has(self.successRate) || has(self.latencyP99) || has(self.compareToStable) || (has(self.templates) && size(self.templates) > 0)',
  message: 'an analysis needs at least one gate: successRate, latencyP99, compareToStable or templates',
};

/** The metrics flavours of analysis/flavour.ts, by name. */
export const BuiltinMetrics = z.enum(['istio', 'envoyGateway']);
export type BuiltinMetrics = z.infer<typeof BuiltinMetrics>;

export const Gates = z
  .object({
    interval: Interval.optional().meta({
      description: 'Time between measurements of the builtins (default 30s); at least 1s.',
    }),
    count: NonNegativeInt.optional().meta({
      description:
        'Measurements per builtin for a step gate (default 1 for steps; background runs until promotion).',
    }),
    initialDelay: Duration.optional(),
    ...metricLimits,
    successRate: z
      .object({
        min: z.number().min(0).max(100).meta({
          description:
            'Minimum percent of non-5xx responses. A look fails only when the confidence bound of the success rate is below it, not the rate itself.',
        }),
        ...absoluteOptions,
      })
      .optional(),
    latencyP99: z
      .object({
        maxMs: z.number().min(0).meta({
          description:
            'Maximum p99 request duration in milliseconds. A look fails only when, with the confidence, more than 1% of requests were slower than it.',
        }),
        ...absoluteOptions,
      })
      .optional(),
    compareToStable: CompareToStable.optional(),
    builtinMetrics: BuiltinMetrics.optional().meta({
      description:
        "Whose metrics the builtins (successRate, latencyP99, compareToStable) read: istio (Istio's standard metrics, the default) or envoyGateway (Envoy's upstream cluster statistics from Envoy Gateway's proxies; needs trafficRouting.gatewayAPI).",
    }),
    templates: z.array(TemplateRef).max(10).optional(),
    args: z.array(GateArg).max(20).meta(keyedByName).optional(),
  })
  .meta({ 'x-kubernetes-validations': [GATES_NEED_ONE] });
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

export const ComparedArm = z.object({
  requests: z.number(),
  value: z
    .number()
    .optional()
    .meta({ description: 'errors: error percent; latencyP99: p99 ms; latencyDistribution: p50 ms.' }),
});

/** The numbers behind a compareToStable verdict, so a person can see why. */
export const ComparisonDetails = z.object({
  test: z.enum(['errors', 'latencyP99', 'latencyDistribution']),
  verdict: z.enum(['worse', 'notWorse', 'undecided', 'tooFewRequests']),
  canary: ComparedArm,
  stable: ComparedArm,
  estimate: z.number().meta({ description: 'The compared quantity, percent points.' }),
  lower: z.number().meta({ description: 'Always-valid lower confidence bound, percent points.' }),
  upper: z.number().meta({ description: 'Always-valid upper confidence bound, percent points.' }),
  margin: z
    .number()
    .meta({ description: 'The practical effect the bounds are held against, percent points.' }),
  statistic: z.number().meta({ description: '(estimate − margin) / standard error.' }),
  confidence: z.number().meta({ description: 'Confidence reached against the margin (0–1).' }),
  required: z.number().meta({ description: 'Confidence required for a verdict (0–1).' }),
  power: z
    .number()
    .optional()
    .meta({ description: 'Chance the configured regression would have been caught by this look (0–1).' }),
  powerRequired: z.number().optional().meta({ description: 'Power a pass needs (0–1).' }),
  regression: z.number().optional().meta({
    description:
      'The configured regression (twice the allowed increase; latencyP99: twice the allowed 1% of slow requests) in the compared quantity, percent points.',
  }),
  atMs: z.number().optional().meta({ description: 'Latency tests: the latency compared at, ms.' }),
});
export type ComparisonDetails = z.infer<typeof ComparisonDetails>;
export type ComparedArm = z.infer<typeof ComparedArm>;

const AbsoluteSide = z.object({
  requests: z.number(),
  value: z.number().optional().meta({ description: 'successRate: success percent; latencyP99: p99 ms.' }),
  lower: z
    .number()
    .meta({ description: 'Lower confidence bound of the success percent or of the slow share, percent.' }),
  upper: z.number().meta({ description: 'Upper confidence bound, percent.' }),
});

/** The numbers behind a successRate / latencyP99 look, so a person can see why. */
export const AbsoluteDetails = z.object({
  verdict: z.enum(['pass', 'fail', 'undecided', 'sharedIncident', 'tooFewRequests']),
  threshold: z.number().meta({ description: 'min (percent) or maxMs, as written.' }),
  canary: AbsoluteSide,
  stable: AbsoluteSide.optional(),
  confidence: z.number(),
  minRequests: z.number(),
});
export type AbsoluteDetails = z.infer<typeof AbsoluteDetails>;

export const Measurement = z.object({
  phase: AnalysisPhase,
  value: z.string().max(4096).optional(),
  message: z.string().max(4096).optional(),
  comparison: ComparisonDetails.optional(),
  absolute: AbsoluteDetails.optional(),
  sharedIncident: z.boolean().optional().meta({
    description:
      'The stable broke the same threshold in the same window: not a verdict on the canary (recorded Inconclusive, never a strike); the release holds until a passing look.',
  }),
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
  incidents: NonNegativeInt.optional().meta({
    description: 'Looks that found a shared incident: neither answers towards count nor strikes.',
  }),
  sharedIncident: z.string().max(4096).optional().meta({
    description:
      'Set by a look that found a shared incident, cleared by the next passing or failing look: while set the metric does not pass.',
  }),
  measurements: z.array(Measurement).max(10),
});
export type MetricResult = z.infer<typeof MetricResult>;

/**
 * A metric as a run holds it: a template's metric with args substituted, or a builtin gate
 * written out as PromQL. `builtin` marks the zero-PromQL gates, whose queries must return one
 * value (several series are an error rather than a list).
 */
export const COMPARE_BUILTINS = ['compareErrors', 'compareLatencyP99', 'compareLatencyDistribution'] as const;

// Subset routing puts both revisions behind one Service, so a Service name cannot tell them apart.
const CANARY_REVISION =
  "Subset routing: the canonical revision (Istio's destination_canonical_revision) that identifies the canary side; canaryService then only names the side in messages.";
const STABLE_REVISION =
  "Subset routing: the canonical revision (Istio's destination_canonical_revision) that identifies the stable side; stableService then only names the side in messages.";

export const RunMetric = Metric.extend({
  builtin: z.enum(['successRate', 'latencyP99', ...COMPARE_BUILTINS]).optional(),
  builtinMetrics: BuiltinMetrics.optional().meta({
    description:
      "The metrics flavour the builtin's query reads and its answer is read by; absent: istio (runs stored before flavours).",
  }),
  compare: z
    .object({
      canaryService: z.string(),
      stableService: z.string(),
      canaryRevision: z.string().optional().meta({ description: CANARY_REVISION }),
      stableRevision: z.string().optional().meta({ description: STABLE_REVISION }),
      baseline: z.boolean().optional().meta({
        description:
          "stableService is the canary's fresh baseline (baselineService), not the stable: messages name it so.",
      }),
      confidence: z.number(),
      power: z.number().optional(),
      minRequests: NonNegativeInt,
      maxIncreasePoints: z.number().optional(),
      maxIncreasePercent: z.number().optional(),
      maxShiftPoints: z.number().optional(),
      budget: z.string().max(128).optional().meta({
        description:
          'What bounds the looks for a first verdict (maxDuration 10m; the progress deadline, 600s; count 5), named when the gate ends undecided.',
      }),
    })
    .optional()
    .meta({ description: 'compareToStable builtins: the two Services and the effect judged.' }),
  absolute: z
    .object({
      canaryService: z.string(),
      stableService: z.string().optional(),
      canaryRevision: z.string().optional().meta({ description: CANARY_REVISION }),
      stableRevision: z.string().optional().meta({ description: STABLE_REVISION }),
      min: z.number().optional(),
      maxMs: z.number().optional(),
      confidence: z.number(),
      minRequests: NonNegativeInt,
    })
    .optional()
    .meta({
      description:
        'successRate / latencyP99 judged on counts: the threshold (min percent or maxMs), the bound and minRequests, and the stable Service whose breaking the same threshold makes a look a shared incident.',
    }),
  template: z.string().max(253).optional().meta({ description: 'Where the metric came from.' }),
});
export type RunMetric = z.infer<typeof RunMetric>;

/** Where a gate sits in a release: a canary's background or step gate, blue-green's pre/post promotion. */
export const GATE_KINDS = ['background', 'step', 'prePromotion', 'postPromotion'] as const;
export type GateKind = (typeof GATE_KINDS)[number];

export const AnalysisRunSpec = z.object({
  rollout: z.string().meta({ description: 'Name of the owning Rollout.' }),
  revision: z.string().meta({ description: 'Pod-template hash of the revision under test.' }),
  gate: z.enum(GATE_KINDS),
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
  evidenceSince: z.string().optional().meta({
    description:
      "compareToStable counts requests from here (RFC 3339) rather than from this run's start: the start of the first run of this gate in this release attempt, so a gate re-run after a pause keeps the evidence gathered before it.",
  }),
});
export type AnalysisRunSpec = z.infer<typeof AnalysisRunSpec>;

const SightOutcome = z.enum(['CanSee', 'CannotSee', 'NoTrafficHistory', 'Unknown']);

/**
 * What a compareToStable gate can see, worked out once when its run starts from the last hour's
 * traffic (analysis/detectability.ts): the smallest regression it would catch with the stated
 * power in the time the steps allow, and the time it needs to catch the configured one. The
 * top-level numbers are the errors check's (as before latency was worked out too); the
 * latencyP99 check's are under latencyP99, so a reader of the older fields reads the same thing.
 */
export const Detectability = z.object({
  outcome: SightOutcome.meta({
    description:
      'The whole gate. CanSee: every configured effect is caught in the time the steps allow; CannotSee: one is not; NoTrafficHistory / Unknown: no estimate (the message says why).',
  }),
  message: z.string().max(1024),
  basis: z
    .string()
    .max(1024)
    .meta({ description: 'The traffic, canary share and time the numbers assume, in words.' }),
  requestsPerSecond: z
    .number()
    .optional()
    .meta({ description: 'Last hour: requests per second to stable and canary together.' }),
  stableErrorPercent: z.number().optional().meta({ description: "Last hour: the stable's error percent." }),
  canaryWeight: z
    .number()
    .optional()
    .meta({ description: "The canary's share of traffic assumed, percent." }),
  allowedSeconds: z.number().optional().meta({ description: 'The time the steps allow the gate.' }),
  power: z.number().optional(),
  configuredPercent: z.number().optional().meta({
    description:
      'The regression the configured allowance promises to catch, as a relative rise of the error ratio, percent.',
  }),
  detectablePercent: z.number().optional().meta({
    description: 'Smallest relative rise of the error ratio caught with the stated power in allowedSeconds.',
  }),
  secondsToDetectConfigured: z
    .number()
    .optional()
    .meta({ description: 'Time needed to catch the configured regression with the stated power.' }),
  latencyP99: z
    .object({
      outcome: SightOutcome,
      configuredPercent: z.number().meta({
        description:
          "The regression the check promises to catch: this percent of canary requests slower than (1 + maxIncreasePercent) × the stable's p99 (twice the 1% a p99 allows).",
      }),
      detectablePercent: z.number().optional().meta({
        description:
          'Smallest percent of canary requests slower than that bar caught with the stated power in allowedSeconds.',
      }),
      secondsToDetectConfigured: z.number().optional(),
    })
    .optional()
    .meta({ description: "The latencyP99 check's numbers, when the gate has one." }),
});
export type Detectability = z.infer<typeof Detectability>;

export const AnalysisRunStatus = z.object({
  phase: AnalysisPhase.optional(),
  message: z.string().optional(),
  reason: z.string().max(64).optional().meta({
    description:
      'Why the run ended, in CamelCase: InvalidAnalysis (a template, arg or condition is wrong), PrometheusUnreachable, or the deciding phase.',
  }),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  sharedIncident: z.string().max(4096).optional().meta({
    description:
      'While a gating metric holds for a shared incident (the stable breaks the same threshold): why. The release pauses with reason SharedIncident and resumes on its own when it clears.',
  }),
  trafficSince: z.string().optional().meta({
    description:
      'When the revision under test first had traffic (weight above 0 and ready pods, as the controller saw them): the first look is due initialDelay after this, and compareToStable counts from here. Until then the run waits and takes no look.',
  }),
  metricResults: z.array(MetricResult).optional(),
  conditions: z.array(Condition).optional(),
  detectability: Detectability.optional(),
});
export type AnalysisRunStatus = z.infer<typeof AnalysisRunStatus>;

export const AnalysisRun = resource('AnalysisRun', AnalysisRunSpec, AnalysisRunStatus);
export type AnalysisRun = z.infer<typeof AnalysisRun>;
