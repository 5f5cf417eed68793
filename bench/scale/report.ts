// Markdown tables (one per N, Sluice / Argo Rollouts side by side) and the SVG chart, from the
// JSON results the harness recorded.
import { writeFileSync } from 'node:fs';
import { type Panel, renderChart } from './chart.ts';
import type { ControllerName } from './controllers.ts';
import type { ScenarioResult, Summary } from './scenario.ts';

const COLORS: Record<ControllerName, string> = { sluice: '#1f77b4', argo: '#d62728' };
const LABEL: Record<ControllerName, string> = { sluice: 'Sluice', argo: 'Argo Rollouts' };

const num = (v: number, digits = 0) => (Number.isFinite(v) ? v.toFixed(digits) : '—');
const sum3 = (s: Summary, digits = 0) =>
  `${num(s.p50, digits)} / ${num(s.p99, digits)} / ${num(s.max, digits)}`;

interface Row {
  label: string;
  cell: (r: ScenarioResult) => string;
}

const ROWS: Row[] = [
  {
    label: 'reconcile workers',
    cell: (r) => (r.controller === 'sluice' ? String(r.workers ?? 4) : '10 (its default)'),
  },
  { label: 'controller RSS, peak (MB)', cell: (r) => num(r.rssMb.peak) },
  { label: 'controller RSS, steady while idle (MB, median)', cell: (r) => num(r.rssMb.steady) },
  { label: 'controller CPU, whole run (s)', cell: (r) => num(r.cpuSeconds.total, 1) },
  { label: 'controller CPU, both waves (s)', cell: (r) => num(r.cpuSeconds.waves, 1) },
  { label: 'controller CPU, idle window (s)', cell: (r) => num(r.cpuSeconds.idle, 2) },
  {
    label: 'reconcile latency p50 / p99 (ms)',
    cell: (r) => `${num(r.reconcileMs.p50, 1)} / ${num(r.reconcileMs.p99, 1)}`,
  },
  {
    label: '… of passes that changed nothing (no write to wait for), p50 / p99 (ms)',
    cell: (r) =>
      r.reconcileMs.unchanged
        ? `${num(r.reconcileMs.unchanged.p50, 1)} / ${num(r.reconcileMs.unchanged.p99, 1)}`
        : '—',
  },
  { label: 'step lateness p50 / p99 / max (ms)', cell: (r) => sum3(r.stepLatenessMs) },
  {
    label: 'rollback: run seen Failed → weight 0, p50 / p99 / max (ms)',
    cell: (r) => sum3(r.rollbackMs.fromRunFailedSeen),
  },
  {
    label: 'rollback: failing measurement → weight 0, p50 / p99 / max (ms)',
    cell: (r) => sum3(r.rollbackMs.fromMeasurement),
  },
  {
    label: 'API server time per write during the waves, p50 / p99 / max (ms, audit log)',
    cell: (r) => (r.apiServerWriteMs ? sum3(r.apiServerWriteMs) : '—'),
  },
  { label: 'API requests per release (audit log)', cell: (r) => num(r.apiRequests.perRelease, 1) },
  { label: 'writes per minute from idle Rollouts (audit log)', cell: (r) => num(r.idle.writesPerMinute, 1) },
  { label: 'API requests per minute while idle (audit log)', cell: (r) => num(r.idle.requestsPerMinute, 1) },
  {
    label: 'Prometheus queries per minute (during the waves)',
    cell: (r) => num(r.prometheusQueriesPerMinute),
  },
  {
    label: 'releases promoted / rolled back (of good / bad)',
    cell: (r) =>
      `${r.releases.promoted} / ${r.releases.rolledBack} (of ${r.releases.good} / ${r.releases.bad})`,
  },
  {
    label: 'good versions rolled back / bad versions promoted',
    cell: (r) => `${r.releases.goodRolledBack ?? '—'} / ${r.releases.badPromoted ?? '—'}`,
  },
  {
    label: 'take-over / wave 1 / wave 2 (s)',
    cell: (r) => `${num(r.seconds.takeOver)} / ${num(r.seconds.wave1)} / ${num(r.seconds.wave2)}`,
  },
  { label: 'load average at the end (1 / 5 / 15 min)', cell: (r) => r.loadAverage.join(' / ') },
  {
    label: 'waves that ran out of time',
    cell: (r) => (r.unfinished?.length ? r.unfinished.join('; ') : 'none'),
  },
];

interface Column {
  label: string;
  has: (r: ScenarioResult) => boolean;
}

const COLUMNS: Column[] = [
  { label: 'Sluice', has: (r) => r.controller === 'sluice' && (r.runtime ?? 'bundle') === 'bundle' },
  { label: 'Argo Rollouts', has: (r) => r.controller === 'argo' },
  { label: 'Sluice via tsx (before the fix)', has: (r) => r.controller === 'sluice' && r.runtime === 'tsx' },
];

export function renderTables(results: readonly ScenarioResult[]): string {
  const ns = [...new Set(results.map((r) => r.rollouts))].sort((a, b) => a - b);
  const out: string[] = [];
  for (const n of ns) {
    const here = results.filter((r) => r.rollouts === n);
    const cols = COLUMNS.filter((c, i) => i < 2 || here.some(c.has));
    const cells = cols.map((c) => here.find(c.has));
    const started = cols.flatMap((c, i) => (cells[i] ? [`${c.label} ${cells[i]?.startedAt}`] : []));
    out.push(
      `#### N = ${n} (${started.join(', ')})`,
      '',
      `| measure | ${cols.map((c) => c.label).join(' | ')} |`,
      `| --- |${cols.map(() => ' --- |').join('')}`,
    );
    for (const row of ROWS)
      out.push(`| ${row.label} | ${cells.map((r) => (r ? row.cell(r) : '—')).join(' | ')} |`);
    out.push('');
  }
  return out.join('\n');
}

export function chartPanels(results: readonly ScenarioResult[]): Panel[] {
  const series = (pick: (r: ScenarioResult) => number) =>
    (['sluice', 'argo'] as const).map((c, i) => ({
      name: LABEL[c],
      color: COLORS[c],
      points: results
        .filter((r) => COLUMNS[i]?.has(r))
        .map((r) => [r.rollouts, pick(r)] as [number, number])
        .sort((x, y) => x[0] - y[0]),
    }));
  return [
    { title: 'Steady memory (RSS, idle)', unit: 'MB', series: series((r) => r.rssMb.steady) },
    { title: 'Peak memory (RSS)', unit: 'MB', series: series((r) => r.rssMb.peak) },
    { title: 'Step lateness p99', unit: 'ms', series: series((r) => r.stepLatenessMs.p99) },
    { title: 'CPU, whole run', unit: 'CPU seconds', series: series((r) => r.cpuSeconds.total) },
  ];
}

export function writeChart(results: readonly ScenarioResult[], file: string): void {
  writeFileSync(file, renderChart(chartPanels(results)));
}
