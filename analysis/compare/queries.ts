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

export function requestCountsQuery(canary: Destination, stable: Destination): string {
  return `sum by (destination_service_name, response_code) (${both('istio_requests_total', canary, stable)})`;
}

export function latencyBucketsQuery(canary: Destination, stable: Destination): string {
  return `sum by (destination_service_name, le) (${both('istio_request_duration_milliseconds_bucket', canary, stable)})`;
}

const usable = (s: Sample) => Number.isFinite(s.value) && s.value >= 0;

/**
 * Requests and 5xx answers of one Service from the request-count series. A histogram bucket
 * (it has `le`) is not a request count: skipped, so an answer holding both kinds of series
 * cannot count each request once per bucket.
 */
export function errorCounts(samples: readonly Sample[], service: string): ErrorCounts {
  let requests = 0;
  let errors = 0;
  for (const s of samples) {
    if (s.labels.destination_service_name !== service || !usable(s) || s.labels.le !== undefined) continue;
    requests += s.value;
    if (/^5/.test(s.labels.response_code ?? '')) errors += s.value;
  }
  return { requests, errors };
}

/** One Service's cumulative buckets from the bucket series. */
export function bucketsOf(samples: readonly Sample[], service: string): Bucket[] {
  const out: Bucket[] = [];
  for (const s of samples) {
    if (s.labels.destination_service_name !== service || !usable(s)) continue;
    const le = s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le);
    if (!Number.isNaN(le)) out.push({ le, count: s.value });
  }
  return out;
}
