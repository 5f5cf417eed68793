import { describe, expect, it } from 'vitest';
import { CORPUS_A, release } from '../../../bench/detection/corpus.ts';
import { binomialUpperTail, oracle } from '../../../bench/detection/oracle.ts';

describe('the detection oracle', () => {
  it('sums binomial tails exactly', () => {
    expect(binomialUpperTail(8, 10, 0.5)).toBeCloseTo(56 / 1024, 10);
    expect(binomialUpperTail(1, 1000, 0.001)).toBeCloseTo(1 - 0.999 ** 1000, 8);
    expect(binomialUpperTail(0, 5, 0.1)).toBe(1);
    expect(binomialUpperTail(6, 5, 0.1)).toBe(0);
  });

  it('raises a false alarm on healthy releases at most at its level, and catches a quadrupling at 500 rps', () => {
    const opts = { ...CORPUS_A, oracleLatencyFactors: [1.2] };
    const o = oracle({ alpha: 0.01, errorIncreasePercent: 25, latencyFactorIndex: 0 }, 'both');
    const errors = oracle({ alpha: 0.01, errorIncreasePercent: 25, latencyFactorIndex: 0 }, 'errors');
    let alarms = 0;
    for (let i = 0; i < 300; i++)
      if (o.judge(release(opts, 100, 'healthy-incident', i)).rolledBackAt) alarms++;
    expect(alarms / 300).toBeLessThanOrEqual(0.02);
    let caught = 0;
    for (let i = 0; i < 50; i++)
      if (errors.judge(release(opts, 500, 'errors x4', i)).rolledBackAt === 1) caught++;
    expect(caught).toBe(50);
  });
});
