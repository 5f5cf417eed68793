import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { judge } from '../../../../analysis/cel-conditions.ts';
import { LIST_NOTE, translateCondition } from '../../../../cli/convert/expr.ts';

/**
 * An Argo condition from the subset the converter claims, with its meaning under expr-lang's
 * rules written out here, independently of the translator: evaluated on the list of series
 * values Argo's Prometheus provider hands a condition.
 */
interface Gen {
  text: string;
  eval: (result: number[]) => number | boolean;
}

const literal = fc
  .constantFrom('0', '1', '2', '0.5', '2.5', '10', '1e1', '.25')
  .map((t): Gen => ({ text: t, eval: () => Number(t) }));

function numeric(item: fc.Arbitrary<Gen>): fc.Arbitrary<Gen> {
  return fc.letrec<{ n: Gen }>((tie) => ({
    n: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      literal,
      item,
      fc.tuple(tie('n'), fc.constantFrom('+', '-', '*'), tie('n')).map(([a, op, b]) => ({
        text: `(${a.text} ${op} ${b.text})`,
        eval: (r: number[]) =>
          op === '+'
            ? (a.eval(r) as number) + (b.eval(r) as number)
            : op === '-'
              ? (a.eval(r) as number) - (b.eval(r) as number)
              : (a.eval(r) as number) * (b.eval(r) as number),
      })),
      tie('n').map((a) => ({ text: `-${a.text}`, eval: (r: number[]) => -(a.eval(r) as number) })),
    ),
  })).n;
}

const COMPARE: Record<string, (a: number, b: number) => boolean> = {
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
  '==': (a, b) => a === b,
  '!=': (a, b) => a !== b,
};

function boolean(n: fc.Arbitrary<Gen>, extra: fc.Arbitrary<Gen>[] = []): fc.Arbitrary<Gen> {
  const comparison = fc.tuple(n, fc.constantFrom(...Object.keys(COMPARE)), n).map(([a, op, b]) => ({
    text: `${a.text} ${op} ${b.text}`,
    eval: (r: number[]) =>
      (COMPARE[op] as (a: number, b: number) => boolean)(a.eval(r) as number, b.eval(r) as number),
  }));
  const nan = n.map((a) => ({ text: `isNaN(${a.text})`, eval: (r: number[]) => Number.isNaN(a.eval(r)) }));
  return fc.letrec<{ b: Gen }>((tie) => ({
    b: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      comparison,
      ...extra,
      fc.tuple(tie('b'), fc.constantFrom('&&', '||', 'and', 'or'), tie('b')).map(([a, op, b]) => ({
        text: `(${a.text} ${op} ${b.text})`,
        eval: (r: number[]) =>
          op === '&&' || op === 'and'
            ? (a.eval(r) as boolean) && (b.eval(r) as boolean)
            : (a.eval(r) as boolean) || (b.eval(r) as boolean),
      })),
      tie('b').map((a) => ({ text: `!(${a.text})`, eval: (r: number[]) => !a.eval(r) })),
      fc.tuple(nan, tie('b')).map(([a, b]) => ({
        text: `(${a.text} || ${b.text})`,
        eval: (r: number[]) => (a.eval(r) as boolean) || (b.eval(r) as boolean),
      })),
    ),
  })).b;
}

const first: fc.Arbitrary<Gen> = fc.constant({ text: 'result[0]', eval: (r: number[]) => r[0] as number });
const second: fc.Arbitrary<Gen> = fc.constant({ text: 'result[1]', eval: (r: number[]) => r[1] as number });
const length: fc.Arbitrary<Gen> = fc.constant({ text: 'len(result)', eval: (r: number[]) => r.length });

/** all/any/none over result with a closure comparing # to a literal. */
const macro: fc.Arbitrary<Gen> = fc
  .tuple(fc.constantFrom('all', 'any', 'none'), fc.constantFrom(...Object.keys(COMPARE)), literal)
  .map(([name, op, lit]) => {
    const test = (x: number) => (COMPARE[op] as (a: number, b: number) => boolean)(x, lit.eval([]) as number);
    return {
      text: `${name}(result, {# ${op} ${lit.text}})`,
      eval: (r: number[]) => (name === 'all' ? r.every(test) : name === 'any' ? r.some(test) : !r.some(test)),
    };
  });

const value = fc.double({ min: -20, max: 20, noNaN: true, noDefaultInfinity: true });

/** Run by Sluice's own evaluator on what Sluice binds: a number for one series, a list for several. */
function celTruth(cel: string, result: number[]): boolean {
  const verdict = judge(
    { successCondition: cel },
    result.length === 1 ? { kind: 'value', value: result[0] as number } : { kind: 'list', values: result },
  );
  if (verdict.phase === 'Error') throw new Error(verdict.message);
  return verdict.phase === 'Successful';
}

describe('translateCondition keeps the truth of every condition of its subset', () => {
  it('single-value conditions (result[0]) on one series', () => {
    fc.assert(
      fc.property(boolean(numeric(first)), value, (cond, v) => {
        const t = translateCondition(cond.text);
        // A condition whose every term folds away (isNaN(...) alone) is refused, never guessed.
        if (!t.ok) {
          expect(t.reason).toMatch(/always (true|false)/);
          return;
        }
        expect(celTruth(t.cel, [v]), `${cond.text} → ${t.cel} on [${v}]`).toBe(cond.eval([v]));
      }),
      { numRuns: 300 },
    );
  });

  it('list conditions (result[i], len, all/any/none) on several series', () => {
    fc.assert(
      fc.property(
        boolean(numeric(fc.oneof(first, second, length)), [macro]),
        fc.array(value, { minLength: 2, maxLength: 5 }),
        (cond, values) => {
          const t = translateCondition(cond.text);
          if (!t.ok) {
            expect(t.reason).toMatch(/always (true|false)/);
            return;
          }
          // Read only through result[0], a condition is written for one series, and Sluice binds
          // one series as a number: it is judged on one (the documented assumption).
          const series = t.notes.includes(LIST_NOTE) ? values : values.slice(0, 1);
          expect(celTruth(t.cel, series), `${cond.text} → ${t.cel} on ${JSON.stringify(series)}`).toBe(
            cond.eval(series),
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});
