// Argo AnalysisTemplate / ClusterAnalysisTemplate to Sluice's: the same shape under the same
// names, with conditions translated from expr-lang into CEL (expr.ts) and Argo's whole-second
// Prometheus timeout written as a duration. Providers Sluice will never have are named here;
// whether it has web or job yet is for its schema to say.

import type { ConvertedKind } from '../judge.ts';
import type { Converted, Edit } from './edit.ts';
import { translateCondition } from './expr.ts';

const OTHER_PROVIDERS = [
  'datadog',
  'newRelic',
  'wavefront',
  'kayenta',
  'cloudWatch',
  'graphite',
  'influxdb',
  'skywalking',
  'plugin',
];

const CONDITIONS = ['successCondition', 'failureCondition'] as const;

/** A condition as quoted in a message: the file is anybody's, the message a line on a terminal. */
const shown = (expr: string) => (expr.length > 120 ? `${expr.slice(0, 120)}…` : expr).replace(/\s+/g, ' ');

function convertMetric(edit: Edit, i: number): void {
  const at = ['spec', 'metrics', i];
  const provider = (edit.get([...at, 'provider']) ?? {}) as Record<string, unknown>;
  const others = Object.keys(provider).filter((p) => OTHER_PROVIDERS.includes(p));
  if (others.length && others.length === Object.keys(provider).length) {
    edit.drop(at, `another metric provider (${others.join(', ')}): Sluice measures through Prometheus`);
    return;
  }
  for (const p of others) edit.drop([...at, 'provider', p], `another metric provider (${p})`);
  const timeout = edit.get([...at, 'provider', 'prometheus', 'timeout']);
  // Argo gives the Prometheus timeout in whole seconds; Sluice in its duration syntax.
  if (typeof timeout === 'number') edit.set([...at, 'provider', 'prometheus', 'timeout'], `${timeout}s`);
  for (const condition of CONDITIONS) {
    const expr = edit.get([...at, condition]);
    if (typeof expr !== 'string') continue;
    const t = translateCondition(expr);
    if (t.ok) {
      edit.set([...at, condition], t.cel);
      for (const note of t.notes)
        edit.note(`spec.metrics[${i}].${condition} "${shown(expr)}" → "${t.cel}": ${note}`);
    } else {
      edit.drop([...at, condition], `"${shown(expr)}" cannot be written in CEL: ${t.reason}`);
    }
  }
}

export function convertTemplate(edit: Edit, kind: Exclude<ConvertedKind, 'Rollout'>): Converted {
  const metrics = edit.get(['spec', 'metrics']);
  if (Array.isArray(metrics)) for (let i = 0; i < metrics.length; i++) convertMetric(edit, i);
  return edit.finish(kind);
}
