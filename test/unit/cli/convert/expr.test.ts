import { describe, expect, it } from 'vitest';
import { judge } from '../../../../analysis/cel-conditions.ts';
import { LIST_NOTE, NO_DATA_NOTE, translateCondition } from '../../../../cli/convert/expr.ts';

/**
 * What Sluice hands a condition for an answer Argo would see as this list of series values:
 * NaN/±Inf series dropped, nothing left → no data (never judged), one → a number, several → a list.
 */
function sluiceResult(values: number[]) {
  const usable = values.filter(Number.isFinite);
  if (usable.length === 0) return { kind: 'none' as const, reason: 'no data' };
  if (usable.length === 1) return { kind: 'value' as const, value: usable[0] as number };
  return { kind: 'list' as const, values: usable };
}

/** The produced CEL, run by Sluice's own condition evaluator, must give Argo's truth value. */
function holds(cel: string, values: number[]): boolean | 'no data' {
  const r = sluiceResult(values);
  if (r.kind === 'none') return 'no data';
  const verdict = judge({ successCondition: cel }, r);
  if (verdict.phase === 'Error') throw new Error(verdict.message);
  return verdict.phase === 'Successful';
}

describe('translateCondition', () => {
  const cases: { argo: string; cel: string; truth: [number[], boolean][] }[] = [
    {
      argo: 'result[0] >= 0.95',
      cel: 'result >= 0.95',
      truth: [
        [[0.99], true],
        [[0.95], true],
        [[0.5], false],
      ],
    },
    {
      argo: 'result[0] >= 0.95 and result[0] <= 1',
      cel: 'result >= 0.95 && result <= 1.0',
      truth: [
        [[0.97], true],
        [[1.2], false],
      ],
    },
    {
      argo: 'isNaN(result[0]) || result[0] < 5',
      cel: 'result < 5.0',
      truth: [
        [[4], true],
        [[7], false],
      ],
    },
    {
      argo: 'len(result) == 0 || result[0] >= 0.9',
      cel: 'result >= 0.9',
      truth: [
        [[0.91], true],
        [[0.1], false],
      ],
    },
    {
      argo: 'all(result, {# > 1})',
      cel: 'result.all(x, x > 1.0)',
      truth: [
        [[2, 3], true],
        [[2, 0.5], false],
      ],
    },
    {
      argo: 'any(result, {# >= 10}) && len(result) > 2',
      cel: 'result.exists(x, x >= 10.0) && size(result) > 2.0',
      truth: [
        [[1, 2, 10], true],
        [[1, 10], false],
        [[1, 2, 3], false],
      ],
    },
    {
      argo: 'none(result, {# < 0})',
      cel: '!result.exists(x, x < 0.0)',
      truth: [
        [[1, 2], true],
        [[1, -2], false],
      ],
    },
    {
      argo: 'count(result, {# > 100}) <= 1',
      cel: 'size(result.filter(x, x > 100.0)) <= 1.0',
      truth: [
        [[1, 200], true],
        [[101, 200], false],
      ],
    },
    {
      argo: 'not (result[0] - result[1] > 0.5 * result[1])',
      cel: '!(result[0] - result[1] > 0.5 * result[1])',
      truth: [
        [[1, 1], true],
        [[3, 1], false],
      ],
    },
    {
      argo: 'result > 2 ? result < 10 : false',
      cel: 'result > 2.0 ? result < 10.0 : false',
      truth: [
        [[5], true],
        [[12], false],
        [[1], false],
      ],
    },
    {
      argo: '(result[0] + 1.5e2) / 2 >= 100',
      cel: '(result + 150.0) / 2.0 >= 100.0',
      truth: [
        [[50], true],
        [[49], false],
      ],
    },
  ];

  for (const c of cases) {
    it(`${c.argo} → ${c.cel}, with Argo's truth on sample results`, () => {
      const t = translateCondition(c.argo);
      expect(t).toMatchObject({ ok: true, cel: c.cel });
      if (!t.ok) return;
      for (const [values, truth] of c.truth) expect(holds(t.cel, values), `${values}`).toBe(truth);
    });
  }

  it('never judges no data: Sluice makes it Inconclusive before the condition runs', () => {
    const t = translateCondition('isNaN(result[0]) || result[0] >= 0.95');
    expect(t).toMatchObject({ ok: true, cel: 'result >= 0.95' });
    expect(t.ok && t.notes).toContain(NO_DATA_NOTE);
    expect(holds('result >= 0.95', [Number.NaN])).toBe('no data');
    expect(holds('result >= 0.95', [])).toBe('no data');
  });

  it('says when a condition reads result as a list', () => {
    const t = translateCondition('all(result, {# < 0.01})');
    expect(t.ok && t.notes).toEqual([LIST_NOTE]);
    expect(translateCondition('result[0] > 1')).toMatchObject({ ok: true, notes: [] });
  });

  const refused: [string, RegExp][] = [
    ['result[0] == "ok"', /strings/],
    ['asInt(result[0]) > 2', /asInt\(\) has no counterpart/],
    ['result.Count > 2', /fields and methods/],
    ['result[0] % 2 == 0', /% has no counterpart/],
    ['result[0] ** 2 > 4', /\*\* has no counterpart/],
    ['result[0] in [1, 2]', /"in"/],
    ['all(result, {all(result, {# > 1})})', /inside closures/],
    ['default(result[0], 0) > 1', /default\(\) has no counterpart/],
    ['foo > 1', /"foo" is unknown/],
    ['result[0] >', /ends too early/],
    ['result[0:2]', /slices/],
    ['len(result) == 0', /always false/],
    ['result[0.5] > 1', /whole number/],
    [`${'('.repeat(60)}1${')'.repeat(60)}`, /nested deeper/],
    ['x'.repeat(2000), /longer than 1024/],
  ];
  for (const [argo, reason] of refused) {
    it(`refuses ${argo.slice(0, 40)}, saying why`, () => {
      const t = translateCondition(argo);
      expect(t.ok).toBe(false);
      if (!t.ok) expect(t.reason).toMatch(reason);
    });
  }
});
