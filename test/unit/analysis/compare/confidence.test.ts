import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  confidenceAgainst,
  interval,
  mixtureRadius,
  proportion,
  proportionDifference,
  tailBound,
} from '../../../../analysis/compare/confidence.ts';
import { binomial, seededRng } from '../../../../sandbox/traffic/rng.ts';

describe('always-valid confidence sequences (normal-mixture mSPRT)', () => {
  it('the radius is wider than a fixed-sample 99% interval and shrinks with the variance', () => {
    const v = 1e-4;
    const r = mixtureRadius(v, 0.01, 0.005);
    expect(r).toBeGreaterThan(2.33 * Math.sqrt(v));
    expect(mixtureRadius(v / 4, 0.01, 0.005)).toBeLessThan(r);
    expect(mixtureRadius(v, 0.001, 0.005)).toBeGreaterThan(r);
  });

  it('the interval excludes θ0 exactly when the confidence against θ0 reaches 1 − α', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -0.05, max: 0.05, noNaN: true }),
        fc.double({ min: 1e-8, max: 1e-3, noNaN: true }),
        fc.constantFrom(0.05, 0.01, 0.001),
        (estimate, variance, alpha) => {
          const iv = interval(estimate, variance, alpha, 0.005);
          const outside = iv.lower > 0 || iv.upper < 0;
          const reached = confidenceAgainst(estimate, variance, 0, 0.005) >= 1 - alpha;
          // Equal up to floating point at the very boundary.
          if (Math.abs(Math.abs(estimate) - (iv.upper - estimate)) > 1e-12) expect(outside).toBe(reached);
        },
      ),
    );
  });

  it('no confidence at all when the estimate sits on θ0', () => {
    expect(confidenceAgainst(0.01, 1e-5, 0.01, 0.005)).toBe(0);
  });

  it('Agresti–Caffo keeps a variance when an arm has no errors', () => {
    const d = proportionDifference(3, 100, 0, 1000);
    expect(d.variance).toBeGreaterThan(0);
    expect(d.estimate).toBeCloseTo(4 / 102 - 1 / 1002, 10);
    expect(proportion(0, 0)).toEqual({ estimate: 0.5, variance: 0.25 / 4 });
  });

  it('tailBound is a valid normal tail bound: above the exact 99% quantile', () => {
    expect(tailBound(0.01)).toBeGreaterThan(2.3263);
    expect(tailBound(0.01)).toBeLessThan(3.1);
  });

  it('looking after every batch, a true null is rejected at most α of the time (seeded simulation)', () => {
    // 400 releases, 30 looks each, identical arms at 1% errors, 500 requests per arm per look.
    const rng = seededRng(7);
    const alpha = 0.05;
    let rejected = 0;
    for (let r = 0; r < 400; r++) {
      let xc = 0;
      let xs = 0;
      let n = 0;
      for (let look = 0; look < 30; look++) {
        n += 500;
        xc += binomial(rng, 500, 0.01);
        xs += binomial(rng, 500, 0.01);
        const d = proportionDifference(xc, n, xs, n);
        const iv = interval(d.estimate, d.variance, alpha, 0.005);
        if (iv.lower > 0 || iv.upper < 0) {
          rejected++;
          break;
        }
      }
    }
    expect(rejected / 400).toBeLessThanOrEqual(alpha);
  });
});
