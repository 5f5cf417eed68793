import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  allowedIncreaseFor,
  detectableErrorIncrease,
  type ExpectedTraffic,
  secondsToDetect,
} from '../../../../analysis/compare/detectable.ts';
import { compareErrors } from '../../../../analysis/compare/judge.ts';
import { binomial, poisson, seededRng } from '../../../../sandbox/traffic/rng.ts';

const cfg = { confidence: 0.99, power: 0.9, minRequests: 100 };

/** The real judge, one look after `seconds`, on simulated counts: the share it calls worse. */
function catchRate(t: ExpectedTraffic, seconds: number, increasePercent: number, seed: number, n = 1500) {
  const rng = seededRng(seed);
  const effect = { maxIncreasePercent: allowedIncreaseFor(increasePercent) };
  let caught = 0;
  for (let i = 0; i < n; i++) {
    const nc = poisson(rng, t.canaryRps * seconds);
    const ns = poisson(rng, t.stableRps * seconds);
    const canary = { requests: nc, errors: binomial(rng, nc, t.errorRatio * (1 + increasePercent / 100)) };
    const stable = { requests: ns, errors: binomial(rng, ns, t.errorRatio) };
    const c = compareErrors(canary, stable, effect, {
      alpha: 1 - cfg.confidence,
      minRequests: 100,
      power: cfg.power,
    });
    if (c.verdict === 'worse') caught++;
  }
  return caught / n;
}

describe('what a compareToStable errors check can see', () => {
  const cases: [string, ExpectedTraffic, number][] = [
    ['500 rps at 0.45% errors, 10 minutes', { canaryRps: 250, stableRps: 250, errorRatio: 0.0045 }, 600],
    ['100 rps at 2%, 10 minutes', { canaryRps: 50, stableRps: 50, errorRatio: 0.02 }, 600],
    ['20 rps at 5%, 90% on stable, an hour', { canaryRps: 2, stableRps: 18, errorRatio: 0.05 }, 3600],
  ];
  it.each(cases)(
    '%s: the real judge catches the detectable increase about as often as the stated power',
    (_, t, seconds) => {
      const x = detectableErrorIncrease(t, seconds, cfg);
      expect(x).toBeDefined();
      const rate = catchRate(t, seconds, x as number, 20261207);
      // One look only: the gate's looks before it add to this. The stable's ratio is read low, so
      // the power claimed is a little under the real one.
      expect(rate).toBeGreaterThanOrEqual(cfg.power - 0.03);
      expect(rate).toBeLessThan(cfg.power + 0.08);
      // A third of the increase is caught far less often: the number is the edge, not a floor.
      expect(catchRate(t, seconds, (x as number) / 3, 7)).toBeLessThan(0.6);
    },
  );

  it('seconds to detect and the detectable increase answer each other', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1, max: 1000, noNaN: true }),
        fc.double({ min: 0.001, max: 0.1, noNaN: true }),
        fc.double({ min: 0.05, max: 0.5, noNaN: true }),
        fc.double({ min: 20, max: 400, noNaN: true }),
        (rps, errorRatio, weight, increase) => {
          const t = { canaryRps: rps * weight, stableRps: rps * (1 - weight), errorRatio };
          const s = secondsToDetect(t, increase, cfg, 86_400);
          if (s === undefined) return;
          const x = detectableErrorIncrease(t, s, cfg);
          expect(x).toBeDefined();
          expect(x as number).toBeLessThanOrEqual(increase + 0.2);
          // A second less is not enough.
          if (s > 1) expect(secondsToDetect(t, increase, cfg, s - 1)).toBeUndefined();
        },
      ),
      { seed: 20, numRuns: 200 },
    );
  });

  it('too little traffic: nothing is detectable, and a long wait is said as undefined', () => {
    const t = { canaryRps: 0.5, stableRps: 0.5, errorRatio: 0.001 };
    expect(detectableErrorIncrease(t, 600, cfg)).toBeUndefined();
    expect(secondsToDetect(t, 50, cfg, 3600)).toBeUndefined();
    // Below minRequests on either side nothing is judged at all.
    expect(
      detectableErrorIncrease({ canaryRps: 0.1, stableRps: 100, errorRatio: 0.5 }, 600, cfg),
    ).toBeUndefined();
  });
});
