import { parse } from '@bufbuild/cel';
import { describe, expect, it } from 'vitest';
import { compileCondition, judge } from '../../../analysis/cel-conditions.ts';
import { CEL_COST_LIMIT, estimateCost } from '../../../analysis/cel-cost.ts';
import { MAX_SERIES } from '../../../analysis/provider.ts';
import { largestAllowed, WORST_CONDITIONS } from '../../../bench/cel-cost.ts';

const values = (n: number) => Array.from({ length: n }, (_, i) => (i % 97) / 7);
const cost = (expr: string, n: number) => estimateCost(parse(expr).expr, n);

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
    const expr = 'result.all(x, x >= 0.0 && x < 50.0)';
    const over = judge({ successCondition: expr }, { kind: 'list', values: values(MAX_SERIES) });
    expect(over.phase).toBe('Error');
    expect(over.message).toMatch(/10000 values would take ~110004 steps, over the limit of 80000: aggregate/);
    expect(judge({ successCondition: expr }, { kind: 'list', values: values(7000) }).phase).toBe(
      'Successful',
    );
  });

  it('judges the simplest check of every series over as many series as a query may return', () => {
    // One comparison per value over the series cap: a per-pod gate must not be refused by the
    // cost limit when the provider let its answer through.
    const judged = judge(
      { successCondition: 'result.all(x, x < 20.0)' },
      { kind: 'list', values: values(MAX_SERIES) },
    );
    expect(judged.phase).toBe('Successful');
  });

  // How long these take is measured in bench/cel-cost.ts (bench/RESULTS.md): a test asserts
  // behaviour, and what the limit promises is that the worst shapes are judged, not refused at run
  // time, over the largest list it allows and refused one value beyond it.
  it('judges the costliest conditions over the largest list the limit allows, and no further', () => {
    for (const expr of WORST_CONDITIONS) {
      const n = largestAllowed(expr);
      expect(cost(expr, n), expr).toBeLessThanOrEqual(CEL_COST_LIMIT);
      expect(
        judge({ successCondition: expr }, { kind: 'list', values: values(n) }).message ?? '',
        expr,
      ).not.toMatch(/over the limit/);
      if (n < MAX_SERIES)
        expect(
          judge({ successCondition: expr }, { kind: 'list', values: values(n + 1) }).message,
          expr,
        ).toMatch(/over the limit/);
    }
  });
});
