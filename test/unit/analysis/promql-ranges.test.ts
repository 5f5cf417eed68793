import { describe, expect, it } from 'vitest';
import { widenRanges } from '../../../analysis/promql-ranges.ts';

// Two 15 s scrapes.
const widen = (query: string) => widenRanges(query, 30_000, '30s');

describe('widening the short ranges of a PromQL query', () => {
  it.each([
    ['sum(rate(a[5s])) / sum(rate(b[5s]))', 'sum(rate(a[30s])) / sum(rate(b[30s]))', ['5s']],
    ['rate(a[500ms]) + increase(b[ 20s ])', 'rate(a[30s]) + increase(b[ 30s ])', ['500ms', '20s']],
    // Subqueries: the range part only, never the step; an outer range long enough stays.
    ['max_over_time(c[10s:1s])', 'max_over_time(c[30s:1s])', ['10s']],
    ['max_over_time(rate(c[5s])[1m:5s])', 'max_over_time(rate(c[30s])[1m:5s])', ['5s']],
    ['max_over_time(c[10s:])', 'max_over_time(c[30s:])', ['10s']],
    // offset and @ move the window; they are not its size.
    ['rate(a[5s] offset 5s)', 'rate(a[30s] offset 5s)', ['5s']],
    ['rate(a[5s] @ 1609746000)', 'rate(a[30s] @ 1609746000)', ['5s']],
  ])('%s', (query, expected, widened) => {
    expect(widen(query)).toEqual({ query: expected, widened });
  });

  it('leaves a range of two scrapes or more as written', () => {
    for (const query of ['rate(a[30s])', 'rate(a[1m30s])', 'max_over_time(rate(c[1m])[5m:5s])', 'up']) {
      expect(widen(query)).toEqual({ query, widened: [] });
    }
  });

  it('leaves `[` inside strings and comments alone: label values, regex matchers, every quote kind', () => {
    for (const query of [
      'rate(a{path="/a[5s]"}[1m])',
      'rate(a{path=~"x[0-9]"}[1m])',
      "rate(a{path='[5s]'}[1m])",
      'rate(a{path=`[5s]`}[1m])',
      'rate(a{path="q\\"[5s]"}[1m])',
      'rate(a[1m]) # was [5s]',
    ]) {
      expect(widen(query)).toEqual({ query, widened: [] });
    }
    expect(widen('rate(a{path="/a[5s]"}[5s])')).toEqual({
      query: 'rate(a{path="/a[5s]"}[30s])',
      widened: ['5s'],
    });
    // A comment ends at the line's end; what follows is PromQL again.
    expect(widen('rate(a[1m]) # [5s]\n+ rate(b[5s])').query).toBe('rate(a[1m]) # [5s]\n+ rate(b[30s])');
  });

  it('leaves what is not a duration it can read alone', () => {
    for (const query of ['rate(a[{{args.window}}])', 'rate(a[])', 'a[5x]', 'a[5s', '"unterminated [5s]']) {
      expect(widen(query)).toEqual({ query, widened: [] });
    }
  });
});
