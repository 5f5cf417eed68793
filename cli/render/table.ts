import type { Rollout } from '../model.ts';
import { age, stepProgress, strategyOf } from './format.ts';

/** Left-aligned columns separated by three spaces, as `kubectl get` prints them. */
export function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('   ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export const LIST_COLUMNS = ['NAME', 'PHASE', 'STRATEGY', 'WEIGHT', 'STEP', 'CURRENT', 'STABLE', 'AGE'];

export function listRow(rollout: Rollout, now: Date): string[] {
  const status = rollout.status;
  const weight = status?.canary?.weight;
  const phase = status?.phase ?? '-';
  return [
    rollout.metadata.name ?? '',
    status?.abort && phase !== 'Degraded' ? `${phase} (aborted)` : phase,
    strategyOf(rollout),
    weight === undefined ? '-' : String(weight),
    stepProgress(rollout) ?? '-',
    status?.currentRevision ?? '-',
    status?.stableRevision ?? '-',
    age(rollout.metadata.creationTimestamp, now),
  ];
}

/** The `list` table; with all namespaces a NAMESPACE column leads, as with `kubectl get -A`. */
export function renderList(rollouts: Rollout[], now: Date, allNamespaces: boolean): string {
  const header = allNamespaces ? ['NAMESPACE', ...LIST_COLUMNS] : LIST_COLUMNS;
  const rows = rollouts.map((r) => {
    const row = listRow(r, now);
    return allNamespaces ? [r.metadata.namespace ?? '', ...row] : row;
  });
  return renderTable(header, rows);
}
