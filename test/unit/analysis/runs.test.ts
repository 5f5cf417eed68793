import { describe, expect, it } from 'vitest';
import { templateKey } from '../../../analysis/resolve.ts';
import {
  analysisProblem,
  analysisRunFor,
  comparedService,
  measuredService,
} from '../../../controller/analysis/runs.ts';
import type { AnalysisRun, AnalysisTemplateSpec, Rollout } from '../../../crds/index.ts';

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
    expect(run.spec.metrics[0]?.provider.prometheus?.query).toContain(
      'destination_service_name="web-canary"',
    );
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

  it("blue-green pre-promotion gates compare the preview with the active Service, the users' current version", () => {
    const gates = { successRate: { min: 99 }, compareToStable: { errors: { maxIncreasePercent: 25 } } };
    const bg = rollout(gates, true);
    expect(comparedService(bg, 'prePromotion')).toBe('web-active');
    const run = analysisRunFor(bg, { gate: 'prePromotion', name: 'r1', revision: 'abc' });
    expect(run.spec.error).toBeUndefined();
    const [rate, errors] = run.spec.metrics;
    // The active Service is the shared-incident reference of the absolute gate and the stable
    // side of the comparison, in the recorded sides and in the query alike.
    expect(rate?.absolute).toMatchObject({ canaryService: 'web-preview', stableService: 'web-active' });
    expect(errors?.compare).toMatchObject({ canaryService: 'web-preview', stableService: 'web-active' });
    expect(errors?.provider.prometheus?.query).toContain('destination_service_name="web-active"');
    expect(errors?.provider.prometheus?.query).toContain('destination_service_name="web-preview"');
    // After the switch the active Service is what is measured: there is nothing to compare with.
    expect(comparedService(bg, 'postPromotion')).toBeUndefined();
  });

  it("carries its Rollout's controller-instance label, so only that instance's runner sees it", () => {
    const sharded = rollout({ successRate: { min: 99 } });
    sharded.metadata.labels = { 'sluice.dev/controller-instance': 'east' };
    const start = { gate: 'background' as const, name: 'r1', revision: 'abc' };
    expect(analysisRunFor(sharded, start).metadata.labels?.['sluice.dev/controller-instance']).toBe('east');
    expect(analysisRunFor(rollout({ successRate: { min: 99 } }), start).metadata.labels).not.toHaveProperty(
      'sluice.dev/controller-instance',
    );
  });

  it('a template metric outside the admin policy gives a run whose spec.error names field and flag', () => {
    const found = new Map([
      [
        templateKey({ templateName: 't' }),
        { metrics: [{ name: 'm', provider: { prometheus: { query: 'up', address: 'http://10.1.2.3' } } }] },
      ],
    ]) as Map<string, AnalysisTemplateSpec>;
    const run = analysisRunFor(
      rollout({ templates: [{ templateName: 't' }] }),
      { gate: 'background', name: 'r1', revision: 'abc' },
      found,
      [],
      { allowedPrefixes: [], maxTimeoutMs: 30_000 },
    );
    expect(run.spec.metrics).toEqual([]);
    expect(run.spec.error).toMatch(
      /cannot proceed: metric m \(template t\): provider\.prometheus\.address http:\/\/10\.1\.2\.3 is not allowed.*--prometheus-allowed-urls/,
    );
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

describe('an AnalysisRun for a subset-routed canary', () => {
  const gates = { successRate: { min: 99 }, compareToStable: { errors: { maxIncreasePercent: 25 } } };
  const subsetRouted = (stableRevision?: string): Rollout => {
    const r = rollout(gates);
    const canary = r.spec.strategy.canary as NonNullable<Rollout['spec']['strategy']['canary']>;
    // Subsets need no canaryService or stableService: both revisions sit behind one Service.
    delete canary.canaryService;
    delete canary.stableService;
    canary.trafficRouting = {
      istio: {
        virtualService: { name: 'web' },
        destinationRule: { name: 'web', canarySubsetName: 'web-new', stableSubsetName: 'web-old' },
      },
    } as never;
    if (stableRevision !== undefined) r.status = { stableRevision } as never;
    return r;
  };
  const start = { gate: 'background' as const, name: 'r1', revision: 'new1' };

  it('measures each side by its revision and names it by its subset', () => {
    const r = subsetRouted('old1');
    expect(measuredService(r, 'background')).toBe('web-new');
    expect(comparedService(r, 'background')).toBe('web-old');
    const run = analysisRunFor(r, start);
    expect(run.spec.error).toBeUndefined();
    const [rate, errors] = run.spec.metrics;
    expect(rate?.absolute).toMatchObject({
      canaryService: 'web-new',
      stableService: 'web-old',
      canaryRevision: 'new1',
      stableRevision: 'old1',
    });
    expect(errors?.compare).toMatchObject({ canaryRevision: 'new1', stableRevision: 'old1' });
    expect(errors?.provider.prometheus?.query).toContain('destination_canonical_revision="old1"');
  });

  it('a stable that is the revision under test is no stable: compareToStable says it has none', () => {
    const run = analysisRunFor(subsetRouted('new1'), start);
    expect(run.spec.metrics).toEqual([]);
    expect(run.spec.error).toBe(
      'cannot proceed: compareToStable under subset routing needs a stable revision to compare with',
    );
    const alone = analysisRunFor(
      (() => {
        const r = subsetRouted();
        (r.spec.strategy.canary as { analysis: unknown }).analysis = { successRate: { min: 99 } };
        return r;
      })(),
      start,
    );
    expect(alone.spec.metrics[0]?.absolute).toMatchObject({
      canaryService: 'web-new',
      canaryRevision: 'new1',
    });
    expect(alone.spec.metrics[0]?.absolute).not.toHaveProperty('stableRevision');
  });

  it('without a destinationRule nothing changes: Services, no revisions', () => {
    const run = analysisRunFor(rollout(gates), start);
    const [rate, errors] = run.spec.metrics;
    expect(rate?.absolute).toMatchObject({ canaryService: 'web-canary', stableService: 'web-stable' });
    expect(rate?.absolute).not.toHaveProperty('canaryRevision');
    expect(errors?.compare).not.toHaveProperty('stableRevision');
    expect(errors?.provider.prometheus?.query).not.toContain('destination_canonical_revision');
  });
});

describe('an AnalysisRun for a canary with a baseline', () => {
  const gates = { successRate: { min: 99 }, compareToStable: { errors: { maxIncreasePercent: 25 } } };
  const withBaseline = (): Rollout => {
    const r = rollout(gates);
    Object.assign(r.spec.strategy.canary as object, {
      baselineService: 'web-baseline',
      trafficRouting: { istio: { virtualService: { name: 'web' } } },
    });
    return r;
  };

  it('compareToStable compares the canary with the baseline; the shared-incident check keeps the stable', () => {
    const run = analysisRunFor(withBaseline(), { gate: 'background', name: 'r1', revision: 'new1' });
    expect(run.spec.error).toBeUndefined();
    const [rate, errors] = run.spec.metrics;
    expect(errors?.compare).toMatchObject({
      canaryService: 'web-canary',
      stableService: 'web-baseline',
      baseline: true,
    });
    expect(
      analysisRunFor(rollout(gates), { gate: 'background', name: 'r1', revision: 'new1' }).spec.metrics[1]
        ?.compare,
    ).not.toHaveProperty('baseline');
    expect(errors?.provider.prometheus?.query).toContain('destination_service_name="web-baseline"');
    expect(errors?.provider.prometheus?.query).not.toContain('web-stable');
    expect(rate?.absolute).toMatchObject({ canaryService: 'web-canary', stableService: 'web-stable' });
  });
});

describe('compareToStable evidence across a re-run of its gate', () => {
  const compare = { interval: '1m', compareToStable: { errors: { maxIncreasePoints: 0.5 } } };
  const run = (name: string, created: string, evidenceSince?: string): AnalysisRun =>
    ({
      metadata: { name, creationTimestamp: created },
      spec: {
        rollout: 'web',
        revision: 'abc',
        gate: 'background',
        metrics: [],
        ...(evidenceSince ? { evidenceSince } : {}),
      },
    }) as unknown as AnalysisRun;
  const start = (name: string) => ({ gate: 'background' as const, name, revision: 'abc' });

  it('a re-run (-r<n>) counts from the first run of the gate in this attempt', () => {
    const earlier = [
      run('web-abc-bg-a0', '2026-01-01T10:00:00Z'),
      run('web-abc-bg-a0-r1', '2026-01-01T10:12:00Z', '2026-01-01T10:00:00Z'),
      // Another attempt and another revision are other releases: their evidence is not ours.
      run('web-abc-bg-a1', '2026-01-01T09:00:00Z'),
      run('web-xyz-bg-a0', '2026-01-01T08:00:00Z'),
    ];
    const rerun = analysisRunFor(rollout(compare), start('web-abc-bg-a0-r2'), new Map(), earlier);
    expect(rerun.spec.evidenceSince).toBe('2026-01-01T10:00:00.000Z');
  });

  it("looks for a first verdict until the Rollout's progress deadline when the gate states no maxDuration", () => {
    const r = rollout(compare);
    r.spec.progressDeadlineSeconds = 900;
    const [errors] = analysisRunFor(r, start('web-abc-bg-a0')).spec.metrics;
    // 15 looks of 1m; the first is not counted against inconclusiveLimit.
    expect(errors?.inconclusiveLimit).toBe(14);
    expect(errors?.compare?.budget).toBe('the progress deadline, 900s');
  });

  it('a first run, a run without comparisons, or one whose predecessors are gone starts afresh', () => {
    const earlier = [run('web-abc-bg-a0', '2026-01-01T10:00:00Z')];
    expect(
      analysisRunFor(rollout(compare), start('web-abc-bg-a0'), new Map(), earlier).spec.evidenceSince,
    ).toBeUndefined();
    expect(
      analysisRunFor(rollout({ successRate: { min: 99 } }), start('web-abc-bg-a0-r1'), new Map(), earlier)
        .spec.evidenceSince,
    ).toBeUndefined();
    expect(
      analysisRunFor(rollout(compare), start('web-abc-bg-a0-r1'), new Map(), []).spec.evidenceSince,
    ).toBeUndefined();
  });
});
