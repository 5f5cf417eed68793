// How long the costliest CEL conditions take to judge, each over the largest list the cost limit
// (analysis/cel-cost.ts) lets it run on. The limit is set so these stay far below a reconcile's
// budget: a condition runs on the event loop. `npm run bench:cel` (figures in bench/RESULTS.md).
import { parse } from '@bufbuild/cel';
import { judge } from '../analysis/cel-conditions.ts';
import { CEL_COST_LIMIT, estimateCost } from '../analysis/cel-cost.ts';
import { MAX_SERIES } from '../analysis/provider.ts';

const terms = (t: string, k: number) => Array.from({ length: k }, () => t).join(' || ');

/** The worst shapes the checker admits: one macro with the most work per value, concatenations, errors. */
export const WORST_CONDITIONS = [
  'result.exists(x, x % 2.0 == 1.0)',
  `result.exists(x, ${terms('int(x) / 0 == 1', 12)})`,
  `result.exists(x, ${terms('result[99999] > 1.0', 12)})`,
  `result.exists(x, ${terms('x > true', 20)})`,
  'size(result.map(x, x * 2.0)) > 0',
  'size(result.filter(x, x > 1.0)) > 0',
  '-1.0 in (result + result)',
  'result + result == result + result',
];

export const sampleValues = (n: number) => Array.from({ length: n }, (_, i) => (i % 97) / 7);

/** The largest list (up to the series cap) the limit lets `expr` be judged over. */
export function largestAllowed(expr: string): number {
  const cost = (n: number) => estimateCost(parse(expr).expr, n);
  if (cost(MAX_SERIES) <= CEL_COST_LIMIT) return MAX_SERIES;
  let lo = 1;
  let hi = MAX_SERIES;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (cost(mid) <= CEL_COST_LIMIT) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Median and max of `rounds` judgements after a warm-up. */
function time(expr: string, rounds: number): { n: number; median: number; max: number } {
  const n = largestAllowed(expr);
  const result = { kind: 'list' as const, values: sampleValues(n) };
  judge({ successCondition: expr }, result);
  const ms: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    judge({ successCondition: expr }, result);
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  return { n, median: ms[Math.floor(rounds / 2)] ?? 0, max: ms[rounds - 1] ?? 0 };
}

if (process.argv[1]?.endsWith('cel-cost.ts')) {
  const rounds = Number(process.argv[2] ?? 21);
  console.log(`cost limit ${CEL_COST_LIMIT} steps, ${rounds} judgements each (node ${process.version})`);
  console.log('| condition | values | median ms | max ms |\n| --- | --- | --- | --- |');
  for (const expr of WORST_CONDITIONS) {
    const r = time(expr, rounds);
    const shown = expr.length > 50 ? `${expr.slice(0, 50)}…` : expr;
    console.log(`| \`${shown}\` | ${r.n} | ${r.median.toFixed(1)} | ${r.max.toFixed(1)} |`);
  }
}
