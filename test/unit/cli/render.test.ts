import { describe, expect, it } from 'vitest';
import { colorWanted } from '../../../cli/io.ts';
import type { AnalysisRun } from '../../../cli/model.ts';
import { age, describeStep, humanDuration, stepProgress } from '../../../cli/render/format.ts';
import { COLOURS, PLAIN, stripColours } from '../../../cli/render/paint.ts';
import { renderStatus } from '../../../cli/render/status.ts';
import {
  ANALYSIS_RUNS_TABLE,
  ROLLOUTS_TABLE,
  renderList,
  renderObjects,
  renderTable,
  withNamespace,
} from '../../../cli/render/table.ts';
import { renderTree } from '../../../cli/render/tree.ts';
import { ago, NOW, pausedCanary, statusView } from './fixtures.ts';

describe('humanDuration', () => {
  it.each([
    [0, '0s'],
    [59_000, '59s'],
    [119_000, '119s'],
    [180_000, '3m'],
    [192_000, '3m12s'],
    [45 * 60_000, '45m'],
    [(4 * 60 + 5) * 60_000, '4h5m'],
    [30 * 3_600_000, '30h'],
    [(3 * 24 + 4) * 3_600_000, '3d4h'],
    [40 * 86_400_000, '40d'],
    [800 * 86_400_000, '2y'],
    [-5_000, '0s'],
  ])('%d ms is %s, as kubectl prints it', (ms, text) => {
    expect(humanDuration(ms)).toBe(text);
  });

  it('says <unknown> for a missing or broken timestamp', () => {
    expect(age(undefined, NOW)).toBe('<unknown>');
    expect(age('yesterday', NOW)).toBe('<unknown>');
  });
});

describe('steps', () => {
  it('counts from 1 and shows a finished canary as n/n', () => {
    expect(stepProgress(pausedCanary())).toBe('4/5');
    expect(stepProgress(pausedCanary({ currentStepIndex: 5 }))).toBe('5/5');
    expect(stepProgress(pausedCanary({ currentStepIndex: undefined }))).toBe('-/5');
  });

  it('describes each kind of step', () => {
    expect(describeStep({ setWeight: 20 })).toBe('set weight 20%');
    expect(describeStep({ pause: { duration: '1m' } })).toBe('pause 1m');
    expect(describeStep({ pause: {} })).toBe('pause until promoted');
    expect(
      describeStep({
        analysis: {
          successRate: { min: 99 },
          latencyP99: { maxMs: 500 },
          templates: [{ templateName: 'eb' }],
        },
      }),
    ).toBe('analysis: success rate ≥ 99%, p99 ≤ 500ms, eb');
  });
});

describe('renderTable / renderList', () => {
  it('pads columns and never leaves trailing spaces', () => {
    expect(renderTable(['A', 'LONGER'], [['xxxx', 'y']])).toBe('A      LONGER\nxxxx   y');
  });

  it('lists Rollouts with the columns kubectl users expect', () => {
    const blueGreen = pausedCanary({ canary: undefined, currentStepIndex: undefined, phase: 'Healthy' });
    blueGreen.metadata = { ...blueGreen.metadata, name: 'web', namespace: 'front' };
    blueGreen.spec.strategy = { blueGreen: { activeService: 'web' } };
    const fresh = pausedCanary();
    fresh.metadata = { ...fresh.metadata, name: 'new' };
    fresh.status = undefined;
    expect(renderList([pausedCanary(), blueGreen, fresh], NOW, false).split('\n')).toEqual([
      'NAME       PHASE     STRATEGY    WEIGHT   STEP   CURRENT   STABLE   AGE',
      'checkout   Paused    Canary      50       4/5    abc123    def456   3d',
      'web        Healthy   BlueGreen   -        -      abc123    def456   3d',
      'new        -         Canary      -        -/5    -         -        3d',
    ]);
  });

  it('leads with NAMESPACE for -A and marks an aborted release', () => {
    const aborted = pausedCanary({ abort: true, phase: 'Paused' });
    const [header, row] = renderList([aborted], NOW, true).split('\n');
    expect(header).toMatch(/^NAMESPACE {3}NAME/);
    expect(row).toMatch(/^shop {8}checkout {3}Paused \(aborted\)/);
  });
});

describe('list analysisruns', () => {
  const metric = (name: string, phase: string, counts: Partial<Record<string, number | boolean>> = {}) => ({
    name,
    phase,
    count: 0,
    successful: 0,
    failed: 0,
    inconclusive: 0,
    error: 0,
    consecutiveError: 0,
    measurements: [],
    ...counts,
  });
  const run = (name: string, spec: object, status?: object) =>
    ({
      apiVersion: 'sluice.dev/v1alpha1',
      kind: 'AnalysisRun',
      metadata: { name, namespace: 'shop', creationTimestamp: ago(90) },
      spec: { rollout: 'checkout', revision: 'abc123', metrics: [{ name: 'successRate' }], ...spec },
      ...(status ? { status } : {}),
    }) as unknown as AnalysisRun;

  it('shows the Rollout, the gate, the phase and each metric with its looks so far', () => {
    const runs = [
      run(
        'checkout-abc123-bg',
        { gate: 'background' },
        {
          phase: 'Running',
          metricResults: [
            metric('successRate', 'Running', { successful: 4 }),
            metric('errorBudget', 'Failed', { successful: 1, failed: 2, inconclusive: 1, error: 1 }),
          ],
        },
      ),
      run('checkout-abc123-step5', { gate: 'step', stepIndex: 4 }),
      run(
        'checkout-abc123-pre',
        { gate: 'prePromotion' },
        {
          phase: 'Successful',
          metricResults: [metric('p99', 'Successful', { successful: 3, dryRun: true })],
        },
      ),
    ];
    expect(renderObjects(ANALYSIS_RUNS_TABLE, runs, NOW).split('\n')).toEqual([
      'NAME                    ROLLOUT    GATE           PHASE        METRICS                                                        AGE',
      'checkout-abc123-bg      checkout   background     Running      successRate: Running (✔4), errorBudget: Failed (✔1 ✖2 ?1 ⚠1)   90s',
      'checkout-abc123-step5   checkout   step 5         -            successRate: Pending                                           90s',
      'checkout-abc123-pre     checkout   prePromotion   Successful   p99: Successful dry-run (✔3)                                   90s',
    ]);
    expect(renderObjects(withNamespace(ANALYSIS_RUNS_TABLE, true), runs.slice(0, 1), NOW)).toMatch(
      /^NAMESPACE {3}NAME[^\n]*\nshop {8}checkout-abc123-bg/,
    );
  });
});

describe('colours', () => {
  it('are wanted at a terminal only, and not with --no-color or NO_COLOR', () => {
    expect(colorWanted(true, false, {})).toBe(true);
    expect(colorWanted(false, false, {})).toBe(false);
    expect(colorWanted(true, true, {})).toBe(false);
    expect(colorWanted(true, false, { NO_COLOR: '1' })).toBe(false);
    expect(colorWanted(true, false, { NO_COLOR: '' })).toBe(true);
  });

  it('paint phases, verdicts and pod marks, and keep the columns where they were', () => {
    const green = (t: string) => `\x1b[32m${t}\x1b[39m`;
    const tree = renderStatus(statusView(), NOW, COLOURS);
    expect(tree).toContain(`Phase: ${'\x1b[33mPaused\x1b[39m'} — waiting for promotion at step 4`);
    expect(tree).toContain(`${green('✔')} pod checkout-3-`);
    expect(tree).toContain(`def456 ${green('Promoted')}`);
    expect(stripColours(tree)).toBe(renderStatus(statusView(), NOW));

    const rows = [pausedCanary(), pausedCanary({ phase: 'Healthy' })];
    const coloured = renderObjects(ROLLOUTS_TABLE, rows, NOW, COLOURS);
    expect(coloured).toContain(green('Healthy'));
    expect(stripColours(coloured)).toBe(renderObjects(ROLLOUTS_TABLE, rows, NOW));
    expect(renderObjects(ROLLOUTS_TABLE, rows, NOW, PLAIN)).not.toContain('\x1b');
  });
});

describe('renderTree', () => {
  it('draws guides that show nesting', () => {
    const text = renderTree({
      label: 'root',
      children: [
        { label: 'a', children: [{ label: 'a1' }, { label: 'a2' }] },
        { label: 'b', children: [{ label: 'b1' }] },
      ],
    });
    expect(text).toBe(['root', '├─ a', '│  ├─ a1', '│  └─ a2', '└─ b', '   └─ b1'].join('\n'));
  });
});

describe('renderStatus', () => {
  it('shows phase, step, weight, pause, analysis, revisions with pods, events and history', () => {
    expect(renderStatus(statusView(), NOW)).toBe(
      [
        'Rollout checkout (namespace shop)',
        '├─ Phase: Paused — waiting for promotion at step 4',
        '├─ Strategy: Canary',
        '│  ├─ Step: 4/5 pause until promoted',
        '│  └─ Canary weight: 50%',
        '├─ Paused: AwaitingPromotion, since 2m30s ago, until `kubectl sluice promote checkout`',
        '├─ Background analysis: checkout-abc123-bg Running — 4 measurements, all good',
        '├─ Revisions',
        '│  ├─ revision 3 (canary): ReplicaSet checkout-3, abc123, 1/2 ready, shop/checkout:1.1.0, age 5m',
        '│  │  ├─ ✔ pod checkout-3-a Running 1/1 ready',
        '│  │  └─ ✖ pod checkout-3-b Pending 0/1 not ready, 2 restarts',
        '│  └─ revision 2 (stable): ReplicaSet checkout-2, def456, 2/2 ready, shop/checkout:1.0.0, age 24h',
        '│     └─ ✔ pod checkout-2-a Running 1/1 ready',
        '├─ Events (last 2)',
        '│  ├─ 3m20s ago Normal WeightSet: canary weight set to 50%',
        '│  └─ 2m30s ago Normal Paused (×3): waiting for promotion',
        '└─ History (newest first)',
        '   ├─ def456 Promoted 24h ago',
        '   └─ aaa111 Promoted 2d ago',
      ].join('\n'),
    );
  });

  it('counts a timed pause down and names the step analysis', () => {
    const rollout = pausedCanary({
      currentStepIndex: 1,
      pause: { reason: 'Step', startTime: ago(20), resumeAt: new Date(NOW.getTime() + 40_000).toISOString() },
      analysis: { name: 'checkout-abc123-4', phase: 'Failed', message: 'success rate 91% < 99%' },
    });
    const text = renderStatus(statusView(rollout), NOW);
    expect(text).toContain('Step: 2/5 pause 1m');
    expect(text).toContain('Paused: Step, since 20s ago, 40s remaining');
    expect(text).toContain('Analysis: checkout-abc123-4 Failed — success rate 91% < 99%');
  });

  it('tells how to leave a manual pause and shows requests the controller has not taken up', () => {
    const rollout = pausedCanary({
      pause: { reason: 'Manual', startTime: ago(10) },
      signals: { promote: { requestedAt: ago(3), by: 'alice', full: true }, abort: { requestedAt: ago(1) } },
    });
    const text = renderStatus(statusView(rollout), NOW);
    expect(text).toContain('until `kubectl sluice resume checkout`');
    expect(text).toContain('Pending requests (not yet taken up by the controller)');
    expect(text).toContain('promote --full: requested 3s ago by alice');
    expect(text).toContain('abort: requested 1s ago');
  });

  it('says where a restart stands: requested, due, under way, done', () => {
    const requested = pausedCanary({
      phase: 'Healthy',
      signals: { restart: { requestedAt: ago(2), by: 'alice' } },
    });
    expect(renderStatus(statusView(requested), NOW)).toContain('restart: requested 2s ago by alice');
    const underWay = pausedCanary({ phase: 'Healthy', restartRequestedAt: ago(20) });
    expect(renderStatus(statusView(underWay), NOW)).toContain(
      `Restart: replacing the pods created before ${ago(20).replace('.000Z', 'Z')}, one at a time`,
    );
    const due = pausedCanary({ phase: 'Healthy' });
    due.spec.restartAt = new Date(NOW.getTime() + 300_000).toISOString();
    expect(renderStatus(statusView(due), NOW)).toContain('Restart: due in 5m (');
    const done = pausedCanary({ phase: 'Healthy', restartRequestedAt: ago(20), restartedAt: ago(20) });
    const text = renderStatus(statusView(done), NOW);
    expect(text).toContain(`Restarted: every pod created after ${ago(20)}`);
    expect(text).not.toContain('Restart:');
  });

  it('says a shared-incident hold ends by itself', () => {
    const rollout = pausedCanary({
      pause: {
        reason: 'SharedIncident',
        message: 'metric success-rate: shared incident',
        startTime: ago(30),
      },
    });
    const text = renderStatus(statusView(rollout), NOW);
    expect(text).toContain(
      'Paused: SharedIncident, since 30s ago, until the shared incident ends (resumes by itself) — metric success-rate: shared incident',
    );
  });

  it('copes with a Rollout the controller has not seen: no status, no revisions, no events', () => {
    const rollout = pausedCanary();
    rollout.status = undefined;
    const text = renderStatus({ rollout, revisions: [], pods: [], events: [] }, NOW);
    expect(text).toContain('Phase: unknown (the controller has not reported on this Rollout yet)');
    expect(text).toContain('Revisions: none yet');
    expect(text).toContain('Events: none');
    expect(text).not.toContain('History');
  });

  it('labels blue-green revisions active and preview', () => {
    const rollout = pausedCanary({
      canary: undefined,
      currentStepIndex: undefined,
      blueGreen: { activeRevision: 'def456', previewRevision: 'abc123' },
    });
    rollout.spec.strategy = {
      blueGreen: { activeService: 'a', previewService: 'p', autoPromotionEnabled: false },
    };
    const text = renderStatus(statusView(rollout), NOW);
    expect(text).toContain('Strategy: BlueGreen');
    expect(text).toContain('Auto-promotion: off (promote by hand)');
    expect(text).toContain('revision 3 (preview)');
    expect(text).toContain('revision 2 (active)');
  });
});
