// Always-valid confidence sequences: intervals that hold at every look at once, so a gate may
// look after each interval and stop at the first decisive one without inflating its error rate.
//
// Method: the normal-mixture sequential probability ratio test (mSPRT; Robbins 1970, as used
// for always-valid A/B testing by Johari, Pekelis and Walsh, "Always Valid Inference", 2017).
// For an estimate with variance V and a N(θ0, τ²) mixture over the alternative, the likelihood
// ratio is Λ = sqrt(V / (V + τ²)) · exp(τ² (θ̂ − θ0)² / (2 V (V + τ²))). Rejecting θ0 when
// Λ ≥ 1/α keeps the chance of ever rejecting a true θ0, over any number of looks, at most α.
// Inverting it gives the radius below.

/** An estimate, its variance, and the interval around it that holds at every look. */
export interface Interval {
  estimate: number;
  variance: number;
  lower: number;
  upper: number;
}

/**
 * Half-width of the always-valid interval at level 1 − alpha:
 * sqrt(V (V + τ²) / τ² · (2 ln(1/α) + ln((V + τ²) / V))).
 */
export function mixtureRadius(variance: number, alpha: number, tau: number): number {
  const v = Math.max(variance, Number.MIN_VALUE);
  const t2 = tau * tau;
  return Math.sqrt(((v * (v + t2)) / t2) * (2 * Math.log(1 / alpha) + Math.log((v + t2) / v)));
}

/**
 * The confidence reached against θ0: 1 − 1/Λ(θ0), 0 when the data do not speak against it.
 * Always-valid: the probability that it ever reaches 1 − α while θ0 is true is at most α.
 */
export function confidenceAgainst(estimate: number, variance: number, theta0: number, tau: number): number {
  const v = Math.max(variance, Number.MIN_VALUE);
  const t2 = tau * tau;
  const d = estimate - theta0;
  const logLambda = 0.5 * Math.log(v / (v + t2)) + (t2 * d * d) / (2 * v * (v + t2));
  return logLambda <= 0 ? 0 : 1 - Math.exp(-logLambda);
}

export function interval(estimate: number, variance: number, alpha: number, tau: number): Interval {
  const r = mixtureRadius(variance, alpha, tau);
  return { estimate, variance, lower: estimate - r, upper: estimate + r };
}

/**
 * p_canary − p_stable from counts, with Agresti–Caffo's adjustment (one success and one
 * failure added to each arm): the plain Wald variance is zero when an arm has no errors, which
 * would make a handful of canary errors look certain.
 */
export function proportionDifference(
  canaryHits: number,
  canaryTotal: number,
  stableHits: number,
  stableTotal: number,
): { estimate: number; variance: number } {
  const pc = (canaryHits + 1) / (canaryTotal + 2);
  const ps = (stableHits + 1) / (stableTotal + 2);
  return {
    estimate: pc - ps,
    variance: (pc * (1 - pc)) / (canaryTotal + 2) + (ps * (1 - ps)) / (stableTotal + 2),
  };
}

/** One proportion, Agresti–Coull adjusted (two successes and two failures added). */
export function proportion(hits: number, total: number): { estimate: number; variance: number } {
  const p = (hits + 2) / (total + 4);
  return { estimate: p, variance: (p * (1 - p)) / (total + 4) };
}

/** A one-sided normal tail bound without an inverse CDF: P(Z > z) ≤ exp(−z²/2) for z > 0. */
export const tailBound = (alpha: number): number => Math.sqrt(2 * Math.log(1 / alpha));

/**
 * Φ(z), the standard normal CDF, through erfc (Numerical Recipes' Chebyshev fit, relative
 * error below 1.2e-7): enough for a power that is compared with 0.9.
 */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const erfc =
    t *
    Math.exp(
      -x * x -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return z >= 0 ? 1 - erfc / 2 : erfc / 2;
}

/**
 * Power by this look: the chance that the always-valid test has called the quantity worse than
 * its margin by now, were it truly `shift` above the margin with variance `variance` at this
 * look. P(estimate − radius > margin) = Φ((shift − radius) / √V). It counts only this look, so
 * it is a lower bound on the sequential test's chance of having caught it at this or any
 * earlier look: passing once it reaches 1 − β lets a regression of that size through at most β
 * of the time.
 */
export function powerAt(shift: number, variance: number, alpha: number, tau: number): number {
  const v = Math.max(variance, Number.MIN_VALUE);
  return normalCdf((shift - mixtureRadius(v, alpha, tau)) / Math.sqrt(v));
}

/**
 * A deliberately low reading of a proportion for power: the Agresti–Coull estimate one standard
 * error down. Power grows with the stable's error ratio, so an estimate that happens to be high
 * would claim power the data do not have; one SE down keeps that to about one look in six.
 */
export function lowProportion(hits: number, total: number): number {
  const p = proportion(hits, total);
  return Math.max(0, p.estimate - Math.sqrt(p.variance));
}
