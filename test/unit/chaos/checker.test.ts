import { describe, expect, it } from 'vitest';
import { historyProblem } from '../../chaos/checker.ts';
import { writesOutsideLeadership } from '../../chaos/writes.ts';

const entry = (revision: string, startedAt = `t-${revision}`) => ({
  revision,
  outcome: 'Promoted' as const,
  startedAt,
});
const entries = (n: number, from = 0) => Array.from({ length: n }, (_, i) => entry(`r${from + i}`));

// The chaos checker's own rules: a checker that cannot fail proves nothing.
describe('the chaos checker', () => {
  it('accepts history that only grows, and drops the oldest only at the limit', () => {
    expect(historyProblem([], entries(1))).toBeUndefined();
    expect(historyProblem(entries(3), entries(4))).toBeUndefined();
    expect(historyProblem(entries(3), entries(3))).toBeUndefined();
    expect(historyProblem(entries(10), entries(10, 1))).toBeUndefined();
    expect(historyProblem(entries(10), entries(10, 2))).toBeUndefined();
  });

  it('flags history rewritten, shortened or closed twice', () => {
    expect(historyProblem(entries(3), entries(2))).toMatch(/rewritten/);
    expect(historyProblem(entries(3), [entry('r0'), entry('x'), entry('r2')])).toMatch(/rewritten/);
    expect(historyProblem(entries(5), entries(5, 1))).toMatch(/rewritten/);
    expect(historyProblem(entries(10), entries(10, 3).slice(0, 9))).toMatch(/rewritten/);
    expect(historyProblem(entries(1), [entry('r0'), entry('r0')])).toMatch(/closed twice/);
  });

  it('finds writes made by a replica that was not leading', () => {
    const tenures = [
      { identity: 'a', from: 10_000, to: 20_000 },
      { identity: 'b', from: 25_000 },
    ];
    const writes = [
      { identity: 'a', at: 15_000, object: 'Rollout/x' },
      { identity: 'b', at: 30_000, object: 'Rollout/x' },
      { identity: 'b', at: 15_000, object: 'Rollout/y' },
      { identity: 'a', at: 23_000, object: 'Rollout/z' },
    ];
    expect(writesOutsideLeadership(writes, tenures, 40_000).map((w) => w.object)).toEqual([
      'Rollout/y',
      'Rollout/z',
    ]);
  });
});
