import { describe, expect, it } from 'vitest';
import { InvalidAnalysis, resolveMetrics, templateKey } from '../../../analysis/resolve.ts';
import type { AnalysisTemplateSpec } from '../../../crds/index.ts';

const template: AnalysisTemplateSpec = {
  args: [{ name: 'service' }, { name: 'threshold', value: '0.05' }],
  metrics: [
    {
      name: 'error-ratio',
      interval: '10s',
      successCondition: 'result < {{args.threshold}}'.replace('{{args.threshold}}', '0.05'),
      provider: {
        prometheus: { query: 'sum(rate(errors{service="{{args.service}}"}[1m])) > {{args.threshold}}' },
      },
    },
  ],
};
const found = (spec?: AnalysisTemplateSpec) => new Map([[templateKey({ templateName: 'errors' }), spec]]);

describe('resolving a gate into metrics', () => {
  it('writes the builtins out as window counts of the measured and the stable Service, with limits, bound and minRequests', () => {
    const metrics = resolveMetrics({
      gates: {
        interval: '5s',
        failureLimit: 1,
        successRate: { min: 99 },
        latencyP99: { maxMs: 250.5, confidence: 0.95, minRequests: 50 },
      },
      gate: 'step',
      namespace: 'shop',
      service: 'web-canary',
      stableService: 'web-stable',
      templates: new Map(),
    });
    expect(metrics.map((m) => [m.name, m.builtin, m.count, m.failureLimit, m.absolute])).toEqual([
      [
        'success-rate',
        'successRate',
        1,
        1,
        {
          canaryService: 'web-canary',
          stableService: 'web-stable',
          min: 99,
          confidence: 0.99,
          minRequests: 10,
        },
      ],
      [
        'latency-p99',
        'latencyP99',
        1,
        1,
        {
          canaryService: 'web-canary',
          stableService: 'web-stable',
          maxMs: 250.5,
          confidence: 0.95,
          minRequests: 50,
        },
      ],
    ]);
    const [success, latency] = metrics.map((m) => m.provider.prometheus?.query);
    // Counts (increase), not a ratio: the bound needs the requests behind the rate.
    expect(success).toMatch(
      /^sum by \(destination_service_name, response_code\) \(increase\(istio_requests_total/,
    );
    expect(latency).toContain('istio_request_duration_milliseconds_bucket');
    for (const q of [success, latency]) {
      expect(q).toContain('destination_service_name="web-canary"');
      expect(q).toContain('destination_service_name="web-stable"');
      expect(q).toContain('[5s]');
    }
    expect(metrics.every((m) => m.successCondition === undefined && m.failureCondition === undefined)).toBe(
      true,
    );
  });

  it('without a stable Service the builtins measure the Service under test alone', () => {
    const [m] = resolveMetrics({
      gates: { successRate: { min: 99 } },
      gate: 'postPromotion',
      namespace: 'shop',
      service: 'web-active',
      templates: new Map(),
    });
    expect(m?.absolute?.stableService).toBeUndefined();
    expect(m?.provider.prometheus?.query).not.toMatch(/destination_service_name="(?!web-active")/);
  });

  it('background builtins measure until stopped (no count)', () => {
    const [m] = resolveMetrics({
      gates: { successRate: { min: 99 } },
      gate: 'background',
      namespace: 'shop',
      service: 'web-canary',
      templates: new Map(),
    });
    expect(m?.count).toBeUndefined();
    expect(m?.interval).toBe('30s');
    expect(m?.initialDelay).toBe('30s'); // one window of canary traffic before the first measurement
  });

  it('merges args: template defaults < gate args, and escapes them into the query', () => {
    const [m] = resolveMetrics({
      gates: { templates: [{ templateName: 'errors' }], args: [{ name: 'service', value: 'web"}' }] },
      gate: 'step',
      namespace: 'shop',
      templates: found(template),
    });
    expect(m?.provider.prometheus?.query).toBe('sum(rate(errors{service="web\\"}"}[1m])) > 0.05');
    expect(m?.template).toBe('errors');
    expect(m?.count).toBe(1);
    expect(m?.initialDelay).toBeUndefined();
    const [delayed] = resolveMetrics({
      gates: {
        initialDelay: '7s',
        templates: [{ templateName: 'errors' }],
        args: [{ name: 'service', value: 'w' }],
      },
      gate: 'step',
      namespace: 'shop',
      templates: found(template),
    });
    expect(delayed?.initialDelay).toBe('7s'); // the gate's initialDelay for metrics without their own
    const [over] = resolveMetrics({
      gates: {
        templates: [{ templateName: 'errors' }],
        args: [
          { name: 'service', value: 'web' },
          { name: 'threshold', value: '0.5' },
        ],
      },
      gate: 'step',
      namespace: 'shop',
      templates: found(template),
    });
    expect(over?.provider.prometheus?.query).toContain('> 0.5');
  });

  it.each([
    [
      'a missing template',
      { templates: [{ templateName: 'errors' }] },
      found(undefined),
      /AnalysisTemplate shop\/errors not found/,
    ],
    [
      'a missing cluster template',
      { templates: [{ templateName: 'global', clusterScope: true }] },
      new Map(),
      /ClusterAnalysisTemplate global not found/,
    ],
    [
      'an arg without a value',
      { templates: [{ templateName: 'errors' }] },
      found(template),
      /metric error-ratio \(template errors\): argument "service" has no value/,
    ],
    [
      'an undeclared arg',
      { templates: [{ templateName: 'errors' }], args: [{ name: 'service', value: 'w' }] },
      found({ metrics: [{ name: 'm', provider: { prometheus: { query: 'x{a="{{args.zone}}"}' } } }] }),
      /metric m \(template errors\): argument "zone" is not declared/,
    ],
    [
      'invalid CEL',
      { templates: [{ templateName: 'errors' }], args: [{ name: 'service', value: 'w' }] },
      found({
        metrics: [{ name: 'm', successCondition: 'result >>> 1', provider: { prometheus: { query: 'up' } } }],
      }),
      /metric m: invalid CEL "result >>> 1"/,
    ],
  ])('%s is an InvalidAnalysis naming the metric and the problem', (_, gates, templates, message) => {
    const run = () =>
      resolveMetrics({ gates: gates as never, gate: 'step', namespace: 'shop', service: 'web', templates });
    expect(run).toThrow(InvalidAnalysis);
    expect(run).toThrow(message);
  });

  it('builtins without a Service to measure are invalid', () => {
    expect(() =>
      resolveMetrics({
        gates: { successRate: { min: 1 } },
        gate: 'prePromotion',
        namespace: 'shop',
        templates: new Map(),
      }),
    ).toThrow(/need a Service/);
  });

  it('a template address carrying credentials is invalid, and the message does not repeat them', () => {
    const metric = template.metrics[0] as AnalysisTemplateSpec['metrics'][number];
    const withPassword: AnalysisTemplateSpec = {
      ...template,
      metrics: [
        {
          ...metric,
          provider: {
            prometheus: {
              ...(metric.provider.prometheus as { query: string }),
              address: 'http://u:hunter2@prom:9090',
            },
          },
        },
      ],
    };
    const run = () =>
      resolveMetrics({
        gates: { templates: [{ templateName: 'errors' }], args: [{ name: 'service', value: 'web' }] },
        gate: 'step',
        namespace: 'shop',
        templates: found(withPassword),
      });
    expect(run).toThrow(/provider\.prometheus\.address carries credentials/);
    expect(run).not.toThrow(/hunter2/);
  });
});

describe('resolving under subset routing (both revisions behind one Service)', () => {
  const resolve = (
    gates: Parameters<typeof resolveMetrics>[0]['gates'],
    revisions: { canary: string; stable?: string },
  ) =>
    resolveMetrics({
      gates,
      gate: 'background',
      namespace: 'shop',
      service: 'canary',
      stableService: 'stable',
      revisions,
      templates: new Map(),
    });

  it('every builtin selects each side by its revision and keeps the revisions for its looks', () => {
    const [rate, errors] = resolve(
      { successRate: { min: 99 }, compareToStable: { errors: { maxIncreasePercent: 25 } } },
      { canary: 'new1', stable: 'old1' },
    );
    expect(rate?.absolute).toMatchObject({
      canaryService: 'canary',
      stableService: 'stable',
      canaryRevision: 'new1',
      stableRevision: 'old1',
    });
    expect(errors?.compare).toMatchObject({
      canaryService: 'canary',
      stableService: 'stable',
      canaryRevision: 'new1',
      stableRevision: 'old1',
    });
    for (const m of [rate, errors]) {
      const q = m?.provider.prometheus?.query ?? '';
      expect(q).toContain('destination_canonical_revision="new1"');
      expect(q).toContain('destination_canonical_revision="old1"');
      // The subset names are no Services: a matcher on them would find nothing.
      expect(q).not.toContain('destination_service_name="');
    }
  });

  it('without a stable revision the absolute gates measure the canary alone', () => {
    const [rate] = resolve({ successRate: { min: 99 } }, { canary: 'new1' });
    expect(rate?.absolute).not.toHaveProperty('stableService');
    expect(rate?.absolute).not.toHaveProperty('stableRevision');
    expect(rate?.absolute?.canaryRevision).toBe('new1');
    expect(rate?.provider.prometheus?.query).not.toContain('destination_canonical_revision="old1"');
  });

  it('compareToStable without a stable revision is an InvalidAnalysis saying so', () => {
    const run = () =>
      resolve({ compareToStable: { errors: { maxIncreasePercent: 25 } } }, { canary: 'new1' });
    expect(run).toThrow(InvalidAnalysis);
    expect(run).toThrow('compareToStable under subset routing needs a stable revision to compare with');
  });
});
