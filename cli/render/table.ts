import type { AnalysisRun, Rollout } from '../model.ts';
import { age, gateOf, metricVerdicts, stepProgress, strategyOf } from './format.ts';
import { type Paint, PLAIN, paintPhase, visibleLength } from './paint.ts';

/** The width of each column: the widest of its header and cells, as a terminal shows them. */
export function columnWidths(header: string[], rows: string[][]): number[] {
  return header.map((h, i) => Math.max(h.length, ...rows.map((r) => visibleLength(r[i] ?? ''))));
}

/** One line of a table: cells padded to `widths`, three spaces apart, no trailing spaces. */
export function tableLine(cells: string[], widths: number[]): string {
  return cells
    .map((c, i) =>
      i === cells.length - 1 ? c : c + ' '.repeat(Math.max(0, (widths[i] ?? 0) - visibleLength(c))),
    )
    .join('   ')
    .trimEnd();
}

/** Left-aligned columns separated by three spaces, as `kubectl get` prints them. */
export function renderTable(header: string[], rows: string[][]): string {
  const widths = columnWidths(header, rows);
  return [header, ...rows].map((cells) => tableLine(cells, widths)).join('\n');
}

/** What `list` prints of one kind: its columns and each object's row (AGE last, as kubectl has it). */
export interface TableSpec<T> {
  header: string[];
  row(object: T, now: Date, paint?: Paint): string[];
}

export const LIST_COLUMNS = ['NAME', 'PHASE', 'STRATEGY', 'WEIGHT', 'STEP', 'CURRENT', 'STABLE', 'AGE'];

export function listRow(rollout: Rollout, now: Date, paint: Paint = PLAIN): string[] {
  const status = rollout.status;
  const weight = status?.canary?.weight;
  const phase = paintPhase(paint, status?.phase ?? '-');
  return [
    rollout.metadata.name ?? '',
    status?.abort && status.phase !== 'Degraded' ? `${phase} (aborted)` : phase,
    strategyOf(rollout),
    weight === undefined ? '-' : String(weight),
    stepProgress(rollout) ?? '-',
    status?.currentRevision ?? '-',
    status?.stableRevision ?? '-',
    age(rollout.metadata.creationTimestamp, now),
  ];
}

export const ROLLOUTS_TABLE: TableSpec<Rollout> = { header: LIST_COLUMNS, row: listRow };

export const ANALYSIS_RUN_COLUMNS = ['NAME', 'ROLLOUT', 'GATE', 'PHASE', 'METRICS', 'AGE'];

export function analysisRunRow(run: AnalysisRun, now: Date, paint: Paint = PLAIN): string[] {
  return [
    run.metadata.name ?? '',
    run.spec?.rollout ?? '-',
    gateOf(run),
    paintPhase(paint, run.status?.phase ?? '-'),
    metricVerdicts(run, paint),
    age(run.metadata.creationTimestamp, now),
  ];
}

export const ANALYSIS_RUNS_TABLE: TableSpec<AnalysisRun> = {
  header: ANALYSIS_RUN_COLUMNS,
  row: analysisRunRow,
};

/** With all namespaces a NAMESPACE column leads, as with `kubectl get -A`. */
export function withNamespace<T extends { metadata: { namespace?: string } }>(
  spec: TableSpec<T>,
  allNamespaces: boolean,
): TableSpec<T> {
  if (!allNamespaces) return spec;
  return {
    header: ['NAMESPACE', ...spec.header],
    row: (object, now, paint) => [object.metadata.namespace ?? '', ...spec.row(object, now, paint)],
  };
}

/** A `list` table. */
export function renderObjects<T>(spec: TableSpec<T>, objects: T[], now: Date, paint: Paint = PLAIN): string {
  return renderTable(
    spec.header,
    objects.map((o) => spec.row(o, now, paint)),
  );
}

/** The `list` table of Rollouts. */
export function renderList(
  rollouts: Rollout[],
  now: Date,
  allNamespaces: boolean,
  paint: Paint = PLAIN,
): string {
  return renderObjects(withNamespace(ROLLOUTS_TABLE, allNamespaces), rollouts, now, paint);
}
