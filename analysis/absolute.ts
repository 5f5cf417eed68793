// The absolute builtins (successRate, latencyP99) judged on counts, not on a percentage: a
// threshold is broken only when a confidence bound says so, a window with too few requests is
// no verdict, and a stable version breaking the same threshold in the same window makes it a
// shared incident rather than the canary's fault. Pure: counts in, a judgement out. The
// statistics are compareToStable's (analysis/compare/), so both gates mean the same by "bound".
import { proportion, proportionDifference, tailBound } from './compare/confidence.ts';
import { type Bucket, countAbove, quantile, totalOf } from './compare/histogram.ts';
import type { ErrorCounts } from './compare/judge.ts';

/** Chosen on bench/detection (bench/RESULTS.md, "Absolute builtins"). */
export const DEFAULT_ABSOLUTE_CONFIDENCE = 0.99;
export const DEFAULT_ABSOLUTE_MIN_REQUESTS = 10;

/**
 * pass: the canary's window is within the threshold and not confidently past it, nor is the
 * stable. fail: the canary is confidently past it, and the stable is not (or is better by more
 * than the threshold allows and than its own share). undecided: the canary's window is past the
 * threshold but not confidently: no strike for a rollback, and no pass either. sharedIncident:
 * both break it and the canary's excess over the stable is within that, or the stable is
 * confidently past it whatever the canary shows. tooFewRequests: the canary had fewer than
 * minRequests in the window.
 */
export type AbsoluteVerdict = 'pass' | 'fail' | 'undecided' | 'sharedIncident' | 'tooFewRequests';

/** One version over the window: its share of bad requests (5xx, or slower than maxMs) with bounds. */
export interface SideShare {
  requests: number;
  bad: number;
  share: number;
  lower: number;
  upper: number;
}

export interface AbsoluteJudgement {
  verdict: AbsoluteVerdict;
  /** The largest share of bad requests the threshold allows. */
  allowed: number;
  canary: SideShare;
  /** Absent when there is no stable version to compare with (the first release, after a blue-green switch). */
  stable?: SideShare;
  /** Lower bound of (canary share − stable share): above `allowed` and the stable's share, the canary is to blame even in an incident. */
  worseBy?: number;
}

export interface AbsoluteOptions {
  confidence: number;
  minRequests: number;
}

/**
 * A one-sided bound at `confidence` for each look. The width is √(2 ln(1/α)) standard errors
 * (compare/confidence.ts tailBound), wider than the normal quantile, so a canary exactly at
 * the threshold fails a look with less than 1 − confidence chance; with the Agresti–Coull
 * estimate a window without errors still has a width.
 */
function side(bad: number, requests: number, z: number): SideShare {
  const p = proportion(bad, requests);
  const r = z * Math.sqrt(p.variance);
  return {
    requests,
    bad,
    share: requests > 0 ? bad / requests : 0,
    lower: Math.max(0, p.estimate - r),
    upper: Math.min(1, p.estimate + r),
  };
}

/** The judgement shared by both builtins: shares of bad requests against the allowed share. */
export function judgeShares(
  canary: { bad: number; requests: number },
  stable: { bad: number; requests: number } | undefined,
  allowed: number,
  opts: AbsoluteOptions,
): AbsoluteJudgement {
  const z = tailBound(1 - opts.confidence);
  const c = side(canary.bad, canary.requests, z);
  const s = stable && stable.requests > 0 ? side(stable.bad, stable.requests, z) : undefined;
  const base = { allowed, canary: c, ...(s ? { stable: s } : {}) };
  if (c.requests < opts.minRequests) return { verdict: 'tooFewRequests', ...base };
  const stableCounts = s !== undefined && s.requests >= opts.minRequests;
  if (c.lower <= allowed) {
    // A stable that is itself confidently past the threshold is an incident whatever the
    // canary's window shows: a lucky canary look in the middle of one is no reason to go on.
    const incident = s !== undefined && stableCounts && s.lower > allowed;
    if (incident) return { verdict: 'sharedIncident', ...base };
    // A bound wide enough to hold the threshold is not evidence of health: a window of a dozen
    // requests from a canary failing 60% can read 80% (increase() extrapolates each series on
    // its own), which the bound cannot blame but must not pass either (a background gate's one
    // passing look lets the release finish its steps).
    return { verdict: c.share > allowed ? 'undecided' : 'pass', ...base };
  }
  // The stable breaks the threshold when its own share does: the literal "stable is past it too".
  // A stable with too few requests says nothing about an incident, so the canary is blamed.
  if (!s || !stableCounts || s.share <= allowed) return { verdict: 'fail', ...base };
  // Both break it. A canary whose excess over the stable is itself past the allowance and past
  // the stable's own share (twice as bad as the stable, with the same confidence) is still to
  // blame: rolling it back helps even during an incident. A smaller difference is not: a healthy
  // canary differs from stable by a few percent of its rate, which at an incident's 10% errors
  // and thousands of requests is "significant" and means nothing; and Prometheus' increase()
  // over a few scrapes spreads two versions' windows wider than binomial counts would (seen in
  // the sandbox: both at 8%, one 4-second window read 4% and 11%).
  const d = proportionDifference(c.bad, c.requests, s.bad, s.requests);
  const worseBy = d.estimate - z * Math.sqrt(d.variance);
  return { verdict: worseBy > Math.max(allowed, s.share) ? 'fail' : 'sharedIncident', ...base, worseBy };
}

/** successRate: bad requests are 5xx answers; the threshold allows 100 − min percent of them. */
export function judgeSuccessRate(
  canary: ErrorCounts,
  stable: ErrorCounts | undefined,
  minPercent: number,
  opts: AbsoluteOptions,
): AbsoluteJudgement {
  const allowed = Math.max(0, 1 - minPercent / 100);
  return judgeShares(
    { bad: canary.errors, requests: canary.requests },
    stable && { bad: stable.errors, requests: stable.requests },
    allowed,
    opts,
  );
}

/** Share of requests above the p99 by definition. */
const P99_TAIL = 0.01;

/**
 * latencyP99: the p99 is above maxMs exactly when more than 1% of requests are slower than
 * maxMs (compareToStable's latencyP99 uses the same identity), so the test is on that share,
 * read from the histogram with histogram_quantile's linear interpolation.
 */
export function judgeLatencyP99(
  canary: readonly Bucket[],
  stable: readonly Bucket[] | undefined,
  maxMs: number,
  opts: AbsoluteOptions,
): AbsoluteJudgement {
  const slow = (b: readonly Bucket[]) => ({ bad: countAbove(b, maxMs), requests: totalOf(b) });
  return judgeShares(slow(canary), stable && slow(stable), P99_TAIL, opts);
}

export const p99Of = (buckets: readonly Bucket[]): number | undefined => quantile(buckets, 0.99);
