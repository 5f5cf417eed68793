import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseInvocation, UsageError } from '../../../cli/args.ts';
import { lintFile } from '../../../cli/commands/lint.ts';
import { main } from '../../../cli/kubectl-sluice-main.ts';
import { type LintReport, lintFailed, renderLint } from '../../../cli/render/lint.ts';
import { renderStatus } from '../../../cli/render/status.ts';
import type { Detectability } from '../../../crds/index.ts';
import { NOW, statusView } from './fixtures.ts';

const blind: Detectability = {
  outcome: 'CannotSee',
  message:
    'cannot see the configured effect: it catches a rise of the error ratio of 410% or more with 90% power in 60s; the configured 50% (25% allowed) needs 2h10m',
  basis: "last hour: 1 requests/s, 2% errors on stable; the release's timed steps: 60s at 20% on average",
  configuredPercent: 50,
  detectablePercent: 410,
  secondsToDetectConfigured: 7800,
};

const ROLLOUT = `apiVersion: sluice.dev/v1alpha1
kind: Rollout
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: app, image: "shop/web:1"}]}
  strategy:
    canary:
      stableService: web-stable
      canaryService: web-canary
      trafficRouting: {istio: {virtualService: {name: web, routes: [primary]}}}
      analysis: {compareToStable: {errors: {maxIncreasePercent: 25}}}
      steps:
        - setWeight: 20
        - pause: {duration: 1m}
        - analysis: {compareToStable: {errors: {maxIncreasePercent: 50}, latencyP99: {maxIncreasePercent: 20}}}
        - analysis: {compareToStable: {latencyDistribution: {maxShiftPoints: 5}}}
`;

function file(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'sluice-lint-')), 'rollout.yaml');
  writeFileSync(path, text);
  return path;
}

describe('kubectl sluice lint', () => {
  it('takes the file with -f and a Prometheus URL, and nothing else', () => {
    expect(parseInvocation(['lint', '-f', 'r.yaml', '--prometheus', 'http://prom:9090'])).toEqual({
      command: 'lint',
      kube: {},
      file: 'r.yaml',
      prometheus: 'http://prom:9090',
    });
    expect(() => parseInvocation(['lint'])).toThrow(UsageError);
    expect(() => parseInvocation(['lint', 'r.yaml'])).toThrow(/give the file with -f/);
    expect(() => parseInvocation(['lint', '-f', 'r.yaml', '--prometheus', 'prom:9090'])).toThrow(/http/);
    expect(() => parseInvocation(['status', 'x', '-f', 'r.yaml'])).toThrow(/not a flag of "status"/);
  });

  it('finds every compareToStable gate with an errors or latencyP99 check; without a Prometheus says how to see more', async () => {
    const report = await lintFile(file(ROLLOUT), undefined, 'default');
    expect(report.documents).toHaveLength(1);
    const note = 'give --prometheus URL to see what it can see';
    // Step 4 compares only the latency distribution, which is not worked out ahead.
    expect(report.documents[0]).toEqual({
      index: 0,
      kind: 'Rollout',
      name: 'shop/web',
      gates: [
        { gate: 'background analysis', checks: ['errors'], note },
        { gate: 'step 3 analysis', checks: ['errors', 'latencyP99'], note },
      ],
    });
    expect(renderLint({ file: 'r.yaml', documents: report.documents })).toContain(
      `  step 3 analysis (compareToStable errors, latencyP99): ${note}`,
    );
    expect(lintFailed(report)).toBe(false);
  });

  it('under subset routing says the gates read each revision once it runs, and asks Prometheus nothing', async () => {
    const subsets = ROLLOUT.replace(
      '      stableService: web-stable\n      canaryService: web-canary\n',
      '',
    ).replace(
      '{virtualService: {name: web, routes: [primary]}}',
      '{virtualService: {name: web}, destinationRule: {name: web, stableSubsetName: stable, canarySubsetName: canary}}',
    );
    // Port 9 (discard) answers nothing: a query would make the report a failure.
    const report = await lintFile(file(subsets), 'http://127.0.0.1:9', 'default');
    expect(report.failed).toBeUndefined();
    expect(report.documents[0]?.refused).toBeUndefined();
    const gate = report.documents[0]?.gates[0];
    expect(gate?.gate).toBe('background analysis');
    expect(JSON.stringify(gate)).toMatch(/subset routing: the gates read each revision once it runs/);
  });

  it("a gate reading Envoy Gateway's clusters is said to be read once the Rollout runs; Istio's gates still ask", async () => {
    const envoy = ROLLOUT.replace(
      '{istio: {virtualService: {name: web, routes: [primary]}}}',
      '{gatewayAPI: {httpRoutes: [{name: web}]}}',
    ).replace(
      'analysis: {compareToStable: {errors: {maxIncreasePercent: 50}, latencyP99',
      'analysis: {builtinMetrics: envoyGateway, compareToStable: {errors: {maxIncreasePercent: 50}, latencyP99',
    );
    // Port 9 (discard) answers nothing: the Istio gate's query fails, the Envoy one asks nothing.
    const report = await lintFile(file(envoy), 'http://127.0.0.1:9', 'default');
    expect(report.documents[0]?.refused).toBeUndefined();
    const [background, step] = report.documents[0]?.gates ?? [];
    expect(JSON.stringify(background)).not.toMatch(/envoyGateway/);
    expect(JSON.stringify(step)).toMatch(
      /builtinMetrics envoyGateway: the gates read the HTTPRoutes' Envoy clusters/,
    );
  });

  it('says what the schema would refuse, field by field, and exits 1', async () => {
    const bad = ROLLOUT.replace('maxIncreasePercent: 25', 'maxIncreasePercent: -5').replace(
      'setWeight: 20',
      'setWeight: 120',
    );
    const out: string[] = [];
    const code = await main(
      ['lint', '-f', file(`${bad}---\nkind: Service\napiVersion: v1\nmetadata: {name: x}\n`)],
      {
        out: (t) => out.push(t),
        err: (t) => out.push(t),
        now: () => NOW,
        isTTY: false,
      },
    );
    expect(code).toBe(1);
    expect(out.join('\n')).toMatch(
      /^Rollout shop\/web \(.*rollout\.yaml, document 1\): the API server would refuse it: /,
    );
    expect(out.join('\n')).toContain(
      'spec.strategy.canary.analysis.compareToStable.errors.maxIncreasePercent',
    );
    expect(out.join('\n')).toContain('spec.strategy.canary.steps[0].setWeight');
  });

  it("checks the CRD's CEL rules offline, and names keys the API server would drop silently", async () => {
    const bad = ROLLOUT.replace(
      'selector: {matchLabels: {app: web}}',
      'selector: {matchLabels: {app: shop}}',
    ).replace('  strategy:', '  revisionHistoryLimt: 3\n  strategy:');
    const report = await lintFile(file(bad), undefined, 'default');
    const refused = report.documents[0]?.refused ?? '';
    expect(refused).toContain('spec.selector: selector.matchLabels must match template.metadata.labels');
    expect(refused).toContain("spec.revisionHistoryLimt: Sluice's Rollout has no such field");
    expect(lintFailed(report)).toBe(true);
    expect((await lintFile(file(ROLLOUT), undefined, 'default')).documents[0]?.refused).toBeUndefined();
  });

  it("checks windows against the Prometheus' scrape interval, as a run would widen them, with the file's templates", async () => {
    const text = `apiVersion: sluice.dev/v1alpha1
kind: AnalysisTemplate
metadata: {name: queue, namespace: shop}
spec:
  metrics:
    - name: queue-depth
      successCondition: result[0] < 10
      provider: {prometheus: {query: 'sum(rate(queue_depth[10s]))'}}
---
${ROLLOUT.slice(0, ROLLOUT.indexOf('      analysis:'))}      analysis: {interval: 5s, successRate: {min: 99}}
      steps:
        - setWeight: 20
        - analysis: {interval: 1m, templates: [{templateName: queue}, {templateName: elsewhere}]}
        - analysis: {interval: 1m, successRate: {min: 99}}
`;
    const asked: string[] = [];
    const every = (ms: number | undefined) => ({
      get: async (address: string) => {
        asked.push(address);
        return ms;
      },
    });
    const report = await lintFile(file(text), 'http://127.0.0.1:9', 'default', {
      scrapeIntervals: every(15_000),
    });
    expect(asked).toEqual(['http://127.0.0.1:9']);
    const why = 'Prometheus scrapes every 15s and a rate needs 2 scrapes in its window';
    // The template not in the file is left to the run; the 1m step's own window holds two scrapes.
    expect(report.documents[1]?.windows).toEqual([
      {
        gate: 'background analysis',
        note: `successRate: rate window widened from 5s (the gate's interval 5s) to 30s: ${why}`,
      },
      {
        gate: 'step 2 analysis',
        note: `metric queue-depth (template queue): query range [10s] widened to [30s]: ${why}`,
      },
    ]);
    expect(renderLint(report)).toContain(
      `  background analysis: successRate: rate window widened from 5s (the gate's interval 5s) to 30s: ${why}`,
    );
    // A widened window is said, not failed: the run widens it and goes on.
    expect(lintFailed(report)).toBe(false);
    const unknown = await lintFile(file(text), 'http://127.0.0.1:9', 'default', {
      scrapeIntervals: every(undefined),
    });
    expect(unknown.documents[1]?.windows).toBeUndefined();
    expect(renderLint(unknown)).toContain(
      'windows not checked against the scrape interval: Prometheus at http://127.0.0.1:9 did not say its scrape interval',
    );
    // Without --prometheus there is no scrape interval to ask for.
    await lintFile(file(text), undefined, 'default', { scrapeIntervals: every(15_000) });
    expect(asked).toHaveLength(2);
  });

  it('a missing file is one line and exit 1', async () => {
    const err: string[] = [];
    const code = await main(['lint', '-f', '/nonexistent/rollout.yaml'], {
      out: () => {},
      err: (t) => err.push(t),
      now: () => NOW,
      isTTY: false,
    });
    expect(code).toBe(1);
    expect(err).toEqual(['error: cannot read /nonexistent/rollout.yaml: ENOENT']);
  });

  it('renders what each gate can see, with its basis; a blind gate or no answer fails', () => {
    const report: LintReport = {
      file: 'rollout.yaml',
      documents: [
        {
          index: 0,
          kind: 'Rollout',
          name: 'shop/web',
          gates: [{ gate: 'background analysis', checks: ['errors'], detectability: blind }],
        },
      ],
    };
    expect(renderLint(report)).toBe(
      [
        'Rollout shop/web (rollout.yaml, document 1): the schema accepts it',
        `  background analysis (compareToStable errors): ${blind.message}`,
        `    assuming ${blind.basis}`,
      ].join('\n'),
    );
    expect(lintFailed(report)).toBe(true);
    const seeing = { ...blind, outcome: 'CanSee' as const };
    const ok = {
      ...report,
      documents: [
        { ...report.documents[0]!, gates: [{ gate: 'g', checks: ['errors'], detectability: seeing }] },
      ],
    };
    expect(lintFailed(ok)).toBe(false);
    expect(lintFailed({ ...ok, failed: 'Prometheus at http://p cannot be reached' })).toBe(true);
    expect(renderLint({ file: 'x.yaml', documents: [] })).toBe(
      'x.yaml: no Sluice objects (Rollout, AnalysisTemplate) found',
    );
  });
});

describe('kubectl sluice get rollout', () => {
  it('shows what the background gate can see under its run', () => {
    const view = statusView();
    const name = view.rollout.status?.backgroundAnalysis?.name ?? '';
    const text = renderStatus({ ...view, detectability: { [name]: blind } }, NOW);
    expect(text).toContain(
      [
        `├─ Background analysis: ${name} Running — 4 measurements, all good`,
        `│  ├─ What it can see: ${blind.message}`,
        `│  └─ Assuming ${blind.basis}`,
      ].join('\n'),
    );
  });
});
