import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { type ControllerProcess, startController } from '../harness/controller.ts';
import { sandbox } from '../harness/env.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { promQuery, type Sample } from '../harness/prometheus.ts';
import { setLoad, setProfile } from '../harness/traffic.ts';
import { waitFor } from '../harness/wait.ts';
import { hostOf } from '../support/analysis.ts';
import { apply, canaryApp, setImage, waitForRollout } from '../support/apps.ts';
import { ROOT } from '../support/fixtures.ts';

// deploy/monitoring/, held against the sandbox's real Prometheus (which scrapes job
// sluice-controller at SLUICE_CONTROLLER_METRICS_ADDR every second) while a real release runs.

const PACK = join(ROOT, 'deploy/monitoring');
const JOB = 'sluice-controller';
const PROMTOOL = '/usr/bin/promtool';

interface Target {
  expr: string;
  legendFormat?: string;
  instant?: boolean;
  refId: string;
}
interface Panel {
  type: string;
  title: string;
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: string | { query: string } }[] };
}
interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
interface RuleGroup {
  name: string;
  rules: Rule[];
}

const dashboard = () => JSON.parse(readFileSync(join(PACK, 'grafana-dashboard.json'), 'utf8')) as Dashboard;
const yamlOf = (file: string) => parse(readFileSync(join(PACK, file), 'utf8'));
const ruleGroups = () => yamlOf('prometheusrule.yaml').spec.groups as RuleGroup[];
const rules = () => ruleGroups().flatMap((g) => g.rules);

/** Every panel that queries, rows' children included (a collapsed row holds its own). */
function queryPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [...(p.type === 'row' ? [] : [p]), ...queryPanels(p.panels ?? [])]);
}

describe('the observability pack', () => {
  it('fills every dashboard panel and fires the rollback alert during a canary rolled back by analysis', async () => {
    const ns = await freshNamespace('obs');
    const image = (v: number) => `shop/${ns}:${v}`;
    await apply(
      canaryApp(ns, {
        image: image(1),
        steps: [
          { setWeight: 50 },
          { pause: { duration: '10s' } },
          { setWeight: 80 },
          { pause: { duration: '4s' } },
        ] as never,
        canary: {
          analysis: { interval: '3s', initialDelay: '4s', successRate: { min: 95 } } as never,
        },
      }),
    );
    await setLoad(hostOf('web', ns), 60);
    const controller = await controllerOnScrapedAddress(ns);
    expect(await controller.metricsPort()).toBe(Number(metricsAddress().split(':')[1]));
    await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision to be stable');

    const releaseStart = Date.now() / 1000;
    // 30% errors: far enough below the 95% gate for ~90 canary requests a window to tell.
    await setProfile(image(2), { errorRate: 0.3 });
    await setImage(ns, image(2));
    await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Degraded' && r.status.abort === true,
      'the failing canary to be rolled back',
      { timeout: 90_000 },
    );
    const rollout = `namespace="${ns}", name="web"`;
    // Three scrapes since the rollback, so the range queries' last step (a second apart) sees it.
    await waitFor(
      async () =>
        (await promQuery(`sluice_rollout_phase{${rollout}, phase="Degraded"} == 1`)).length > 0 &&
        (await promQuery(`count_over_time(sluice_rollbacks_total{${rollout}, job="${JOB}"}[1m]) >= 3`))
          .length > 0,
      { description: 'Prometheus to scrape the rollback from the controller', timeout: 30_000 },
    );
    const end = Date.now() / 1000;

    const vars = { job: JOB, namespace: ns, rollout: 'web', __rate_interval: '1m', __interval: '1m' };
    const seen = new Map<string, number>();
    for (const panel of queryPanels(dashboard().panels)) {
      expect(panel.targets?.length, `panel "${panel.title}" has no query`).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) {
        const expr = substitute(target.expr, vars);
        // As Grafana asks: a range over the release for graphs, the present for instant targets.
        const series = target.instant
          ? await promQuery(expr)
          : await promRange(expr, releaseStart - 30, end, 1);
        seen.set(`${panel.title} ${target.refId}`, series.length);
        expect(
          series.length,
          `panel "${panel.title}" ${target.refId} returned no data: ${expr}`,
        ).toBeGreaterThan(0);
        // A legend naming a label the query does not keep would print blanks: every series has it.
        for (const label of legendLabels(target.legendFormat)) {
          for (const s of series)
            expect(s.metric, `"${panel.title}" legend {{${label}}}`).toHaveProperty(label);
        }
      }
    }
    expect(seen.size).toBeGreaterThanOrEqual(20);

    // The template variables offer what this test substituted for them.
    const expected: Record<string, string> = { job: JOB, namespace: ns, rollout: 'web' };
    for (const v of dashboard().templating.list.filter((x) => x.type === 'query')) {
      const query = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
      const m = /^label_values\((.+),\s*(\w+)\)$/s.exec(query);
      expect(m, `variable ${v.name}: ${query}`).not.toBeNull();
      const [, selector = '', label = ''] = m ?? [];
      const values = await seriesLabelValues(substitute(selector, vars), label, releaseStart, end);
      expect(values, `variable ${v.name}`).toContain(expected[v.name]);
    }

    // Every name the pack reads is one the controller exports (a counter with no series yet,
    // sluice_reconcile_errors_total here, is still declared by a TYPE line).
    const exported = declaredMetrics(await (await fetch(`http://${metricsAddress()}/metrics`)).text());
    const used = [...dashboardExprs(), ...rules().map((r) => r.expr)].flatMap((e) => metricNames(e));
    expect(used.length).toBeGreaterThan(20);
    for (const name of new Set(used)) expect(exported, `metric ${name}`).toContain(name);
    expect(controller.proc.exitCode).toBeNull();

    // Prometheus accepts every alert's expression; those that must not fire may return nothing.
    for (const rule of rules()) await promQuery(rule.expr);
    const rolledBack = rules().find((r) => r.alert === 'SluiceRolloutRolledBack');
    expect(await promQuery(rolledBack?.expr ?? '')).toContainEqual(
      expect.objectContaining({ metric: { namespace: ns, name: 'web', reason: 'AnalysisFailed' } }),
    );
    expect(await promQuery(`up{job="${JOB}", instance="${metricsAddress()}"}`)).toEqual([
      expect.objectContaining({ value: 1 }),
    ]);
  }, 900_000);

  it('has rules promtool accepts, and alerts that fire when they should and only then', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-rules-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    // promtool reads Prometheus rule files: the PrometheusRule's spec.groups is one.
    writeFileSync(join(dir, 'rules.yaml'), stringify({ groups: ruleGroups() }));
    const checked = execFileSync(PROMTOOL, ['check', 'rules', join(dir, 'rules.yaml')], { encoding: 'utf8' });
    expect(checked).toContain(`SUCCESS: ${rules().length} rules found`);

    writeFileSync(join(dir, 'tests.yaml'), stringify(alertTests()));
    const tested = run(PROMTOOL, ['test', 'rules', join(dir, 'tests.yaml')]);
    expect(tested.code, tested.out).toBe(0);
    expect(tested.out).toContain('SUCCESS');
  });

  it('installs as its own kustomization; the Service is accepted by the API server', () => {
    const env = sandbox();
    const kubectl = (...args: string[]) =>
      execFileSync(env.KUBECTL, args, {
        env: { ...process.env, KUBECONFIG: env.KUBECONFIG },
        encoding: 'utf8',
      });
    const built = parseAllDocuments(kubectl('kustomize', PACK)).map((d) => d.toJS());
    expect(built.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'PrometheusRule/sluice',
      'Service/sluice-controller-metrics',
      'ServiceMonitor/sluice-controller',
    ]);
    for (const o of built) expect(o.metadata.namespace).toBe('sluice-system');
    // Not in deploy/'s kustomization: a cluster without the operator's CRDs would refuse it all.
    expect(readFileSync(join(ROOT, 'deploy/kustomization.yaml'), 'utf8')).not.toContain('monitoring');

    // The namespace exists once any controller test ran; apply it here so this test stands alone.
    kubectl('apply', '--server-side', '-f', join(ROOT, 'deploy/namespace.yaml'));
    const accepted = JSON.parse(
      kubectl(
        'apply',
        '--dry-run=server',
        '-n',
        'sluice-system',
        '-f',
        join(PACK, 'service.yaml'),
        '-o',
        'json',
      ),
    );
    expect(accepted.metadata.namespace).toBe('sluice-system');
    expect(accepted.spec.ports).toEqual([expect.objectContaining({ name: 'metrics', port: 8090 })]);

    // The Service selects the controller's pods and reaches the port the container names.
    const deployment = parse(readFileSync(join(ROOT, 'deploy/deployment.yaml'), 'utf8'));
    const service = yamlOf('service.yaml');
    const podLabels = deployment.spec.template.metadata.labels as Record<string, string>;
    expect(podLabels).toMatchObject(service.spec.selector);
    const containerPorts = deployment.spec.template.spec.containers.flatMap(
      (c: { ports?: { name: string; containerPort: number }[] }) => c.ports ?? [],
    );
    expect(containerPorts).toContainEqual({ name: service.spec.ports[0].targetPort, containerPort: 8090 });

    // The sandbox has no Prometheus Operator, so its CRDs are missing and the API server would
    // refuse ServiceMonitor and PrometheusRule outright: their shape is checked here instead.
    const monitor = yamlOf('servicemonitor.yaml');
    expect(monitor.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(monitor.kind).toBe('ServiceMonitor');
    expect(service.metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
    const [endpoint, ...more] = monitor.spec.endpoints;
    expect(more).toEqual([]);
    expect(endpoint.port).toBe(service.spec.ports[0].name);
    // Without it the operator's namespace label would overwrite each Rollout's.
    expect(endpoint.honorLabels).toBe(true);
    expect(endpoint.relabelings).toContainEqual(
      expect.objectContaining({ targetLabel: 'job', replacement: JOB }),
    );

    expect(dashboard().schemaVersion).toBe(39);

    const rule = yamlOf('prometheusrule.yaml');
    expect(rule.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(rule.kind).toBe('PrometheusRule');
    expect(rules().map((r) => r.alert)).toEqual([
      'SluiceRolloutRolledBack',
      'SluiceRolloutProgressingTooLong',
      'SluiceRolloutPausedTooLong',
      'SluiceRolloutDegraded',
      'SluiceAnalysisErrors',
      'SluiceControllerDown',
      'SluiceControllerNotReconciling',
      'SluiceReconcileErrors',
    ]);
    for (const r of rules()) {
      expect(['critical', 'warning', 'info'], r.alert).toContain(r.labels.severity);
      expect(r.expr, r.alert).toContain(`job="${JOB}"`);
      // An alert about one Rollout names it in both texts.
      const perRollout = /by \(namespace, name\b/.test(r.expr);
      for (const key of ['summary', 'description']) {
        expect(r.annotations[key], `${r.alert} ${key}`).toBeTruthy();
        if (perRollout)
          expect(r.annotations[key]).toMatch(/\{\{ \$labels\.namespace \}\}\/\{\{ \$labels\.name \}\}/);
      }
    }
    expect(rules().filter((r) => /by \(namespace, name\b/.test(r.expr)).length).toBe(6);
  });
});

/**
 * Starts the controller under test on the address the sandbox's Prometheus scrapes. Only one
 * process can hold it: another run's controller (the demo's) may, so wait for it to be free,
 * and start again if another took it between the look and the bind.
 */
async function controllerOnScrapedAddress(ns: string): Promise<ControllerProcess> {
  const [host = '', port = ''] = metricsAddress().split(':');
  return waitFor(
    async () => {
      if (!(await portFree(host, Number(port)))) return undefined;
      const c = await startController(ns, {
        args: ['--prometheus-url', sandbox().PROMETHEUS_URL, '--metrics-addr', metricsAddress()],
      });
      const exited = new Promise<undefined>((resolve) => c.proc.once('exit', () => resolve(undefined)));
      try {
        // It exits when another process bound the port first; then it is the next look's turn.
        return (await Promise.race([c.metricsPort(), exited])) === undefined ? undefined : c;
      } catch (err) {
        // Slow to start: stopped, or it could take the port later from under the next attempt.
        await c.kill('SIGKILL');
        throw err;
      }
    },
    {
      description: `${metricsAddress()} to be free for the controller under test`,
      timeout: 600_000,
      interval: 1000,
    },
  );
}

const metricsAddress = () => sandbox().SLUICE_CONTROLLER_METRICS_ADDR;

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** Grafana's variables, `$name`, `${name}` and `${name:format}` alike; an unknown one throws. */
function substitute(expr: string, vars: Record<string, string>): string {
  const out = expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (_, braced?: string, bare?: string) => {
    const name = braced ?? bare ?? '';
    const value = vars[name];
    if (value === undefined) throw new Error(`unknown variable $${name} in ${expr}`);
    return value;
  });
  return out;
}

const legendLabels = (legend = '') => [...legend.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1] ?? '');

function dashboardExprs(): string[] {
  return queryPanels(dashboard().panels).flatMap((p) => (p.targets ?? []).map((t) => t.expr));
}

/** Sluice's, client-go's and prom-client's names in an expression. */
const metricNames = (expr: string) => expr.match(/\b(?:sluice|workqueue|process|nodejs)_\w+/g) ?? [];

/** The names a /metrics page declares, with a histogram's _bucket, _sum and _count. */
function declaredMetrics(text: string): string[] {
  return [...text.matchAll(/^# TYPE (\S+) (\w+)$/gm)].flatMap(([, name = '', type]) =>
    type === 'histogram' ? [name, `${name}_bucket`, `${name}_sum`, `${name}_count`] : [name],
  );
}

/** A PromQL range query; one Sample per series, carrying its last value. */
async function promRange(query: string, start: number, end: number, step: number): Promise<Sample[]> {
  const params = new URLSearchParams({ query, start: String(start), end: String(end), step: String(step) });
  const res = await fetch(`${sandbox().PROMETHEUS_URL}/api/v1/query_range?${params}`, {
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data?: { result: { metric: Record<string, string>; values: [number, string][] }[] };
  };
  if (body.status !== 'success' || !body.data)
    throw new Error(`Prometheus query failed: ${body.error ?? res.status} (${query})`);
  return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.values.at(-1)?.[1]) }));
}

/** What Grafana's label_values(selector, label) offers over the window: the series API's answer. */
async function seriesLabelValues(selector: string, label: string, start: number, end: number) {
  const params = new URLSearchParams({ 'match[]': selector, start: String(start), end: String(end) });
  const res = await fetch(`${sandbox().PROMETHEUS_URL}/api/v1/series?${params}`);
  const body = (await res.json()) as { status: string; error?: string; data?: Record<string, string>[] };
  if (body.status !== 'success') throw new Error(`series ${selector}: ${body.error}`);
  return [...new Set((body.data ?? []).map((s) => s[label]))];
}

function run(program: string, args: string[]): { code: number; out: string } {
  try {
    return { code: 0, out: execFileSync(program, args, { encoding: 'utf8', stdio: 'pipe' }) };
  } catch (err) {
    const e = err as { status?: number; stdout?: string; stderr?: string };
    return { code: e.status ?? -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/**
 * promtool unit tests of the alerts whose expressions carry a subtlety: a counter born at 1, a
 * replica that lost its Lease and still exports stale phases, a controller alive but idle. The
 * expected annotations are the rule's own templates rendered for the expected labels (promtool
 * compares them exactly), so a test names the Rollout it expects the alert to name.
 */
function alertTests() {
  const byName = new Map(rules().map((r) => [r.alert, r]));
  const fires = (alert: string, labels: Record<string, string>, value?: string) => {
    const rule = byName.get(alert);
    if (!rule) throw new Error(`no alert ${alert}`);
    const render = (text: string) =>
      text
        .replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, l: string) => labels[l] ?? '')
        .replace(/\{\{ \$value \}\}/g, value ?? '');
    return {
      exp_labels: { ...rule.labels, ...labels },
      exp_annotations: Object.fromEntries(Object.entries(rule.annotations).map(([k, v]) => [k, render(v)])),
    };
  };
  const s = (name: string, labels: Record<string, string>, values: string) => ({
    series: `${name}{${Object.entries({ job: JOB, ...labels })
      .map(([k, v]) => `${k}="${v}"`)
      .join(', ')}}`,
    values,
  });
  const checkout = { namespace: 'shop', name: 'checkout' };
  const cart = { namespace: 'shop', name: 'cart' };
  return {
    rule_files: ['rules.yaml'],
    evaluation_interval: '1m',
    tests: [
      {
        // The first rollback of a Rollout creates its series at 1: it fires, for 15 minutes.
        interval: '1m',
        input_series: [
          s('sluice_rollbacks_total', { instance: 'a', ...checkout, reason: 'AnalysisFailed' }, '_x20 1x40'),
          s('sluice_rollbacks_total', { instance: 'a', ...cart, reason: 'ProgressDeadline' }, '1x30 2x30'),
        ],
        alert_rule_test: [
          // cart's counter is older than the window and has not moved: nothing to say.
          { eval_time: '15m', alertname: 'SluiceRolloutRolledBack', exp_alerts: [] },
          {
            eval_time: '25m',
            alertname: 'SluiceRolloutRolledBack',
            exp_alerts: [fires('SluiceRolloutRolledBack', { ...checkout, reason: 'AnalysisFailed' })],
          },
          {
            eval_time: '40m',
            alertname: 'SluiceRolloutRolledBack',
            exp_alerts: [fires('SluiceRolloutRolledBack', { ...cart, reason: 'ProgressDeadline' })],
          },
          { eval_time: '55m', alertname: 'SluiceRolloutRolledBack', exp_alerts: [] },
        ],
      },
      {
        // Replica b lost its Lease with checkout Degraded; a, the leader, has it Healthy again.
        interval: '1m',
        input_series: [
          s('sluice_reconcile_duration_seconds_count', { instance: 'a', changed: 'false' }, '0+5x60'),
          s('sluice_reconcile_duration_seconds_count', { instance: 'b', changed: 'false' }, '40x60'),
          s('sluice_rollout_phase', { instance: 'b', ...checkout, phase: 'Degraded' }, '1x60'),
          s('sluice_rollout_phase', { instance: 'a', ...checkout, phase: 'Degraded' }, '0x60'),
          s('sluice_rollout_phase', { instance: 'a', ...cart, phase: 'Degraded' }, '1x60'),
        ],
        alert_rule_test: [
          { eval_time: '20m', alertname: 'SluiceRolloutDegraded', exp_alerts: [] },
          {
            eval_time: '45m',
            alertname: 'SluiceRolloutDegraded',
            exp_alerts: [fires('SluiceRolloutDegraded', cart)],
          },
        ],
      },
      {
        // Scraped, exporting two Rollouts, and not one pass since minute 10.
        interval: '1m',
        input_series: [
          s('up', { instance: 'a' }, '1x60'),
          s(
            'sluice_rollout_info',
            { instance: 'a', ...checkout, strategy: 'canary', revision: 'r1' },
            '1x60',
          ),
          s('sluice_rollout_info', { instance: 'a', ...cart, strategy: 'canary', revision: 'r2' }, '1x60'),
          s('sluice_reconcile_duration_seconds_count', { instance: 'a', changed: 'false' }, '0+2x10 20x50'),
        ],
        alert_rule_test: [
          { eval_time: '15m', alertname: 'SluiceControllerNotReconciling', exp_alerts: [] },
          {
            eval_time: '35m',
            alertname: 'SluiceControllerNotReconciling',
            exp_alerts: [fires('SluiceControllerNotReconciling', { job: JOB }, '2')],
          },
          { eval_time: '35m', alertname: 'SluiceControllerDown', exp_alerts: [] },
        ],
      },
      {
        interval: '1m',
        input_series: [s('up', { instance: 'a' }, '1x5 0x20')],
        alert_rule_test: [
          { eval_time: '6m', alertname: 'SluiceControllerDown', exp_alerts: [] },
          {
            eval_time: '15m',
            alertname: 'SluiceControllerDown',
            exp_alerts: [fires('SluiceControllerDown', {})],
          },
        ],
      },
    ],
  };
}
