import { describe, expect, it } from 'vitest';
import { ConditionError, compileCondition, judge } from '../../../analysis/cel-conditions.ts';

const value = (v: number) => ({ kind: 'value' as const, value: v });

describe('CEL conditions', () => {
  it('failure is checked before success', () => {
    expect(
      judge({ successCondition: 'result > 0.0', failureCondition: 'result > 5.0' }, value(9)).phase,
    ).toBe('Failed');
    expect(
      judge({ successCondition: 'result > 0.0', failureCondition: 'result > 5.0' }, value(1)).phase,
    ).toBe('Successful');
  });

  it('neither condition set: any value succeeds', () => {
    expect(judge({}, value(-3))).toEqual({ phase: 'Successful', value: '-3' });
  });

  it('set but neither matching: inconclusive, with both conditions in the message', () => {
    const v = judge({ successCondition: 'result >= 99.0', failureCondition: 'result < 90.0' }, value(95));
    expect(v.phase).toBe('Inconclusive');
    expect(v.message).toMatch(/result >= 99.0.*result < 90.0/);
  });

  it('only a success condition, not met: inconclusive', () => {
    expect(judge({ successCondition: 'result >= 99.0' }, value(50)).phase).toBe('Inconclusive');
  });

  it('no data is inconclusive, never success', () => {
    expect(judge({}, { kind: 'none', reason: 'the query returned no series' })).toEqual({
      phase: 'Inconclusive',
      message: 'no data: the query returned no series',
    });
  });

  it('works on lists from vector results, and compares int with double', () => {
    const list = { kind: 'list' as const, values: [99.5, 97] };
    expect(judge({ successCondition: 'result.all(x, x > 95)' }, list).phase).toBe('Successful');
    expect(judge({ failureCondition: 'result[1] < 98' }, list).phase).toBe('Failed');
    expect(judge({ successCondition: 'result > 1' }, value(2.5)).phase).toBe('Successful');
  });

  it('a condition that cannot be evaluated on this value is an Error measurement', () => {
    const v = judge({ successCondition: 'result > 1' }, { kind: 'list', values: [1, 2] });
    expect(v.phase).toBe('Error');
    expect(v.message).toMatch(/no matching overload/);
    expect(judge({ successCondition: 'result + 1.0' }, value(1)).message).toMatch(/not true or false/);
  });

  it('compile errors name the expression and the problem', () => {
    expect(() => compileCondition('result >= ')).toThrow(ConditionError);
    expect(() => compileCondition('result >= ')).toThrow(/invalid CEL "result >= "/);
    expect(() => compileCondition('latency > 5')).toThrow(/only `result` is defined/);
  });
});
