import type { Detectability } from '../../crds/index.ts';

/** One gate of a Rollout file, as lint worked it out. */
export interface LintGate {
  /** "background analysis", "step 3 analysis", "prePromotionAnalysis". */
  gate: string;
  /** The compareToStable checks worked out: errors, latencyP99. */
  checks: string[];
  detectability?: Detectability;
  /** Why nothing was worked out (no --prometheus given). */
  note?: string;
}

/** A window the controller would widen to hold two scrapes, in resolve's words. */
export interface LintWindow {
  gate: string;
  note: string;
}

/** One document of the file. */
export interface LintDocument {
  index: number;
  kind: string;
  name: string;
  /** What the schema refuses, field by field; absent: it would be accepted. */
  refused?: string;
  gates: LintGate[];
  /** Windows too short for the Prometheus' scrape interval; the run widens them, so not a failure. */
  windows?: LintWindow[];
}

export interface LintReport {
  file: string;
  documents: LintDocument[];
  /** Prometheus did not answer: the gates could not be worked out. */
  failed?: string;
  /** Why the windows were not checked against the scrape interval. */
  windowsUnchecked?: string;
}

/** A problem worth a non-zero exit: a refusal, a gate that cannot see, a Prometheus that did not answer. */
export function lintFailed(report: LintReport): boolean {
  return (
    report.failed !== undefined ||
    report.documents.some(
      (d) => d.refused !== undefined || d.gates.some((g) => g.detectability?.outcome === 'CannotSee'),
    )
  );
}

/** The lint report: a pure function of what was found, for the terminal. */
export function renderLint(report: LintReport): string {
  const lines: string[] = [];
  if (report.documents.length === 0)
    lines.push(`${report.file}: no Sluice objects (Rollout, AnalysisTemplate) found`);
  for (const doc of report.documents) {
    const where = `${report.file}, document ${doc.index + 1}`;
    lines.push(
      doc.refused === undefined
        ? `${doc.kind} ${doc.name} (${where}): the schema accepts it`
        : `${doc.kind} ${doc.name} (${where}): the API server would refuse it: ${doc.refused}`,
    );
    for (const g of doc.gates) {
      const d = g.detectability;
      const what = `  ${g.gate} (compareToStable ${g.checks.join(', ')})`;
      if (!d) {
        lines.push(`${what}: ${g.note ?? 'not worked out'}`);
        continue;
      }
      lines.push(`${what}: ${d.message}`);
      if (d.basis) lines.push(`    assuming ${d.basis}`);
    }
    for (const w of doc.windows ?? []) lines.push(`  ${w.gate}: ${w.note}`);
  }
  if (report.windowsUnchecked !== undefined)
    lines.push(`windows not checked against the scrape interval: ${report.windowsUnchecked}`);
  if (report.failed !== undefined) lines.push(`error: ${report.failed}`);
  return lines.join('\n');
}
