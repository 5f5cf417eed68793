// The commit message of a write-back: what a person reading `git log` needs to know why the
// version they pushed is gone. Pure.
import { type FieldChange, showPath } from './template-diff.ts';

export interface RevertFacts {
  namespace: string;
  name: string;
  failedRevision: string;
  stableRevision: string;
  /** The gate that failed and its message, as recorded in status.history. */
  reason: string;
  changes: FieldChange[];
}

const show = (v: unknown) => (v === undefined ? '(absent)' : typeof v === 'string' ? v : JSON.stringify(v));

export function commitMessage(f: RevertFacts): string {
  const lines = [
    `sluice: roll back ${f.namespace}/${f.name} from ${f.failedRevision} to ${f.stableRevision}`,
    '',
    `Rollout ${f.namespace}/${f.name} released revision ${f.failedRevision} and rolled it back`,
    `automatically: ${f.reason}.`,
    `Traffic is on stable revision ${f.stableRevision}; this commit makes git match it again.`,
    '',
    ...f.changes.map((c) => `spec.template.${showPath(c.path)}: ${show(c.failed)} -> ${show(c.stable)}`),
  ];
  return `${lines.join('\n')}\n`;
}
