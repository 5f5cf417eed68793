// Builtin gates read from Envoy Gateway's upstream cluster statistics, on the real API server,
// Prometheus and the traffic simulator (which exports those statistics beside Istio's, named as
// Envoy Gateway names its clusters): a healthy canary behind an HTTPRoute is promoted and a
// failing one rolled back, both judged by queries of Envoy's series only.
import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ENVOY_GATEWAY, ISTIO } from '../../analysis/flavour.ts';
import { PrometheusProvider } from '../../analysis/provider.ts';
import { readTraffic } from '../../analysis/traffic-history.ts';
import { ENVOY_GATEWAY_CONTROLLER } from '../../controller/analysis/default-flavour.ts';
import { requestJson } from '../../controller/kube/client.ts';
import type { GatewayRoute } from '../../controller/traffic/gateway-route.ts';
import { sandbox } from '../harness/env.ts';
import { kube } from '../harness/kube.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { promScalar } from '../harness/prometheus.ts';
import { waitFor } from '../harness/wait.ts';
import {
  analysisRuns,
  promoteSecond,
  rollBackFailingThird,
  stallOnInvalidGate,
  startAnalysisController,
} from '../support/analysis.ts';
import { apply, gatewayApp, setImage, waitForRollout } from '../support/apps.ts';

/** The app's HTTPRoute with a filter on the canary's backendRef: Envoy Gateway then gives each backendRef its own cluster. */
function withBackendFilter(objects: ReturnType<typeof gatewayApp>): ReturnType<typeof gatewayApp> {
  return objects.map((o) => {
    if (o.kind !== 'HTTPRoute') return o;
    const route = structuredClone(o) as unknown as GatewayRoute;
    const canaryRef = route.spec.rules?.[1]?.backendRefs?.[1];
    if (!canaryRef) throw new Error('gatewayApp changed: no canary backendRef in rule 1');
    canaryRef.filters = [
      {
        type: 'RequestHeaderModifier',
        requestHeaderModifier: { set: [{ name: 'x-sluice-side', value: 'canary' }] },
      },
    ];
    return route as unknown as typeof o;
  });
}

const weights = async (ns: string) => {
  const route = await requestJson<GatewayRoute>(kube().kc, {
    method: 'GET',
    path: `/apis/gateway.networking.k8s.io/v1/namespaces/${ns}/httproutes/web`,
  });
  return (route.spec.rules?.[1]?.backendRefs ?? []).map((r) => r.weight);
};

/** A step gate reading Envoy Gateway's statistics. */
const gate = {
  analysis: {
    interval: '2s',
    initialDelay: '6s',
    count: 2,
    builtinMetrics: 'envoyGateway',
    successRate: { min: 95 },
    latencyP99: { maxMs: 2000 },
  },
};

describe('builtin gates reading Envoy Gateway statistics (builtinMetrics: envoyGateway)', () => {
  it('promotes a healthy canary and rolls back a failing one, judged on the backendRef clusters', async () => {
    const ns = await freshNamespace('envoy-gate');
    await apply(
      withBackendFilter(
        gatewayApp(ns, {
          image: `shop/${ns}:1`,
          steps: [{ setWeight: 50 }, gate, { setWeight: 100 }] as never,
        }),
      ),
    );
    const promoted = await promoteSecond(
      ns,
      () => startAnalysisController(ns),
      'the healthy canary to pass the Envoy-read gate and be promoted',
      90_000,
    );
    const canaryCluster = `httproute/${ns}/web/rule/1/backend/1`;
    const passed = (await analysisRuns(ns)).find((r) => r.spec.gate === 'step');
    expect(passed?.status?.phase).toBe('Successful');
    expect(passed?.spec.metrics.map((m) => [m.name, m.builtinMetrics])).toEqual([
      ['success-rate', 'envoyGateway'],
      ['latency-p99', 'envoyGateway'],
    ]);
    const [success, latency] = passed?.spec.metrics ?? [];
    expect(success?.provider.prometheus?.query).toContain('increase(envoy_cluster_upstream_rq_xx{');
    expect(success?.provider.prometheus?.query).toContain(`envoy_cluster_name=~"${canaryCluster}"`);
    expect(success?.provider.prometheus?.query).not.toContain('istio_');
    expect(latency?.provider.prometheus?.query).toContain('envoy_cluster_upstream_rq_time_bucket{');
    // The series the gate read exist in Prometheus under Envoy's names, for the canary's own cluster.
    expect(
      await promScalar(`sum(envoy_cluster_upstream_rq_xx{envoy_cluster_name="${canaryCluster}"})`),
    ).toBeGreaterThan(0);
    expect(passed?.status?.metricResults?.every((m) => m.count === 2 && m.failed === 0)).toBe(true);
    // compareToStable's history query as the controller asks it: Envoy's counters see the same
    // requests as Istio's (the 503s of a Service before its pods were ready included).
    const prometheus = new PrometheusProvider({ address: sandbox().PROMETHEUS_URL, timeoutMs: 5000 });
    const side = (service: string, backend: number) => ({
      service,
      namespace: ns,
      clusters: [`httproute/${ns}/web/rule/1/backend/${backend}`],
    });
    const history = async (f: typeof ISTIO) => {
      const h = await readTraffic(prometheus, side('web-canary', 1), side('web-stable', 0), f);
      if (!('requestsPerSecond' in h)) throw new Error(`no history: ${h.missing}`);
      return h;
    };
    const [envoy, istio] = [await history(ENVOY_GATEWAY), await history(ISTIO)];
    expect(envoy.requestsPerSecond).toBeGreaterThan(0);
    expect(Math.abs(envoy.requestsPerSecond - istio.requestsPerSecond)).toBeLessThan(
      0.1 * istio.requestsPerSecond,
    );
    expect(Math.abs(envoy.stableErrorRatio - istio.stableErrorRatio)).toBeLessThan(0.05);

    // A canary failing 40% of its requests fails the same gate, read from its 5xx class.
    await rollBackFailingThird(
      ns,
      0.4,
      promoted.status?.stableRevision,
      'the failing canary to be rolled back by successRate read from Envoy',
      90_000,
    );
    const failed = (await analysisRuns(ns)).find(
      (r) => r.spec.gate === 'step' && r.status?.phase === 'Failed',
    );
    expect(failed?.spec.metrics[0]?.builtinMetrics).toBe('envoyGateway');
    expect(failed?.status?.metricResults?.find((m) => m.name === 'success-rate')?.failed).toBeGreaterThan(0);
    expect(
      await promScalar(
        `sum(envoy_cluster_upstream_rq_xx{envoy_cluster_name="${canaryCluster}",envoy_response_code_class="5"})`,
      ),
    ).toBeGreaterThan(0);
    expect(await weights(ns)).toEqual([100, 0]);
  });

  it('refuses, naming why, a rule whose backendRefs Envoy Gateway would put in one cluster', async () => {
    const ns = await freshNamespace('envoy-shared');
    await apply(gatewayApp(ns, { image: `shop/${ns}:1`, steps: [{ setWeight: 30 }, gate] as never }));
    const { run } = await stallOnInvalidGate(ns, 'the release to stall on the gate it cannot read');
    expect(run?.spec.error).toBe(
      `cannot proceed: builtinMetrics envoyGateway: HTTPRoute ${ns}/web rule 'primary': Envoy Gateway puts its backendRefs in one cluster, ` +
        "so the stable's and the canary's statistics cannot be told apart; give a backendRef filters (docs/analysis.md)",
    );
    expect(await weights(ns)).toEqual([70, 30]);
  });
});

describe('the default metrics of a gate follow the data plane of its routes', () => {
  /** The app's HTTPRoute attached to a Gateway of a class served by `controller`, instead of to its Service. */
  async function behindGateway(prefix: string, controller: string) {
    const ns = await freshNamespace(prefix);
    const className = `${ns}-class`;
    const classes = `/apis/gateway.networking.k8s.io/v1/gatewayclasses`;
    onTestFinished(async () => {
      await requestJson(kube().kc, { method: 'DELETE', path: `${classes}/${className}` }).catch(
        () => undefined,
      );
    });
    const gatewayObjects: KubernetesObject[] = [
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'GatewayClass',
        metadata: { name: className },
        spec: { controllerName: controller },
      } as KubernetesObject,
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'Gateway',
        metadata: { name: 'edge', namespace: ns },
        spec: { gatewayClassName: className, listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
      } as KubernetesObject,
    ];
    const app = withBackendFilter(
      gatewayApp(ns, {
        image: `shop/${ns}:1`,
        steps: [{ setWeight: 30 }, { analysis: { ...gate.analysis, builtinMetrics: undefined } }] as never,
      }),
    ).map((o) => {
      if (o.kind !== 'HTTPRoute') return o;
      const route = structuredClone(o) as unknown as GatewayRoute;
      route.spec.parentRefs = [{ name: 'edge' }];
      route.spec.hostnames = [`web.${ns}.example`];
      return route as unknown as typeof o;
    });
    await apply([...gatewayObjects, ...app]);
    await startAnalysisController(ns);
    await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');
    await setImage(ns, `shop/${ns}:2`);
    const run = await waitFor(async () => (await analysisRuns(ns)).find((r) => r.spec.gate === 'step'), {
      description: "the step gate's run",
    });
    return { ns, run };
  }

  it("routes on Envoy Gateway's Gateways: Envoy's statistics, without being asked", async () => {
    const { ns, run } = await behindGateway('envoy-default', ENVOY_GATEWAY_CONTROLLER);
    expect(run.spec.error).toBeUndefined();
    expect(run.spec.metrics.map((m) => m.builtinMetrics)).toEqual(['envoyGateway', 'envoyGateway']);
    expect(run.spec.metrics[0]?.provider.prometheus?.query).toContain(
      `envoy_cluster_name=~"httproute/${ns}/web/rule/1/backend/1"`,
    );
  });

  it("routes on another implementation's Gateways: Istio's metrics, as before", async () => {
    const { run } = await behindGateway('istio-default', 'istio.io/gateway-controller');
    expect(run.spec.error).toBeUndefined();
    expect(run.spec.metrics.map((m) => m.builtinMetrics)).toEqual([undefined, undefined]);
    expect(run.spec.metrics[0]?.provider.prometheus?.query).toContain('istio_requests_total');
  });
});
