import { z } from 'zod';
import { AnalysisPhase, GATES_NEED_ONE, Gates } from './analysis.ts';
import {
  Condition,
  CountOrPercent,
  DnsLabel,
  DnsSubdomain,
  Duration,
  LabelMap,
  LabelSelector,
  NonNegativeInt,
  Percent,
  resource,
  SecondsOrDuration,
  StringMap,
} from './common.ts';
import { CANONICAL_REVISION_LABEL, REVISION_LABEL } from './labels.ts';

/** The pod template, as in a Deployment: checked where Sluice relies on it, kept whole otherwise. */
export const PodTemplate = z.looseObject({
  metadata: z.looseObject({ labels: LabelMap.optional(), annotations: StringMap.optional() }).optional(),
  spec: z.looseObject({
    containers: z.array(z.looseObject({ name: z.string().min(1), image: z.string().optional() })).min(1),
  }),
});
export type PodTemplate = z.infer<typeof PodTemplate>;

const VirtualServiceRef = z.object({
  name: DnsSubdomain,
  routes: z.array(z.string().min(1).max(253)).max(50).optional().meta({
    description: 'Names of the http routes whose weights Sluice sets; all http routes when absent.',
  }),
});

const SUBSETS_DIFFER = 'destinationRule: canarySubsetName and stableSubsetName must differ';

const ONE_WAY_TO_NAME_VS =
  'istio routing names either virtualService or virtualServices, not both and not neither';

export const IstioRouting = z
  .object({
    virtualService: VirtualServiceRef.optional(),
    virtualServices: z.array(VirtualServiceRef).min(1).max(10).optional().meta({
      description:
        'Several VirtualServices (e.g. one for the mesh, one for the ingress gateway), each given the same weight.',
    }),
    destinationRule: z
      .object({
        name: DnsSubdomain,
        canarySubsetName: DnsLabel,
        stableSubsetName: DnsLabel,
      })
      .optional()
      .meta({
        description: `Subset-level routing: the VirtualService routes split between two subsets of this DestinationRule, and Sluice points each subset at its revision by adding the ${REVISION_LABEL} label to the subset's labels (the rest of the DestinationRule is left as written). The pods are labelled ${CANONICAL_REVISION_LABEL} with their revision, so the builtin gates can tell the two apart behind one Service.`,
      }),
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: '!has(self.destinationRule) || self.destinationRule.canarySubsetName != self.destinationRule.stableSubsetName',
        message: SUBSETS_DIFFER,
        fieldPath: '.destinationRule.canarySubsetName',
      },
      { rule: 'has(self.virtualService) != has(self.virtualServices)', message: ONE_WAY_TO_NAME_VS },
      {
        rule: '!has(self.virtualServices) || self.virtualServices.all(a, self.virtualServices.exists_one(b, b.name == a.name))',
        message: 'virtualServices names each VirtualService once',
        fieldPath: '.virtualServices',
      },
    ],
  })
  .refine(
    (r) => !r.destinationRule || r.destinationRule.canarySubsetName !== r.destinationRule.stableSubsetName,
    {
      message: SUBSETS_DIFFER,
      path: ['destinationRule', 'canarySubsetName'],
    },
  )
  .refine((r) => (r.virtualService === undefined) !== (r.virtualServices === undefined), {
    message: ONE_WAY_TO_NAME_VS,
  })
  .refine((r) => new Set(r.virtualServices?.map((v) => v.name)).size === (r.virtualServices?.length ?? 0), {
    message: 'virtualServices names each VirtualService once',
    path: ['virtualServices'],
  });

const RouteRef = z.object({
  name: DnsSubdomain,
  rules: z.array(z.string().min(1).max(253)).max(16).optional().meta({
    description:
      'Names of the rules whose backendRef weights Sluice sets (rules[].name); every rule holding both Services when absent.',
  }),
});

const GATEWAY_API_NEEDS_A_ROUTE = 'gatewayAPI names at least one httpRoute or grpcRoute';

/** Gateway API routes: weights on backendRefs, the way every implementation (Istio, Envoy Gateway, Cilium…) reads them. */
export const GatewayApiRouting = z
  .object({
    httpRoutes: z.array(RouteRef).min(1).max(10).optional().meta({
      description:
        'HTTPRoutes (gateway.networking.k8s.io/v1) in the Rollout namespace, each given the same weight.',
    }),
    grpcRoutes: z.array(RouteRef).min(1).max(10).optional().meta({
      description:
        'GRPCRoutes (gateway.networking.k8s.io/v1) in the Rollout namespace, each given the same weight.',
    }),
  })
  .meta({
    'x-kubernetes-validations': [
      { rule: 'has(self.httpRoutes) || has(self.grpcRoutes)', message: GATEWAY_API_NEEDS_A_ROUTE },
      {
        rule: '!has(self.httpRoutes) || self.httpRoutes.all(a, self.httpRoutes.exists_one(b, b.name == a.name))',
        message: 'httpRoutes names each HTTPRoute once',
        fieldPath: '.httpRoutes',
      },
      {
        rule: '!has(self.grpcRoutes) || self.grpcRoutes.all(a, self.grpcRoutes.exists_one(b, b.name == a.name))',
        message: 'grpcRoutes names each GRPCRoute once',
        fieldPath: '.grpcRoutes',
      },
    ],
  })
  .refine((g) => g.httpRoutes !== undefined || g.grpcRoutes !== undefined, {
    message: GATEWAY_API_NEEDS_A_ROUTE,
  })
  .refine((g) => new Set(g.httpRoutes?.map((r) => r.name)).size === (g.httpRoutes?.length ?? 0), {
    message: 'httpRoutes names each HTTPRoute once',
    path: ['httpRoutes'],
  })
  .refine((g) => new Set(g.grpcRoutes?.map((r) => r.name)).size === (g.grpcRoutes?.length ?? 0), {
    message: 'grpcRoutes names each GRPCRoute once',
    path: ['grpcRoutes'],
  });

const ONE_ROUTER = 'trafficRouting names exactly one router: istio or gatewayAPI';

export const TrafficRouting = z
  .object({
    istio: IstioRouting.optional(),
    gatewayAPI: GatewayApiRouting.optional(),
    managedRoutes: z
      .array(z.object({ name: DnsLabel }))
      .max(8)
      .optional()
      .meta({
        description:
          "Argo Rollouts' list of the routes Sluice adds (setHeaderRoute names), in the order they go ahead of yours; step order when absent.",
      }),
  })
  .meta({
    'x-kubernetes-validations': [{ rule: 'has(self.istio) != has(self.gatewayAPI)', message: ONE_ROUTER }],
  })
  .refine((t) => (t.istio === undefined) !== (t.gatewayAPI === undefined), { message: ONE_ROUTER });
export type TrafficRouting = z.infer<typeof TrafficRouting>;

/** Subset routing's DestinationRule, when a canary routes by Istio subsets. */
export const destinationRuleOf = (strategy: {
  canary?: { trafficRouting?: TrafficRouting | undefined } | undefined;
}) => strategy.canary?.trafficRouting?.istio?.destinationRule;

/** The canary's background gates: Argo Rollouts' `analysis`, with its startingStep. */
export const BackgroundGates = Gates.extend({
  startingStep: NonNegativeInt.optional().meta({
    description:
      'Index (from 0) of the step at which background analysis starts (default 0: from the first step); past the last step, it starts once the steps are done.',
  }),
}).meta({ 'x-kubernetes-validations': [GATES_NEED_ONE] });

/**
 * Labels and annotations the pods of one role carry while they have it (Argo Rollouts'
 * canaryMetadata / stableMetadata): for dashboards and queries that tell canary from stable.
 */
export const RoleMetadata = z.object({
  labels: LabelMap.optional(),
  annotations: z.record(z.string(), z.string().max(4096)).meta({ maxProperties: 64 }).optional(),
});
export type RoleMetadata = z.infer<typeof RoleMetadata>;

const RESERVED_PREFIX = 'sluice.dev/';
const ROLE_LABELS_REFUSED =
  'labels may not set a key of spec.selector.matchLabels or one under sluice.dev/: the pods would leave their ReplicaSet or lose their revision';
const ROLES = ['canaryMetadata', 'stableMetadata'] as const;

/** The API server's check of one role's labels, written once for both roles. */
const roleLabelsRule = (role: (typeof ROLES)[number]) => ({
  rule: `!has(self.strategy.canary) || !has(self.strategy.canary.${role}) || !has(self.strategy.canary.${role}.labels) || self.strategy.canary.${role}.labels.all(k, !k.startsWith('${RESERVED_PREFIX}') && (!has(self.selector.matchLabels) || !(k in self.selector.matchLabels)))`,
  message: `${role}: ${ROLE_LABELS_REFUSED}`,
  fieldPath: `.strategy.canary.${role}.labels`,
});

/** The same check for the controller, for objects the API server stored before the rule. */
function roleLabelsRefused(spec: {
  selector: { matchLabels?: Record<string, string> };
  strategy: { canary?: Partial<Record<(typeof ROLES)[number], RoleMetadata>> };
}): (typeof ROLES)[number] | undefined {
  return ROLES.find((role) =>
    Object.keys(spec.strategy.canary?.[role]?.labels ?? {}).some(
      (k) => k.startsWith(RESERVED_PREFIX) || k in (spec.selector.matchLabels ?? {}),
    ),
  );
}

/** Argo Rollouts' setCanaryScale: the canary's size, apart from its share of traffic. */
export const SetCanaryScale = z
  .object({
    replicas: NonNegativeInt.optional().meta({ description: 'Run the canary at this many pods.' }),
    weight: Percent.optional().meta({
      description: 'Run the canary at this percent of spec.replicas, rounded up.',
    }),
    matchTrafficWeight: z.boolean().optional().meta({
      description:
        'Size the canary to its traffic weight (the percent of spec.replicas, rounded up) from here on.',
    }),
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: '[has(self.replicas), has(self.weight), has(self.matchTrafficWeight) && self.matchTrafficWeight].filter(x, x).size() == 1',
        message: 'setCanaryScale sets exactly one of replicas, weight or matchTrafficWeight: true',
      },
    ],
  })
  .refine(
    (s) =>
      [s.replicas !== undefined, s.weight !== undefined, s.matchTrafficWeight === true].filter(Boolean)
        .length === 1,
    { message: 'setCanaryScale sets exactly one of replicas, weight or matchTrafficWeight: true' },
  );
export type SetCanaryScale = z.infer<typeof SetCanaryScale>;

const ONE_ACTION =
  'each step sets exactly one of setWeight, setCanaryScale, setHeaderRoute, setMirrorRoute, pause or analysis';

const ONE_MATCH = 'a match sets exactly one of exact, prefix or regex';

const StringMatch = z
  .object({
    exact: z.string().max(1024).optional(),
    prefix: z.string().max(1024).optional(),
    regex: z.string().max(1024).optional(),
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: '[has(self.exact), has(self.prefix), has(self.regex)].filter(x, x).size() == 1',
        message: ONE_MATCH,
      },
    ],
  })
  .refine((v) => [v.exact, v.prefix, v.regex].filter((x) => x !== undefined).length === 1, {
    message: ONE_MATCH,
  })
  .refine((v) => v.regex === undefined || validRegex(v.regex), {
    message: 'regex is not a valid regular expression',
    path: ['regex'],
  });
export type StringMatch = z.infer<typeof StringMatch>;

/** Argo Rollouts' header match: one header, matched exactly, by prefix or by a regular expression. */
export const HeaderMatch = z.object({
  headerName: z
    .string()
    .min(1)
    .max(256)
    .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'a header name is an HTTP token'),
  headerValue: StringMatch,
});
export type HeaderMatch = z.infer<typeof HeaderMatch>;

function validRegex(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}

/**
 * Argo Rollouts' setHeaderRoute: requests carrying the header go to the canary whatever its
 * weight, from this step until promotion or abort; without `match` it removes the route again.
 */
export const SetHeaderRoute = z.object({
  name: DnsLabel.meta({
    description:
      'The route Sluice adds (and owns) in each routed object; listed in trafficRouting.managedRoutes.',
  }),
  match: z.array(HeaderMatch).min(1).max(8).optional(),
});
export type SetHeaderRoute = z.infer<typeof SetHeaderRoute>;

/** Argo Rollouts' route match for mirroring: method, path and headers; all of them given must match. */
export const RouteMatch = z.object({
  method: StringMatch.optional(),
  path: StringMatch.optional(),
  // Bounded, so the API server can price the CEL rule of each value.
  headers: z
    .record(z.string().min(1).max(256), StringMatch)
    .refine((h) => Object.keys(h).length <= 8, { message: 'at most 8 headers' })
    .meta({ maxProperties: 8 })
    .optional(),
});
export type RouteMatch = z.infer<typeof RouteMatch>;

/**
 * Argo Rollouts' setMirrorRoute: a copy of `percentage` of the matching requests goes to the
 * canary and its answers are dropped; the requests themselves are served as the weights say.
 * Without `match` it removes the route again.
 */
export const SetMirrorRoute = z.object({
  name: DnsLabel,
  percentage: Percent.optional().meta({
    description: 'Percent of the matching requests copied (default 100).',
  }),
  match: z.array(RouteMatch).min(1).max(8).optional(),
});
export type SetMirrorRoute = z.infer<typeof SetMirrorRoute>;

export const Step = z
  .object({
    setWeight: Percent.optional(),
    setCanaryScale: SetCanaryScale.optional().meta({
      description:
        'Resize the canary (it runs at full size until a step says otherwise); the next weight waits until it has the pods that weight needs.',
    }),
    setHeaderRoute: SetHeaderRoute.optional().meta({
      description:
        'Send requests whose headers match to the canary alone, ahead of the weighted routes, until promotion or abort (no match: remove the route).',
    }),
    setMirrorRoute: SetMirrorRoute.optional().meta({
      description:
        'Copy a percent of the matching requests to the canary, its answers dropped, until promotion or abort (no match: remove the route).',
    }),
    pause: z
      .object({
        duration: SecondsOrDuration.optional().meta({
          description:
            'A duration (30s, 1m30s) or whole seconds (30, as Argo Rollouts writes it). Absent: wait for `kubectl sluice promote`.',
        }),
      })
      .optional(),
    analysis: Gates.optional(),
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: '[has(self.setWeight), has(self.setCanaryScale), has(self.setHeaderRoute), has(self.setMirrorRoute), has(self.pause), has(self.analysis)].filter(x, x).size() == 1',
        message: ONE_ACTION,
      },
    ],
  })
  // Mirrors the CEL rule above, so the controller refuses such a step even where the API
  // server did not check it (an object stored before the rule existed).
  .refine(
    (step) =>
      [
        step.setWeight,
        step.setCanaryScale,
        step.setHeaderRoute,
        step.setMirrorRoute,
        step.pause,
        step.analysis,
      ].filter((x) => x !== undefined).length === 1,
    { message: ONE_ACTION },
  );
export type Step = z.infer<typeof Step>;

const delays = {
  scaleDownDelaySeconds: NonNegativeInt.optional().meta({
    description: 'Seconds the old revision stays up after promotion (default 30).',
  }),
  abortScaleDownDelaySeconds: NonNegativeInt.optional().meta({
    description: 'Seconds the new revision stays up after an abort (default 30).',
  }),
};

/** RFC 6265's cookie-name: an HTTP token. */
const COOKIE_NAME = "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$";

export const SessionAffinity = z
  .object({
    cookieName: z
      .string()
      .min(1)
      .max(64)
      .regex(new RegExp(COOKIE_NAME), 'an HTTP token (RFC 6265 cookie-name)')
      .meta({
        description: 'The cookie that keeps a session on the canary once it was sent there.',
      }),
    maxAge: Duration.optional().meta({
      description: "The cookie's Max-Age (default 24h); a whole number of seconds is sent.",
    }),
  })
  .meta({
    description:
      "Version-sticky sessions (Flagger's sessionAffinity): a request the weights send to the canary gets a cookie naming the canary revision, and requests carrying it keep reaching the canary until promotion or abort. HTTP routes only: a GRPCRoute gets no cookie.",
  });
export type SessionAffinity = z.infer<typeof SessionAffinity>;

const SESSION_AFFINITY_NEEDS_ROUTING =
  'sessionAffinity needs trafficRouting: a cookie needs a router that reads it';

const HEADER_ROUTE_NEEDS_ROUTING =
  'setHeaderRoute and setMirrorRoute need trafficRouting: without a router, nothing can route by request';
const HEADER_ROUTE_NOT_MANAGED =
  'every setHeaderRoute and setMirrorRoute name must be listed in trafficRouting.managedRoutes';

const ROUTING_NEEDS_SERVICES =
  'traffic routing needs both stableService and canaryService, or an Istio destinationRule to route by subsets';

const BASELINE_NEEDS_HOST_ROUTING =
  'baselineService needs trafficRouting.istio without a destinationRule: the baseline is a third Service in the VirtualService';
const BASELINE_DIFFERS = 'baselineService must differ from stableService and canaryService';
const BASELINE_ALONE =
  'baselineService does not combine with sessionAffinity or setMirrorRoute yet: their routes know two destinations';

export const CanaryStrategy = z
  .object({
    stableService: DnsLabel.optional(),
    canaryService: DnsLabel.optional(),
    baselineService: DnsLabel.optional().meta({
      description:
        'A Service for a fresh baseline: while a release runs, a ReplicaSet of the stable template at the canary size takes as much traffic as the canary, and compareToStable compares the canary with it.',
    }),
    trafficRouting: TrafficRouting.optional(),
    sessionAffinity: SessionAffinity.optional(),
    analysis: BackgroundGates.optional().meta({
      description: 'Background gates, from the first step (or startingStep) until promotion.',
    }),
    steps: z.array(Step).max(200).optional(),
    dynamicStableScale: z.boolean().optional().meta({
      description:
        'With trafficRouting: the stable shrinks to the share of pods its weight needs, and after an abort traffic returns only as fast as its pods do (default false).',
    }),
    maxSurge: CountOrPercent.optional().meta({
      description:
        'Without trafficRouting: pods above spec.replicas while the canary grows (default 25%, rounded up).',
    }),
    maxUnavailable: CountOrPercent.optional().meta({
      description:
        'Without trafficRouting: pods below spec.replicas that may be unavailable while the stable shrinks (default 25%, rounded down).',
    }),
    canaryMetadata: RoleMetadata.optional().meta({
      description: 'Labels and annotations on the canary pods while they are the canary.',
    }),
    stableMetadata: RoleMetadata.optional().meta({
      description: 'Labels and annotations on the stable pods while they are the stable.',
    }),
    ...delays,
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: 'has(self.trafficRouting) || !has(self.steps) || !self.steps.exists(s, has(s.setHeaderRoute) || has(s.setMirrorRoute))',
        message: HEADER_ROUTE_NEEDS_ROUTING,
        fieldPath: '.steps',
      },
      {
        rule: '!has(self.trafficRouting) || !has(self.trafficRouting.managedRoutes) || !has(self.steps) || self.steps.all(s, (!has(s.setHeaderRoute) || self.trafficRouting.managedRoutes.exists(m, m.name == s.setHeaderRoute.name)) && (!has(s.setMirrorRoute) || self.trafficRouting.managedRoutes.exists(m, m.name == s.setMirrorRoute.name)))',
        message: HEADER_ROUTE_NOT_MANAGED,
        fieldPath: '.trafficRouting.managedRoutes',
      },
      {
        rule: 'has(self.trafficRouting) || !has(self.sessionAffinity)',
        message: SESSION_AFFINITY_NEEDS_ROUTING,
        fieldPath: '.sessionAffinity',
      },
      {
        rule: '!has(self.stableService) || !has(self.canaryService) || self.stableService != self.canaryService',
        message: 'stableService and canaryService must differ',
        fieldPath: '.canaryService',
      },
      {
        rule: "!has(self.maxSurge) || !has(self.maxUnavailable) || !((type(self.maxSurge) == int ? self.maxSurge == 0 : self.maxSurge == '0%') && (type(self.maxUnavailable) == int ? self.maxUnavailable == 0 : self.maxUnavailable == '0%'))",
        message: 'maxSurge and maxUnavailable may not both be 0: the canary could never replace a stable pod',
        fieldPath: '.maxUnavailable',
      },
      {
        rule: '!has(self.trafficRouting) || (has(self.trafficRouting.istio) && has(self.trafficRouting.istio.destinationRule)) || (has(self.stableService) && has(self.canaryService))',
        message: ROUTING_NEEDS_SERVICES,
        fieldPath: '.trafficRouting',
      },
      {
        rule: '!has(self.baselineService) || (has(self.trafficRouting) && has(self.trafficRouting.istio) && !has(self.trafficRouting.istio.destinationRule))',
        message: BASELINE_NEEDS_HOST_ROUTING,
        fieldPath: '.baselineService',
      },
      {
        rule: '!has(self.baselineService) || ((!has(self.stableService) || self.baselineService != self.stableService) && (!has(self.canaryService) || self.baselineService != self.canaryService))',
        message: BASELINE_DIFFERS,
        fieldPath: '.baselineService',
      },
      {
        rule: '!has(self.baselineService) || (!has(self.sessionAffinity) && (!has(self.steps) || !self.steps.exists(s, has(s.setMirrorRoute))))',
        message: BASELINE_ALONE,
        fieldPath: '.baselineService',
      },
    ],
  })
  .refine(
    (c) =>
      c.trafficRouting !== undefined || !(c.steps ?? []).some((s) => s.setHeaderRoute || s.setMirrorRoute),
    {
      message: HEADER_ROUTE_NEEDS_ROUTING,
      path: ['steps'],
    },
  )
  .refine(
    (c) => {
      const managed = c.trafficRouting?.managedRoutes;
      const names = (c.steps ?? []).flatMap((s) => [s.setHeaderRoute?.name, s.setMirrorRoute?.name]);
      return !managed || names.every((n) => n === undefined || managed.some((m) => m.name === n));
    },
    { message: HEADER_ROUTE_NOT_MANAGED, path: ['trafficRouting', 'managedRoutes'] },
  )
  .refine(
    (c) =>
      !c.trafficRouting?.gatewayAPI ||
      (c.steps ?? []).every((s) =>
        (s.setMirrorRoute?.match ?? []).every((m) => m.method === undefined || m.method.exact !== undefined),
      ),
    {
      message: 'the Gateway API matches a method exactly: setMirrorRoute match.method takes exact only',
      path: ['steps'],
    },
  )
  .refine(
    (c) =>
      !c.trafficRouting ||
      c.trafficRouting.istio?.destinationRule !== undefined ||
      (c.stableService !== undefined && c.canaryService !== undefined),
    { message: ROUTING_NEEDS_SERVICES, path: ['trafficRouting'] },
  )
  .refine(
    (c) =>
      c.baselineService === undefined ||
      (c.trafficRouting?.istio !== undefined && c.trafficRouting.istio.destinationRule === undefined),
    { message: BASELINE_NEEDS_HOST_ROUTING, path: ['baselineService'] },
  )
  .refine(
    (c) =>
      c.baselineService === undefined ||
      (c.baselineService !== c.stableService && c.baselineService !== c.canaryService),
    { message: BASELINE_DIFFERS, path: ['baselineService'] },
  )
  .refine(
    (c) =>
      c.baselineService === undefined ||
      (c.sessionAffinity === undefined && !(c.steps ?? []).some((s) => s.setMirrorRoute)),
    { message: BASELINE_ALONE, path: ['baselineService'] },
  )
  .refine((c) => c.trafficRouting !== undefined || c.sessionAffinity === undefined, {
    message: SESSION_AFFINITY_NEEDS_ROUTING,
    path: ['sessionAffinity'],
  })
  .refine((c) => !(isZero(c.maxSurge) && isZero(c.maxUnavailable)), {
    message: 'maxSurge and maxUnavailable may not both be 0: the canary could never replace a stable pod',
    path: ['maxUnavailable'],
  });
export type CanaryStrategy = z.infer<typeof CanaryStrategy>;

const isZero = (v: CountOrPercent | undefined) => v === 0 || v === '0%';

const BLUE_GREEN_SUBSETS_REFUSED =
  'subset routing (destinationRule) is for canaries; blue-green switches between activeService and previewService';

export const BlueGreenStrategy = z
  .object({
    activeService: DnsLabel,
    previewService: DnsLabel.optional(),
    autoPromotionEnabled: z.boolean().optional().meta({ description: 'Default true.' }),
    autoPromotionSeconds: NonNegativeInt.optional(),
    previewReplicaCount: NonNegativeInt.optional(),
    prePromotionAnalysis: Gates.optional(),
    postPromotionAnalysis: Gates.optional(),
    trafficRouting: TrafficRouting.optional().meta({
      description: 'Switch by VirtualService weight 0/100 instead of by Service selector.',
    }),
    ...delays,
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: '!has(self.previewService) || self.previewService != self.activeService',
        message: 'activeService and previewService must differ',
        fieldPath: '.previewService',
      },
      {
        rule: '!has(self.trafficRouting) || has(self.previewService)',
        message: 'blue-green traffic routing needs a previewService to route to',
        fieldPath: '.trafficRouting',
      },
      {
        rule: '!has(self.trafficRouting) || !has(self.trafficRouting.istio) || !has(self.trafficRouting.istio.destinationRule)',
        message: BLUE_GREEN_SUBSETS_REFUSED,
        fieldPath: '.trafficRouting.istio.destinationRule',
      },
    ],
  })
  .refine((b) => b.trafficRouting?.istio?.destinationRule === undefined, {
    message: BLUE_GREEN_SUBSETS_REFUSED,
    path: ['trafficRouting', 'istio', 'destinationRule'],
  });
export type BlueGreenStrategy = z.infer<typeof BlueGreenStrategy>;

export const Strategy = z
  .object({ canary: CanaryStrategy.optional(), blueGreen: BlueGreenStrategy.optional() })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: 'has(self.canary) != has(self.blueGreen)',
        message: 'set exactly one of strategy.canary or strategy.blueGreen',
      },
    ],
  });

/** Where the Rollout's YAML lives in git; each field given here overrides what Flux or Argo CD say. */
export const WriteBackRepository = z.object({
  url: z.string().min(1).max(2048).optional(),
  branch: z.string().min(1).max(255).optional(),
  path: z
    .string()
    .min(1)
    .max(1024)
    .optional()
    .meta({ description: 'Directory (or file) in the repository holding the Rollout YAML.' }),
  secretRef: z.object({ name: DnsSubdomain }).optional().meta({
    description: 'Secret in the Rollout namespace: username/password or bearerToken (Flux format).',
  }),
});

export const WriteBack = z.object({
  enabled: z.boolean().optional().meta({
    description:
      'Commit the stable revision back to git after an automatic rollback. Default: the controller flag --write-back.',
  }),
  repository: WriteBackRepository.optional(),
});
export type WriteBack = z.infer<typeof WriteBack>;

/** Argo Rollouts' workloadRef: the pod template is an existing Deployment's, which Sluice scales down as told. */
export const WorkloadRef = z.object({
  apiVersion: z.literal('apps/v1'),
  kind: z.literal('Deployment'),
  name: DnsSubdomain,
  scaleDown: z.enum(['never', 'onsuccess', 'progressively']).optional().meta({
    description:
      "What happens to the Deployment's pods: never scaled (default), scaled to zero once the Rollout is healthy (onsuccess), or scaled down as the Rollout's pods become available (progressively); scaled back up if a release aborts.",
  }),
});
export type WorkloadRef = z.infer<typeof WorkloadRef>;

export const CANONICAL_REVISION_REFUSED = `${CANONICAL_REVISION_LABEL} is set by Sluice under subset routing (it is how the gates tell the revisions apart behind one Service); remove it from the pod template`;

/** Subset routing and a template that sets the label Sluice puts on its pods for the gates. */
export function canonicalRevisionRefused(
  spec: { strategy: { canary?: CanaryStrategy | undefined } },
  template: PodTemplate | undefined,
): boolean {
  return (
    destinationRuleOf(spec.strategy) !== undefined &&
    template?.metadata?.labels?.[CANONICAL_REVISION_LABEL] !== undefined
  );
}

const TEMPLATE_OR_WORKLOAD = 'set exactly one of spec.template or spec.workloadRef';

export const RolloutSpec = z
  .object({
    replicas: NonNegativeInt.optional().meta({ description: 'Desired pods (default 1).' }),
    selector: LabelSelector,
    template: PodTemplate.optional().meta({
      description: 'The pod template; or name a Deployment in workloadRef.',
    }),
    workloadRef: WorkloadRef.optional(),
    revisionHistoryLimit: NonNegativeInt.optional().meta({
      description:
        'Old revisions, already scaled to zero, whose ReplicaSets are kept for undo (default 10); older ones are deleted.',
    }),
    minReadySeconds: NonNegativeInt.optional().meta({
      description:
        'Seconds a new pod must be ready before it counts as available (default 0): no weight, promotion or step waits on pods younger than that.',
    }),
    progressDeadlineSeconds: z.int().min(1).optional().meta({ description: 'Default 600.' }),
    strategy: Strategy,
    writeBack: WriteBack.optional(),
    restartAt: z.iso.datetime({ offset: true }).optional().meta({
      description:
        'As Argo Rollouts: once this time has come, the controller replaces the stable and canary pods created before it, one at a time, keeping the rest available. `kubectl sluice restart` asks the same without touching spec.',
    }),
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: 'has(self.template) != has(self.workloadRef)',
        message: TEMPLATE_OR_WORKLOAD,
      },
      {
        rule: '!has(self.template) || !has(self.selector.matchLabels) || self.selector.matchLabels.all(k, has(self.template.metadata) && has(self.template.metadata.labels) && k in self.template.metadata.labels && self.template.metadata.labels[k] == self.selector.matchLabels[k])',
        message: 'selector.matchLabels must match template.metadata.labels',
        fieldPath: '.selector',
      },
      ...ROLES.map(roleLabelsRule),
      {
        rule: `!has(self.template) || !has(self.strategy.canary) || !has(self.strategy.canary.trafficRouting) || !has(self.strategy.canary.trafficRouting.istio) || !has(self.strategy.canary.trafficRouting.istio.destinationRule) || !has(self.template.metadata) || !has(self.template.metadata.labels) || !('${CANONICAL_REVISION_LABEL}' in self.template.metadata.labels)`,
        message: CANONICAL_REVISION_REFUSED,
        fieldPath: '.template.metadata.labels',
      },
    ],
  })
  .superRefine((spec, ctx) => {
    if (canonicalRevisionRefused(spec, spec.template))
      ctx.addIssue({
        code: 'custom',
        message: CANONICAL_REVISION_REFUSED,
        path: ['template', 'metadata', 'labels', CANONICAL_REVISION_LABEL],
      });
    if ((spec.template === undefined) === (spec.workloadRef === undefined))
      ctx.addIssue({ code: 'custom', message: TEMPLATE_OR_WORKLOAD, path: ['template'] });
    const role = roleLabelsRefused(spec);
    if (role)
      ctx.addIssue({
        code: 'custom',
        message: `${role}: ${ROLE_LABELS_REFUSED}`,
        path: ['strategy', 'canary', role, 'labels'],
      });
  });
export type RolloutSpec = z.infer<typeof RolloutSpec>;

export const ROLLOUT_PHASES = ['Progressing', 'Paused', 'Healthy', 'Degraded'] as const;
export const RolloutPhase = z.enum(ROLLOUT_PHASES);
export type RolloutPhase = z.infer<typeof RolloutPhase>;

export const PAUSE_REASONS = [
  'Step',
  'Manual',
  'Inconclusive',
  'AnalysisError',
  'AwaitingPromotion',
  'SharedIncident',
] as const;

export const AnalysisRef = z.object({
  name: z.string(),
  phase: AnalysisPhase,
  message: z.string().optional(),
});

export const HistoryEntry = z.object({
  revision: z.string(),
  outcome: z.enum(['Promoted', 'Aborted', 'Superseded', 'RolledBack']),
  reason: z.string().optional(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
});
export type HistoryEntry = z.infer<typeof HistoryEntry>;

/** A request a person (through `kubectl sluice`) leaves for the controller; never in spec, which git owns. */
const Signal = z.object({ requestedAt: z.string(), by: z.string().optional() });

export const RolloutStatus = z.object({
  observedGeneration: z.int().min(0).optional(),
  phase: RolloutPhase.optional(),
  message: z.string().optional(),
  currentRevision: z.string().optional(),
  stableRevision: z.string().optional(),
  currentStepIndex: NonNegativeInt.optional(),
  attempt: NonNegativeInt.optional().meta({
    description: 'Restarts of the current release (retry), part of run names.',
  }),
  gateRestarts: NonNegativeInt.optional().meta({
    description: 'Gates re-run after an inconclusive or errored analysis in this attempt, part of run names.',
  }),
  machineState: z.string().max(253).optional().meta({
    description: 'Where the release machine rests (e.g. release.running.stepPause), to resume exactly.',
  }),
  releaseStartedAt: z.string().optional(),
  stepStartedAt: z.string().optional(),
  lastProgressAt: z.string().optional(),
  canary: z.object({ weight: Percent }).optional(),
  blueGreen: z
    .object({
      activeRevision: z.string().optional(),
      previewRevision: z.string().optional(),
      previewReadyAt: z.string().optional(),
      promotedAt: z.string().optional(),
    })
    .optional(),
  pause: z
    .object({
      reason: z.enum(PAUSE_REASONS),
      message: z.string().optional(),
      startTime: z.string(),
      resumeAt: z.string().optional(),
    })
    .optional(),
  abort: z.boolean().optional(),
  abortedAt: z.string().optional(),
  promoteFull: z.boolean().optional(),
  scaleDown: z
    .array(z.object({ revision: z.string(), at: z.string() }))
    .optional()
    .meta({ description: 'Revisions to scale to zero once their time comes.' }),
  analysis: AnalysisRef.optional().meta({ description: 'The gate of the current step or promotion.' }),
  backgroundAnalysis: AnalysisRef.optional(),
  history: z.array(HistoryEntry).max(10).optional(),
  conditions: z.array(Condition).optional(),
  signals: z
    .object({
      promote: Signal.extend({ full: z.boolean().optional() }).optional(),
      abort: Signal.optional(),
      retry: Signal.optional(),
      pause: Signal.optional(),
      resume: Signal.optional(),
      restart: Signal.optional(),
    })
    .optional(),
  restartRequestedAt: z.string().optional().meta({
    description: 'The latest `kubectl sluice restart`: pods created before it are replaced.',
  }),
  restartedAt: z.string().optional().meta({
    description:
      'The restart time (the later of spec.restartAt and restartRequestedAt) whose pods have all been replaced.',
  }),
  writeBack: z
    .object({
      revision: z.string().meta({ description: 'The rolled-back revision this write-back is about.' }),
      state: z.enum(['Committed', 'Failed', 'Skipped']),
      commit: z.string().optional(),
      message: z.string(),
      at: z.string().optional(),
    })
    .optional()
    .meta({ description: 'Outcome of committing the stable revision back to git after a rollback.' }),
  replicas: NonNegativeInt.optional(),
  updatedReplicas: NonNegativeInt.optional(),
  readyReplicas: NonNegativeInt.optional(),
  availableReplicas: NonNegativeInt.optional(),
  selector: z
    .string()
    .optional()
    .meta({ description: 'Label selector in string form, for the scale subresource.' }),
});
export type RolloutStatus = z.infer<typeof RolloutStatus>;

export const Rollout = resource('Rollout', RolloutSpec, RolloutStatus);
export type Rollout = z.infer<typeof Rollout>;
