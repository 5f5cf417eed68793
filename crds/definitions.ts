import type { z } from 'zod';
import { AnalysisRun, AnalysisTemplate, ClusterAnalysisTemplate } from './analysis.ts';
import { GROUP, VERSION } from './common.ts';
import { Rollout } from './rollout.ts';
import { toStructuralSchema } from './structural.ts';

interface Column {
  name: string;
  type: 'string' | 'integer' | 'date' | 'number' | 'boolean';
  jsonPath: string;
  description?: string;
  priority?: number;
}

interface Definition {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  scope: 'Namespaced' | 'Cluster';
  schema: z.ZodType;
  columns: Column[];
  scale?: boolean;
}

const AGE: Column = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

export const DEFINITIONS: Definition[] = [
  {
    kind: 'Rollout',
    plural: 'rollouts',
    singular: 'rollout',
    shortNames: ['sro', 'srollout'],
    scope: 'Namespaced',
    schema: Rollout,
    scale: true,
    columns: [
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      {
        name: 'Weight',
        type: 'integer',
        jsonPath: '.status.canary.weight',
        description: 'Canary traffic percent',
      },
      { name: 'Step', type: 'integer', jsonPath: '.status.currentStepIndex' },
      { name: 'Current', type: 'string', jsonPath: '.status.currentRevision' },
      { name: 'Stable', type: 'string', jsonPath: '.status.stableRevision' },
      { name: 'Message', type: 'string', jsonPath: '.status.message', priority: 1 },
      AGE,
    ],
  },
  {
    kind: 'AnalysisTemplate',
    plural: 'analysistemplates',
    singular: 'analysistemplate',
    shortNames: ['sat'],
    scope: 'Namespaced',
    schema: AnalysisTemplate,
    columns: [AGE],
  },
  {
    kind: 'ClusterAnalysisTemplate',
    plural: 'clusteranalysistemplates',
    singular: 'clusteranalysistemplate',
    shortNames: ['scat'],
    scope: 'Cluster',
    schema: ClusterAnalysisTemplate,
    columns: [AGE],
  },
  {
    kind: 'AnalysisRun',
    plural: 'analysisruns',
    singular: 'analysisrun',
    shortNames: ['sar'],
    scope: 'Namespaced',
    schema: AnalysisRun,
    columns: [
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'Rollout', type: 'string', jsonPath: '.spec.rollout' },
      { name: 'Gate', type: 'string', jsonPath: '.spec.gate' },
      { name: 'Message', type: 'string', jsonPath: '.status.message', priority: 1 },
      AGE,
    ],
  },
];

export function crdFor(def: Definition) {
  const schema = toStructuralSchema(def.schema);
  // apiVersion/kind/metadata are the API server's business; a CRD schema may not constrain metadata.
  const properties = { ...(schema.properties as Record<string, unknown>) };
  properties.apiVersion = { type: 'string' };
  properties.kind = { type: 'string' };
  properties.metadata = { type: 'object' };
  const subresources: Record<string, unknown> = { status: {} };
  if (def.scale) {
    subresources.scale = {
      specReplicasPath: '.spec.replicas',
      statusReplicasPath: '.status.replicas',
      labelSelectorPath: '.status.selector',
    };
  }
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${def.plural}.${GROUP}` },
    spec: {
      group: GROUP,
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.singular,
        shortNames: def.shortNames,
        // Only the Rollout belongs in `kubectl get all`: it is what owns the pods.
        categories: def.kind === 'Rollout' ? ['sluice', 'all'] : ['sluice'],
      },
      scope: def.scope,
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources,
          additionalPrinterColumns: def.columns,
          schema: {
            openAPIV3Schema: { ...schema, properties },
          },
        },
      ],
    },
  };
}
