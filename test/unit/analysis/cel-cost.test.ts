import { parse } from '@bufbuild/cel';
import { describe, expect, it } from 'vitest';
import { CEL_COST_LIMIT, estimateCost } from '../../../analysis/cel-cost.ts';
import { compileCondition, judge } from '../../../analysis/conditions.ts';
import { MAX_SERIES } from '../../../analysis/provider.ts';

const values = (n: number) => Array.from({ length: n }, (_, i) => (i % 97) / 7);
const cost = (expr: string, n: number) => estimateCost(parse(expr).expr, n);

/** The largest list (up to the series cap) the limit lets `expr` be judged over. */
function largestAllowed(expr: string): number {
  let lo = 1;
  let hi = MAX_SERIES;
  if (cost(expr, hi) <= CEL_COST_LIMIT) return hi;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (cost(expr, mid) <= CEL_COST_LIMIT) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Fastest of five judgements after a warm-up: the figure other work on a shared machine inflates least. */
function fastestMs(expr: string, result: number[]): number {
  judge({ successCondition: expr }, { kind: 'list', values: result });
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    judge({ successCondition: expr }, { kind: 'list', values: result });
    best = Math.min(best, performance.now() - t);
  }
  return best;
}

describe('CEL conditions: a shape with a known cost', () => {
  it('refuses quadratic, nested, string and regular-expression conditions when compiled', () => {
    const refused: [string, RegExp][] = [
      ['result.all(x, x in result)', /inside a macro may only be indexed/],
      ['result.all(x, result.exists(y, y > x))', /may not be nested|inside a macro/],
      ['result.exists(x, [1.0].all(y, y > x))', /may not be nested/],
      ['[1.0, 2.0].all(x, x > 0.0)', /only walk `result` itself/],
      ['result.map(x, x * 2.0)[0] > 1.0', /may only be sized/],
      ["string(result[0]).matches('^(a+)+$')", /function .* is not allowed/],
      ["result[0] > 'a'", /strings are not allowed/],
      ['[result, result] == [result, result]', /list literal/],
    ];
    for (const [expr, why] of refused) expect(() => compileCondition(expr), expr).toThrow(why);
  });

  it('accepts what gates are written with', () => {
    for (const expr of [
      'result >= 99.0',
      'result[0] >= 0.95 && size(result) == 2',
      'result.all(x, x > 0.5)',
      'result.exists_one(x, x > 100.0)',
      'size(result.filter(x, x > 1.0)) < 3',
      '99.0 in result || result == [1.0]',
      'result.all(x, x <= result[0] * 2.0)',
    ]) {
      expect(() => compileCondition(expr), expr).not.toThrow();
    }
  });

  it('charges a macro once per value and a walk of a concatenated list by its nesting', () => {
    expect(cost('result.all(x, x > 0.5)', 1000)).toBe(7 * 1000 + 4);
    expect(cost('result >= 99.0', 1)).toBe(3);
    expect(cost('99.0 in (result + result + result)', 100)).toBeGreaterThanOrEqual(300 * 3);
  });

  it('judges a condition over too many values as an Error naming the limit, without running it', () => {
    const expr = 'result.all(x, x >= 0.0)';
    const over = judge({ successCondition: expr }, { kind: 'list', values: values(MAX_SERIES) });
    expect(over.phase).toBe('Error');
    expect(over.message).toMatch(/10000 values would take ~70004 steps, over the limit of 40000: aggregate/);
    expect(judge({ successCondition: expr }, { kind: 'list', values: values(5000) }).phase).toBe(
      'Successful',
    );
  });

  // The figure written down in analysis/cel-cost.ts: the worst conditions we could build, each
  // over the largest list the limit allows, are judged in well under 50 ms.
  it('judges the costliest conditions within 50 ms', () => {
    const terms = (t: string, k: number) => Array.from({ length: k }, () => t).join(' || ');
    const worst = [
      'result.exists(x, x % 2.0 == 1.0)',
      `result.exists(x, ${terms('int(x) / 0 == 1', 12)})`,
      `result.exists(x, ${terms('result[99999] > 1.0', 12)})`,
      `result.exists(x, ${terms('x > true', 20)})`,
      'size(result.map(x, x * 2.0)) > 0',
      'size(result.filter(x, x > 1.0)) > 0',
      '-1.0 in (result + result)',
      'result + result == result + result',
    ];
    const figures: string[] = [];
    for (const expr of worst) {
      const n = largestAllowed(expr);
      const ms = fastestMs(expr, values(n));
      figures.push(`${ms.toFixed(1)} ms over ${n} values: ${expr.slice(0, 60)}`);
      expect(ms, expr).toBeLessThan(50);
    }
    console.log(`CEL worst cases at the cost limit ${CEL_COST_LIMIT}:\n${figures.join('\n')}`);
  });
});
