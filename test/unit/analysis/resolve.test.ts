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
  it('writes the builtins out as PromQL on the measured Service, with limits and CEL thresholds', () => {
    const metrics = resolveMetrics({
      gates: { interval: '5s', failureLimit: 1, successRate: { min: 99 }, latencyP99: { maxMs: 250.5 } },
      gate: 'step',
      namespace: 'shop',
      service: 'web-canary',
      templates: new Map(),
    });
    expect(
      metrics.map((m) => [
        m.name,
        m.builtin,
        m.count,
        m.failureLimit,
        m.successCondition,
        m.failureCondition,
      ]),
    ).toEqual([
      ['success-rate', 'successRate', 1, 1, 'result >= 99.0', 'result < 99.0'],
      ['latency-p99', 'latencyP99', 1, 1, 'result <= 250.5', 'result > 250.5'],
    ]);
    expect(metrics[0]?.provider.prometheus.query).toContain('destination_service_name="web-canary"');
    expect(metrics[0]?.provider.prometheus.query).toContain('[5s]');
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
    expect(m?.provider.prometheus.query).toBe('sum(rate(errors{service="web\\"}"}[1m])) > 0.05');
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
    expect(over?.provider.prometheus.query).toContain('> 0.5');
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
          provider: { prometheus: { ...metric.provider.prometheus, address: 'http://u:hunter2@prom:9090' } },
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
