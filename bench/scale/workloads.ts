// The same release for both controllers: one replica, four steps (25%, pause, 50%, pause),
// background analysis on the canary's success rate with the same PromQL, interval and delay.
import type { KubernetesObject } from '@kubernetes/client-node';
import { successRateQuery } from '../../analysis/queries.ts';
import { canaryApp } from '../../sandbox/apps.ts';

export const PAUSE_SECONDS = 20;
/** Analysis interval: the builtin's rate window, so at least two scrapes at the bench's 5 s. */
export const INTERVAL_SECONDS = 15;
/**
 * Two intervals before the first measurement: on a loaded 2-core machine the simulator can take
 * 10–20 s to route by a new weight, and a window without canary traffic reads as no data.
 */
export const INITIAL_DELAY_SECONDS = 30;
/** Measurements without data tolerated (Argo's no-data is an Error, of which it tolerates 4). */
export const INCONCLUSIVE_LIMIT = 2;
export const MIN_SUCCESS_RATE = 95;
export const STEP_WEIGHTS = [25, 50] as const;

const steps = () =>
  STEP_WEIGHTS.flatMap((w) => [{ setWeight: w }, { pause: { duration: `${PAUSE_SECONDS}s` } }]);

/** Services, VirtualService and a sluice.dev Rollout with a builtin success-rate gate. */
export function sluiceApp(ns: string, name: string, image: string): KubernetesObject[] {
  return canaryApp(ns, {
    name,
    image,
    replicas: 1,
    steps: steps(),
    canary: {
      analysis: {
        interval: `${INTERVAL_SECONDS}s`,
        initialDelay: `${INITIAL_DELAY_SECONDS}s`,
        inconclusiveLimit: INCONCLUSIVE_LIMIT,
        successRate: { min: MIN_SUCCESS_RATE },
      },
    },
  });
}

/** One per namespace: Sluice's builtin success-rate query as an Argo AnalysisTemplate. */
export function argoTemplate(ns: string, prometheusUrl: string): KubernetesObject {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AnalysisTemplate',
    metadata: { name: 'success-rate', namespace: ns },
    spec: {
      args: [{ name: 'service' }, { name: 'namespace' }],
      metrics: [
        {
          name: 'success-rate',
          interval: `${INTERVAL_SECONDS}s`,
          initialDelay: `${INITIAL_DELAY_SECONDS}s`,
          failureLimit: 0,
          inconclusiveLimit: INCONCLUSIVE_LIMIT,
          successCondition: `result[0] >= ${MIN_SUCCESS_RATE}`,
          provider: {
            prometheus: {
              address: prometheusUrl,
              query: successRateQuery(
                { service: '{{args.service}}', namespace: '{{args.namespace}}' },
                INTERVAL_SECONDS * 1000,
              ),
            },
          },
        },
      ],
    },
  } as KubernetesObject;
}

/** The same Services and VirtualService, and an argoproj.io Rollout with the same steps. */
export function argoApp(ns: string, name: string, image: string): KubernetesObject[] {
  const objs = canaryApp(ns, { name, image, replicas: 1 }).filter((o) => o.kind !== 'Rollout');
  const rollout = {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name, namespace: ns },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image }] },
      },
      strategy: {
        canary: {
          stableService: `${name}-stable`,
          canaryService: `${name}-canary`,
          scaleDownDelaySeconds: 1,
          abortScaleDownDelaySeconds: 1,
          trafficRouting: { istio: { virtualService: { name, routes: ['primary'] } } },
          analysis: {
            templates: [{ templateName: 'success-rate' }],
            args: [
              { name: 'service', value: `${name}-canary` },
              { name: 'namespace', value: ns },
            ],
          },
          steps: steps(),
        },
      },
    },
  };
  return [...objs, rollout];
}
