// compareToStable's PromQL in a metrics flavour: counts over the window since the run started,
// grouped so canary and stable come back in one answer and sample sizes are known (increase(),
// not rate()). The absolute builtins read the same queries over their own window.

import { type Flavour, ISTIO } from '../flavour.ts';
import { type Destination, promDuration } from '../promql.ts';
import type { Sample } from '../provider.ts';
import type { Bucket } from './histogram.ts';
import type { ErrorCounts } from './judge.ts';

/** Replaced at each look by the time since the run started: every look sees all the evidence so far. */
export const WINDOW = '{{window}}';

export const withWindow = (query: string, windowMs: number): string =>
  query.replaceAll(WINDOW, promDuration(windowMs));

/** Both sides' series of a metric over the window, each marked as the flavour marks a side. */
const both = (metric: string, canary: Destination, stable: Destination, f: Flavour) =>
  `${f.tag(`increase(${metric}{${f.select(canary)}}[${WINDOW}])`, canary)} or ${f.tag(`increase(${metric}{${f.select(stable)}}[${WINDOW}])`, stable)}`;

export function requestCountsQuery(canary: Destination, stable: Destination, f: Flavour = ISTIO): string {
  return `sum by (${f.sideLabels(canary, stable)}, ${f.status}) (${both(f.requests, canary, stable, f)})`;
}

export function latencyBucketsQuery(canary: Destination, stable: Destination, f: Flavour = ISTIO): string {
  return `sum by (${f.sideLabels(canary, stable)}, le) (${both(f.buckets, canary, stable, f)})`;
}

/**
 * One side of a comparison in an answer. A bare string is a Service name: runs stored before
 * subset routing hold only those, and are still read.
 */
export interface Side {
  service: string;
  /** Under subset routing both sides share one Service: the canonical revision tells them apart. */
  revision?: string;
}

/** The side a run's metric block describes, with its revision when it has one. */
export const sideOf = (service: string, revision: string | undefined): Side =>
  revision === undefined ? { service } : { service, revision };

const asSide = (side: string | Side): Side => (typeof side === 'string' ? { service: side } : side);

/** A side as a person reads it: the Service (or subset) name, and the revision when it is what counts. */
export function describeSide(side: string | Side): string {
  const { service, revision } = asSide(side);
  return revision === undefined ? service : `${service} (revision ${revision})`;
}

const usable = (s: Sample) => Number.isFinite(s.value) && s.value >= 0;

const belongsTo = (s: Sample, side: string | Side, f: Flavour) => f.belongsTo(s.labels, asSide(side));

/**
 * Requests and 5xx answers of one side from the request-count series. A histogram bucket
 * (it has `le`) is not a request count: skipped, so an answer holding both kinds of series
 * cannot count each request once per bucket.
 */
export function errorCounts(
  samples: readonly Sample[],
  side: string | Side,
  f: Flavour = ISTIO,
): ErrorCounts {
  let requests = 0;
  let errors = 0;
  for (const s of samples) {
    if (!belongsTo(s, side, f) || !usable(s) || s.labels.le !== undefined) continue;
    requests += s.value;
    if (f.isError(s.labels)) errors += s.value;
  }
  return { requests, errors };
}

/** One side's cumulative buckets from the bucket series. */
export function bucketsOf(samples: readonly Sample[], side: string | Side, f: Flavour = ISTIO): Bucket[] {
  const out: Bucket[] = [];
  for (const s of samples) {
    if (!belongsTo(s, side, f) || !usable(s)) continue;
    const le = s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le);
    if (!Number.isNaN(le)) out.push({ le, count: s.value });
  }
  return out;
}
