import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { convertYaml } from '../../../../cli/convert/convert.ts';
import type { Io } from '../../../../cli/io.ts';
import { main } from '../../../../cli/kubectl-sluice-main.ts';
import { parseResource } from '../../../../crds/validate.ts';

const FIXTURES = new URL('../../../fixtures/argo/', import.meta.url);
const fixture = (name: string) => readFileSync(new URL(name, FIXTURES), 'utf8');

function convert(name: string) {
  const result = convertYaml(fixture(name));
  const docs = parseAllDocuments(result.output);
  const objects = (Array.isArray(docs) ? docs : []).map((d) => d.toJS());
  const listed = result.converted.flatMap((c) => c.notCarried.map((n) => `${c.kind} ${c.name}: ${n.path}`));
  return { ...result, objects, listed };
}

describe('convert: Argo Rollouts', () => {
  it('carries an Istio canary with an analysis step and its template whole, comments kept', () => {
    const { objects, listed, converted, output } = convert('canary-analysis-step.yaml');
    expect(listed).toEqual([]);
    expect(converted.map((c) => c.accepted)).toEqual([true, true]);
    const [rollout, template] = objects;
    expect(parseResource('Rollout', rollout).ok).toBe(true);
    expect(rollout.apiVersion).toBe('sluice.dev/v1alpha1');
    expect(rollout.spec.strategy.canary.steps[2]).toEqual({
      analysis: {
        templates: [{ templateName: 'checkout-success' }],
        args: [{ name: 'service', value: 'checkout-canary' }],
      },
    });
    expect(template.spec.metrics[0]).toMatchObject({
      successCondition: 'result >= 0.95',
      failureCondition: 'result < 0.9',
      provider: { prometheus: { timeout: '20s' } },
    });
    expect(parseResource('AnalysisTemplate', template).ok).toBe(true);
    expect(output).toContain('# An Istio canary whose third step waits on an analysis');
    expect(output).toContain('canaryService: checkout-canary # receives the canary');
    expect(output).toContain('pause: {duration: 60} # whole seconds, as Argo allows');
    expect(output).toContain('# Below 95% of non-5xx answers is a failed look.');
    expect(converted[1]?.notes.join('\n')).toMatch(/isNaN/);
  });

  it("carries several VirtualServices under Argo's name, as Sluice now has them", () => {
    const { listed, converted, objects } = convert('canary-istio-two-virtualservices.yaml');
    expect(listed).toEqual([]);
    expect(converted[0]?.accepted).toBe(true);
    expect(
      objects[0].spec.strategy.canary.trafficRouting.istio.virtualServices.map(
        (v: { name: string }) => v.name,
      ),
    ).toEqual(['storefront-public', 'storefront-internal']);
    // What Sluice's schema has is carried without the converter naming it.
    expect(objects[0].spec.revisionHistoryLimit).toBe(3);
    // The Service in the same file passes through untouched.
    expect(objects[1]).toMatchObject({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'storefront-canary' },
    });
  });

  it('carries a subset-level split as it is: Sluice points the subsets itself', () => {
    const { objects, converted, listed } = convert('canary-istio-subset.yaml');
    expect(listed).toEqual([]);
    expect(converted[0]?.notCarried).toEqual([]);
    expect(objects[0].spec.strategy.canary.trafficRouting.istio).toEqual({
      virtualService: { name: 'search', routes: ['primary'] },
      destinationRule: { name: 'search', canarySubsetName: 'canary', stableSubsetName: 'stable' },
    });
  });

  it('the Gateway API plugin becomes gatewayAPI; header and mirror routes are carried', () => {
    const { objects, converted } = convert('canary-gateway-api.yaml');
    const canary = objects[0].spec.strategy.canary;
    expect(canary.trafficRouting).toEqual({
      managedRoutes: [{ name: 'beta-users' }, { name: 'mirror' }],
      gatewayAPI: { httpRoutes: [{ name: 'cart' }] },
    });
    expect(canary.steps[0]).toEqual({
      setHeaderRoute: {
        name: 'beta-users',
        match: [{ headerName: 'x-beta', headerValue: { exact: 'true' } }],
      },
    });
    expect(canary.steps[3]).toEqual({ setMirrorRoute: { name: 'mirror', percentage: 10 } });
    expect(converted[0]?.notCarried).toEqual([]);
    expect(converted[0]?.notes.join('\n')).toMatch(/useHeaderRoutes is implied/);
  });

  it('carries blue-green with pre- and post-promotion analysis; a list condition is noted, not refused', () => {
    const { objects, listed, converted } = convert('bluegreen.yaml');
    expect(listed).toEqual([]);
    expect(objects[0].spec.strategy.blueGreen).toMatchObject({
      activeService: 'ledger-active',
      autoPromotionEnabled: false,
      prePromotionAnalysis: { templates: [{ templateName: 'ledger-smoke' }] },
    });
    expect(objects[1].spec.metrics[0].successCondition).toBe('result.all(x, x < 300.0)');
    expect(converted[1]?.notes.join('\n')).toMatch(/reads result as a list/);
  });

  it('background analysis: startingStep carried; a key Sluice has no field for is listed, the rest kept', () => {
    const { objects, listed } = convert('canary-background-analysis.yaml');
    expect(listed).toEqual(['Rollout gateway: spec.strategy.canary.analysis.measurementRetention']);
    expect(objects[0].spec.strategy.canary.analysis).toEqual({
      templates: [{ templateName: 'error-budget', clusterScope: true }],
      startingStep: 1,
      args: [{ name: 'service', value: 'gateway-canary' }],
    });
  });

  it('workloadRef: carried as it is, the Deployment left to be applied beside it', () => {
    const { objects, listed } = convert('workload-ref.yaml');
    expect(listed).toEqual([]);
    expect(objects[1].spec.workloadRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'catalog',
    });
    expect(objects[1].spec.template).toBeUndefined();
  });

  it('workloadRef without its Deployment in the file: still carried (the controller reads it from the cluster)', () => {
    const text = fixture('workload-ref.yaml').split('---\n')[1] as string;
    const { converted } = convertYaml(text);
    expect(converted[0]?.notCarried).toEqual([]);
  });

  it("a canary without traffic routing: carried whole, maxSurge and maxUnavailable under Argo's names", () => {
    const { listed, objects, converted } = convert('canary-basic.yaml');
    expect(listed).toEqual([]);
    expect(converted[0]?.accepted).toBe(true);
    expect(objects[0].spec.minReadySeconds).toBe(15);
    expect(objects[0].spec.strategy.canary).toMatchObject({ maxSurge: '25%', maxUnavailable: 0 });
    expect(objects[0].spec.strategy.canary.steps[0]).toEqual({ setCanaryScale: { replicas: 1 } });
  });

  it('a step that cannot stand without the field Sluice lacks goes whole', () => {
    const text = fixture('canary-basic.yaml').replace('setCanaryScale:', 'setCanaryScaleLater:');
    const { converted } = convertYaml(text);
    const paths = converted[0]?.notCarried.map((n) => `${n.path}: ${n.reason}`) ?? [];
    expect(paths).toContain(
      `spec.strategy.canary.steps[0].setCanaryScaleLater: Sluice's Rollout has no field "setCanaryScaleLater" here`,
    );
    expect(paths).toContain(
      'spec.strategy.canary.steps[0]: removed whole: it cannot stand without what Sluice has no field for',
    );
    expect(converted[0]?.doc.toJS().spec.strategy.canary.steps).toEqual([
      { setWeight: 20 },
      { pause: { duration: '1h' } },
    ]);
  });

  it('names what is never a Sluice idea: another router, experiments, a paused spec', () => {
    const { converted, objects } = convert('other-ideas.yaml');
    const reasons = Object.fromEntries(converted[0]?.notCarried.map((n) => [n.path, n.reason]) ?? []);
    expect(reasons['spec.paused']).toMatch(/kubectl sluice pause/);
    expect(reasons['spec.strategy.canary.trafficRouting.nginx']).toMatch(/another traffic router \(nginx\)/);
    expect(reasons['spec.strategy.canary.steps[1]']).toMatch(/experiments/);
    // Input paths even after earlier steps went: the pause that stays was steps[3].
    expect(objects[0].spec.strategy.canary.steps).toEqual([{ setWeight: 10 }, { pause: { duration: '5m' } }]);
  });

  it('leaves behind what the API server and Argo wrote: status, uid, Argo annotations', () => {
    const exported = `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: exported
  uid: 0f0e
  resourceVersion: "812"
  annotations:
    rollout.argoproj.io/revision: "4"
    kubectl.kubernetes.io/last-applied-configuration: "{}"
    owner: payments
spec:
  selector: {matchLabels: {app: x}}
  template: {metadata: {labels: {app: x}}, spec: {containers: [{name: x, image: x}]}}
  strategy: {blueGreen: {activeService: x}}
status:
  phase: Healthy
`;
    const { converted } = convertYaml(exported);
    expect(converted[0]?.notCarried).toEqual([]);
    expect(converted[0]?.doc.toJS().metadata).toEqual({
      name: 'exported',
      annotations: { owner: 'payments' },
    });
    expect(converted[0]?.doc.toJS().status).toBeUndefined();
  });
});

describe('convert: analysis templates', () => {
  it("prometheus, web and job carried under Argo's names; datadog is another provider", () => {
    const { converted, objects } = convert('analysistemplate-providers.yaml');
    const reasons = Object.fromEntries(converted[0]?.notCarried.map((n) => [n.path, n.reason]) ?? []);
    expect(reasons['spec.metrics[3]']).toMatch(/another metric provider \(datadog\)/);
    expect(reasons['spec.metrics[1].successCondition']).toMatch(
      /cannot be written in CEL: fields and methods/,
    );
    const metrics: { name: string; provider: Record<string, unknown> }[] = objects[0].spec.metrics;
    expect(metrics[0]).toMatchObject({ name: 'error-rate', successCondition: 'result <= 0.01' });
    expect(metrics.find((m) => m.name === 'health-endpoint')?.provider.web).toMatchObject({
      url: 'http://checks.internal/health?service={{args.service}}',
    });
    expect(metrics.find((m) => m.name === 'smoke-test')?.provider.job).toBeDefined();
    // A template's secretKeyRef arg is not Sluice's yet: in the output once it is, listed until then.
    expect(objects[0].spec.args[1].valueFrom ?? reasons['spec.args[1].valueFrom']).toBeDefined();
    expect(metrics.some((m) => m.name === 'datadog-errors')).toBe(false);
  });

  it('a ClusterAnalysisTemplate with closures and len() becomes CEL the evaluator accepts', () => {
    const { objects, listed } = convert('clusteranalysistemplate.yaml');
    expect(listed).toEqual([]);
    expect(objects[0].kind).toBe('ClusterAnalysisTemplate');
    expect(objects[0].spec.metrics[0]).toMatchObject({
      successCondition: 'result.all(x, x < 2.0)',
      failureCondition: 'result.exists(x, x >= 10.0)',
      inconclusiveLimit: 2,
      consecutiveErrorLimit: 3,
    });
    expect(objects[0].spec.metrics[1]).toMatchObject({
      dryRun: true,
      successCondition: 'result < 1.2 * 1.0',
    });
  });
});

describe('convert: Flagger', () => {
  it('a Canary becomes a Rollout with its weight ladder, builtins and a template per custom metric', () => {
    const { objects, converted, skipped } = convert('flagger-canary.yaml');
    expect(skipped).toEqual([]);
    expect(objects.map((o) => o.kind)).toEqual(['Deployment', 'Rollout', 'AnalysisTemplate']);
    const rollout = objects[1];
    expect(rollout.spec.template.spec.containers[0].image).toBe('registry.example/podinfo:6.0.0');
    expect(rollout.spec.strategy.canary).toMatchObject({
      stableService: 'podinfo-primary',
      canaryService: 'podinfo-canary',
      trafficRouting: { istio: { virtualService: { name: 'podinfo' } } },
      analysis: {
        interval: '1m',
        failureLimit: 4,
        successRate: { min: 99 },
        latencyP99: { maxMs: 500 },
        templates: [{ templateName: 'podinfo-not-found-percentage' }],
      },
    });
    expect(rollout.spec.strategy.canary.steps.filter((s: object) => 'setWeight' in s)).toEqual(
      [10, 20, 30, 40, 50].map((w) => ({ setWeight: w })),
    );
    const template = objects[2];
    expect(template.spec.metrics[0].failureCondition).toBe('result > 5.0');
    expect(template.spec.metrics[0].provider.prometheus.query).toContain(
      'destination_workload_namespace="shop",destination_workload="podinfo"',
    );
    expect(template.spec.metrics[0].provider.prometheus.query).toContain('[1m]');
    expect(converted.map((c) => c.accepted)).toEqual([true, true]);
    expect(converted[0]?.from).toBe('Canary shop/podinfo');
    expect(converted[0]?.notCarried.map((n) => n.path)).toEqual(['spec.analysis.webhooks']);
  });

  it('the Gateway API provider becomes gatewayAPI, and sessionAffinity is carried', () => {
    const { objects, converted } = convert('flagger-gateway-sticky.yaml');
    const rollout = objects[1];
    expect(parseResource('Rollout', rollout).ok).toBe(true);
    expect(rollout.spec.strategy.canary).toMatchObject({
      trafficRouting: { gatewayAPI: { httpRoutes: [{ name: 'podinfo' }] } },
      sessionAffinity: { cookieName: 'flagger-cookie', maxAge: '21600s' },
    });
    expect(converted[0]?.notCarried).toEqual([]);
    expect(converted[0]?.notes.join('\n')).toMatch(
      /HTTPRoute "podinfo" \(attached to spec.service.gatewayRefs\)/,
    );
  });

  it('a MetricTemplate no Canary uses, and a Canary whose Deployment is elsewhere, are said', () => {
    const text = fixture('flagger-canary.yaml').split('---\n');
    const { skipped } = convertYaml(text[1] as string);
    expect(skipped[0]?.reason).toMatch(/no Canary in the input uses it/);
    const { converted } = convertYaml(text[2] as string);
    expect(converted[0]?.notCarried.map((n) => n.path)).toContain('spec.targetRef');
  });
});

describe('kubectl sluice convert', () => {
  async function run(argv: string[], stdin?: string) {
    const out: string[] = [];
    const err: string[] = [];
    const io: Io = {
      out: (t) => out.push(t),
      err: (t) => err.push(t),
      now: () => new Date(0),
      isTTY: false,
      ...(stdin === undefined ? {} : { stdin: Readable.from([Buffer.from(stdin)]) }),
    };
    const code = await main(argv, io);
    return { code, out: out.join('\n'), err: err.join('\n') };
  }
  const path = (name: string) => new URL(name, FIXTURES).pathname;

  it('writes the converted file and exits 0 when everything was carried', async () => {
    const r = await run(['convert', '-f', path('bluegreen.yaml')]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('apiVersion: sluice.dev/v1alpha1');
    expect(r.err).toMatch(/^note: AnalysisTemplate finance\/ledger-smoke: /);
  });

  it('exits 1 and writes nothing when something is not carried, unless --allow-partial', async () => {
    const strict = await run(['convert', '-f', path('other-ideas.yaml')]);
    expect(strict).toMatchObject({ code: 1, out: '' });
    expect(strict.err).toContain(
      'Rollout edge: spec.strategy.canary.trafficRouting.nginx: another traffic router (nginx): Sluice routes traffic through Istio or the Gateway API',
    );
    expect(strict.err).toMatch(/\d+ things not carried over .*--allow-partial/);
    const partial = await run(['convert', '-f', path('other-ideas.yaml'), '--allow-partial']);
    expect(partial.code).toBe(0);
    expect(partial.out).toContain('# kubectl sluice convert: not carried over');
    expect(partial.out).toContain('kind: Rollout');
    expect(partial.err).toContain('spec.strategy.canary.steps[1]: experiments');
  });
  it('reads stdin with -f -', async () => {
    const r = await run(['convert', '-f', '-'], fixture('workload-ref.yaml'));
    expect(r.code).toBe(0);
    expect(r.out).toContain('kind: Rollout');
  });

  it('says when a file holds nothing to convert, and when it is not YAML', async () => {
    expect(await run(['convert', '-f', '-'], 'apiVersion: v1\nkind: Service\n')).toMatchObject({
      code: 1,
      err: 'error: stdin holds no Argo Rollouts or Flagger object to convert',
    });
    expect((await run(['convert', '-f', '-'], 'a: [\n')).err).toMatch(/^error: document 1 is not YAML/);
  });

  it('is called as -f FILE, with no cluster', async () => {
    expect((await run(['convert'])).err).toContain('"convert" needs a file: -f FILE');
    expect((await run(['convert', 'x.yaml'])).err).toContain('"convert" takes no arguments');
    expect((await run(['lint', '-f', 'x', '--allow-partial'])).err).toContain(
      '--allow-partial is not a flag of "lint"',
    );
  });
});
