// compareToStable's PromQL: counts over the window since the run started, grouped so canary and
// stable come back in one answer and sample sizes are known (increase(), not rate()).

import type { Sample } from '../provider.ts';
import { type Destination, promDuration, selector } from '../queries.ts';
import type { Bucket } from './histogram.ts';
import type { ErrorCounts } from './judge.ts';

/** Replaced at each look by the time since the run started: every look sees all the evidence so far. */
export const WINDOW = '{{window}}';

export const withWindow = (query: string, windowMs: number): string =>
  query.replaceAll(WINDOW, promDuration(windowMs));

const both = (metric: string, canary: Destination, stable: Destination) =>
  `increase(${metric}{${selector(canary)}}[${WINDOW}]) or increase(${metric}{${selector(stable)}}[${WINDOW}])`;

/**
 * The labels a side is found by in the answer. The revision joins only when a side has one, so
 * the queries stored in runs (and read by people) stay as they were without subset routing.
 */
const sides = (canary: Destination, stable: Destination) =>
  canary.revision === undefined && stable.revision === undefined
    ? 'destination_service_name'
    : 'destination_service_name, destination_canonical_revision';

export function requestCountsQuery(canary: Destination, stable: Destination): string {
  return `sum by (${sides(canary, stable)}, response_code) (${both('istio_requests_total', canary, stable)})`;
}

export function latencyBucketsQuery(canary: Destination, stable: Destination): string {
  return `sum by (${sides(canary, stable)}, le) (${both('istio_request_duration_milliseconds_bucket', canary, stable)})`;
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

function belongsTo(s: Sample, side: string | Side): boolean {
  const { service, revision } = asSide(side);
  return revision === undefined
    ? s.labels.destination_service_name === service
    : s.labels.destination_canonical_revision === revision;
}

/**
 * Requests and 5xx answers of one side from the request-count series. A histogram bucket
 * (it has `le`) is not a request count: skipped, so an answer holding both kinds of series
 * cannot count each request once per bucket.
 */
export function errorCounts(samples: readonly Sample[], side: string | Side): ErrorCounts {
  let requests = 0;
  let errors = 0;
  for (const s of samples) {
    if (!belongsTo(s, side) || !usable(s) || s.labels.le !== undefined) continue;
    requests += s.value;
    if (/^5/.test(s.labels.response_code ?? '')) errors += s.value;
  }
  return { requests, errors };
}

/** One side's cumulative buckets from the bucket series. */
export function bucketsOf(samples: readonly Sample[], side: string | Side): Bucket[] {
  const out: Bucket[] = [];
  for (const s of samples) {
    if (!belongsTo(s, side) || !usable(s)) continue;
    const le = s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le);
    if (!Number.isNaN(le)) out.push({ le, count: s.value });
  }
  return out;
}
