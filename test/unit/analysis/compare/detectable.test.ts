import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  allowedIncreaseFor,
  detectableErrorIncrease,
  detectableSlowShare,
  type ExpectedTraffic,
  secondsToDetect,
  secondsToDetectSlowShare,
} from '../../../../analysis/compare/detectable.ts';
import type { Bucket } from '../../../../analysis/compare/histogram.ts';
import { compareErrors, compareLatencyP99 } from '../../../../analysis/compare/judge.ts';
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

/**
 * Istio-like buckets where the bar is known: the stable has exactly 1% of its requests in
 * (100, 250] ms, so its p99 is 100 ms and the bar (1.2×, read high by the judge's slack) stays
 * under 300 ms; the canary's slow requests sit in (1000, 2500], above any bar, and its others
 * under 100 ms. So the canary's share above the bar is exactly its slow share.
 */
function latencyHistograms(canary: number, canarySlow: number, stable: number, stableTail: number) {
  const buckets = (fast: number, tail: number, slow: number): Bucket[] => [
    { le: 100, count: fast },
    { le: 250, count: fast + tail },
    { le: 1000, count: fast + tail },
    { le: 2500, count: fast + tail + slow },
    { le: Number.POSITIVE_INFINITY, count: fast + tail + slow },
  ];
  return {
    canary: buckets(canary - canarySlow, 0, canarySlow),
    stable: buckets(stable - stableTail, stableTail, 0),
  };
}

const common = { alpha: 1 - cfg.confidence, minRequests: cfg.minRequests, power: cfg.power };

/**
 * The real latencyP99 judge, one look after `seconds`, on simulated slow requests: the share it
 * calls worse. The request counts are the expected ones, which is what the figure is for: at a
 * few hundred requests the judge's radius grows like its variance (τ is half a point), so a
 * canary that happens to get fewer requests loses more power than the normal rule says.
 */
function slowCatchRate(t: ExpectedTraffic, seconds: number, slowPercent: number, seed: number, n = 1500) {
  const rng = seededRng(seed);
  const nc = Math.round(t.canaryRps * seconds);
  const ns = Math.round(t.stableRps * seconds);
  let caught = 0;
  for (let i = 0; i < n; i++) {
    const h = latencyHistograms(nc, binomial(rng, nc, slowPercent / 100), ns, binomial(rng, ns, 0.01));
    if (compareLatencyP99(h.canary, h.stable, 20, common).verdict === 'worse') caught++;
  }
  return caught / n;
}

describe('what a compareToStable latencyP99 check can see', () => {
  const cases: [string, ExpectedTraffic, number][] = [
    ['500 rps at 10% canary, 10 minutes', { canaryRps: 50, stableRps: 450, errorRatio: 0 }, 600],
    ['50 rps at 10%, 10 minutes', { canaryRps: 5, stableRps: 45, errorRatio: 0 }, 600],
    ['20 rps at 10%, an hour', { canaryRps: 2, stableRps: 18, errorRatio: 0 }, 3600],
  ];
  it.each(cases)(
    '%s: the real judge calls the detectable share of slow requests worse about as often as the stated power',
    (_, t, seconds) => {
      const x = detectableSlowShare(t, seconds, cfg);
      expect(x).toBeDefined();
      expect(x as number).toBeGreaterThan(1);
      const rate = slowCatchRate(t, seconds, x as number, 20261208);
      expect(rate).toBeGreaterThanOrEqual(cfg.power - 0.03);
      expect(rate).toBeLessThan(cfg.power + 0.08);
      // A third of the way from the 1% a p99 allows is caught far less often.
      expect(slowCatchRate(t, seconds, 1 + ((x as number) - 1) / 3, 9)).toBeLessThan(0.6);
    },
  );

  it("the time to detect the configured 2% is when the judge's own power rule first passes", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.5, max: 500, noNaN: true }),
        fc.double({ min: 0.05, max: 0.5, noNaN: true }),
        (rps, weight) => {
          const t = { canaryRps: rps * weight, stableRps: rps * (1 - weight), errorRatio: 0 };
          const s = secondsToDetectSlowShare(t, 2, cfg, 86_400);
          if (s === undefined) return;
          // A canary at the 1% a p99 allows: the bounds cannot decide, so only the power passes it.
          const judged = (seconds: number) => {
            const nc = t.canaryRps * seconds;
            const ns = t.stableRps * seconds;
            const h = latencyHistograms(nc, nc * 0.01, ns, ns * 0.01);
            return compareLatencyP99(h.canary, h.stable, 20, common);
          };
          const at = judged(s);
          expect(at.regression).toBe(2);
          expect(at.verdict).toBe('notWorse');
          // A second earlier the judge would not pass yet.
          expect(['undecided', 'tooFewRequests']).toContain(judged(s - 1).verdict);
          // And the share it detects by then is the configured one or less.
          expect(detectableSlowShare(t, s, cfg) as number).toBeLessThanOrEqual(2.01);
        },
      ),
      { seed: 21, numRuns: 200 },
    );
  });

  it('too little traffic: nothing is detectable, and a long wait is said as undefined', () => {
    const t = { canaryRps: 0.01, stableRps: 0.09, errorRatio: 0 };
    expect(detectableSlowShare(t, 600, cfg)).toBeUndefined();
    expect(secondsToDetectSlowShare(t, 2, cfg, 3600)).toBeUndefined();
  });
});
