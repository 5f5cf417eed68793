import { describe, expect, it } from 'vitest';
import { templateKey } from '../../../analysis/resolve.ts';
import { analysisProblem, analysisRunFor, measuredService } from '../../../controller/analysis-runs.ts';
import type { AnalysisTemplateSpec, Rollout } from '../../../crds/index.ts';

const rollout = (analysis: unknown, blueGreen = false): Rollout =>
  ({
    apiVersion: 'sluice.dev/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'web', namespace: 'shop', uid: 'u1' },
    spec: {
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'a', image: 'x' }] } },
      strategy: blueGreen
        ? {
            blueGreen: {
              activeService: 'web-active',
              previewService: 'web-preview',
              prePromotionAnalysis: analysis,
            },
          }
        : { canary: { stableService: 'web-stable', canaryService: 'web-canary', analysis, steps: [] } },
    },
  }) as unknown as Rollout;

describe('filling an AnalysisRun from a gate', () => {
  it('canary builtins measure the canary Service; blue-green pre-promotion the preview, post the active', () => {
    const run = analysisRunFor(rollout({ successRate: { min: 99 } }), {
      gate: 'background',
      name: 'r1',
      revision: 'abc',
    });
    expect(run.spec.metrics[0]?.provider.prometheus.query).toContain('destination_service_name="web-canary"');
    expect(run.spec.error).toBeUndefined();
    expect((run.metadata.ownerReferences as unknown[] | undefined)?.[0]).toMatchObject({
      kind: 'Rollout',
      name: 'web',
      uid: 'u1',
    });
    const bg = rollout({ successRate: { min: 99 } }, true);
    expect(measuredService(bg, 'prePromotion')).toBe('web-preview');
    expect(measuredService(bg, 'postPromotion')).toBe('web-active');
  });

  it('a missing template gives a run with no metrics and spec.error naming it', () => {
    const gates = { templates: [{ templateName: 'budget' }] };
    const run = analysisRunFor(
      rollout(gates),
      { gate: 'background', name: 'r1', revision: 'abc' },
      new Map(),
    );
    expect(run.spec.metrics).toEqual([]);
    expect(run.spec.error).toBe('cannot proceed: AnalysisTemplate shop/budget not found');
    const found = new Map<string, AnalysisTemplateSpec>([
      [
        templateKey({ templateName: 'budget' }),
        { metrics: [{ name: 'm', provider: { prometheus: { query: 'vector(1)' } } }] },
      ],
    ]);
    expect(
      analysisRunFor(rollout(gates), { gate: 'background', name: 'r1', revision: 'abc' }, found).spec.metrics,
    ).toHaveLength(1);
  });

  it('a release held on an invalid run is a Stalled problem; one held on an unreachable Prometheus is not', () => {
    const run = (reason: string) => ({
      apiVersion: 'sluice.dev/v1alpha1' as const,
      kind: 'AnalysisRun' as const,
      metadata: { name: 'r1' },
      spec: { rollout: 'web', revision: 'a', gate: 'background' as const, metrics: [] },
      status: {
        phase: 'Error' as const,
        reason,
        message: 'cannot proceed: AnalysisTemplate shop/budget not found',
      },
    });
    const held = { pause: { reason: 'AnalysisError' }, backgroundAnalysis: { name: 'r1' } };
    expect(analysisProblem([run('InvalidAnalysis')], held)).toEqual({
      reason: 'InvalidAnalysis',
      message: 'analysis r1: cannot proceed: AnalysisTemplate shop/budget not found',
    });
    expect(analysisProblem([run('PrometheusUnreachable')], held)).toBeUndefined();
  });
});
