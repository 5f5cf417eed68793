import { z } from 'zod';

export const GROUP = 'sluice.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

/** `30s`, `5m`, `1h`, `1m30s`, `250ms`: the duration syntax every Sluice field shares. */
export const DURATION_PATTERN = '^([0-9]+(ms|s|m|h))+$';
/** A year: the longest pause anyone means, and a bound for CEL's cost estimate. */
const MAX_SECONDS = 31_536_000;

export const Duration = z
  .string()
  .regex(new RegExp(DURATION_PATTERN), 'a duration such as 30s, 5m, 1h or 1m30s')
  .max(32)
  .meta({
    description: 'A duration: one or more of <integer><unit>, unit one of ms, s, m, h (e.g. 30s, 1m30s).',
  });

/**
 * A duration as a string, or as whole seconds as Argo Rollouts writes pauses (`duration: 10`).
 * Read as the string form, so everything past the schema sees one syntax. In the CRD it is an
 * int-or-string whose two forms a CEL rule checks (structural schemas allow no other union).
 */
export const SecondsOrDuration = z
  .union([z.int().min(0).max(MAX_SECONDS), Duration])
  .transform((d) => (typeof d === 'number' ? `${d}s` : d))
  .meta({
    description: 'A duration (30s, 5m, 1m30s) or whole seconds (30), as Argo Rollouts writes it.',
    'x-kubernetes-int-or-string': true,
    'x-kubernetes-validations': [
      {
        rule: `type(self) == int ? self >= 0 && self <= ${MAX_SECONDS} : self.matches('${DURATION_PATTERN}')`,
        message: 'a duration such as 30s, 5m, 1h or 1m30s, or whole seconds',
      },
    ],
  });

/**
 * A count of pods or a percent of spec.replicas (`1`, `"25%"`), as Deployments and Argo
 * Rollouts write maxSurge and maxUnavailable.
 */
export const CountOrPercent = z
  .union([
    z.int().min(0).max(100_000),
    z
      .string()
      .max(4)
      .regex(/^(100|[1-9]?[0-9])%$/, 'a percent such as 25%'),
  ])
  .meta({
    description: 'A number of pods (1) or a percent of spec.replicas (25%).',
    'x-kubernetes-int-or-string': true,
    'x-kubernetes-validations': [
      {
        rule: "type(self) == int ? self >= 0 && self <= 100000 : self.matches('^(100|[1-9]?[0-9])%$')",
        message: 'a number of pods, or a percent from 0% to 100%',
      },
    ],
  });
export type CountOrPercent = z.infer<typeof CountOrPercent>;

/** DNS-1123 label: what Service names and most Kubernetes names must be. */
export const DnsLabel = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a DNS-1123 label (lower case, digits and -)');

/** DNS-1123 subdomain: names of most namespaced objects. */
export const DnsSubdomain = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, 'a DNS-1123 subdomain');

export const NonNegativeInt = z.int().min(0);
export const Percent = z.int().min(0).max(100);

export const StringMap = z.record(z.string(), z.string());

/**
 * Label maps, bounded as Kubernetes bounds label values: CEL rules that read them must have
 * a cost the API server can estimate, which needs maxProperties and maxLength.
 */
export const LabelMap = z.record(z.string(), z.string().max(63)).meta({ maxProperties: 64 });

export const ObjectMeta = z.looseObject({
  name: z.string().optional(),
  namespace: z.string().optional(),
  labels: StringMap.optional(),
  annotations: StringMap.optional(),
  generation: z.int().optional(),
  resourceVersion: z.string().optional(),
  uid: z.string().optional(),
  creationTimestamp: z.string().optional(),
  deletionTimestamp: z.string().optional(),
  finalizers: z.array(z.string()).optional(),
});

/** A standard Kubernetes condition, as kstatus, Flux and Argo CD read it. */
export const Condition = z.object({
  type: z.string().max(316),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string().max(1024).optional(),
  message: z.string().max(32768).optional(),
  lastTransitionTime: z.string().optional(),
  observedGeneration: z.int().min(0).optional(),
});
export type Condition = z.infer<typeof Condition>;

export const LabelSelector = z.object({
  matchLabels: LabelMap.optional(),
  matchExpressions: z
    .array(
      z.object({
        key: z.string(),
        operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
        values: z.array(z.string()).optional(),
      }),
    )
    .optional(),
});

/** Builds the kind-level envelope every Sluice object shares. */
export function resource<K extends string, S extends z.ZodType, T extends z.ZodType>(
  kind: K,
  spec: S,
  status: T,
) {
  return z.object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal(kind),
    metadata: ObjectMeta,
    spec,
    status: status.optional(),
  });
}
