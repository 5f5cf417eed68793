// The last hour's traffic to a Rollout's stable and canary Services, asked of Prometheus once
// when a compareToStable gate starts (and by `kubectl sluice lint`). One small query with its
// own deadline, cached per (Prometheus, namespace, Services, revisions), so a busy controller
// asks each Service at most once per TTL whatever the number of runs.

import { describeSide, errorCounts, requestCountsQuery, type Side, withWindow } from './compare/queries.ts';
import type { TrafficHistory } from './detectability.ts';
import { type Flavour, ISTIO } from './flavour.ts';
import type { Destination } from './promql.ts';
import type { MetricProvider, Sample } from './provider.ts';
import { TtlCache } from './ttl-cache.ts';

export const HISTORY_MS = 3_600_000;
/**
 * Resolution of the subquery that finds how much of the hour had traffic at all: the time found
 * is off by up to one step (5 s in an hour: nothing; at a minute's history, under a tenth).
 * 720 steps of a two-series sum, once per Services per TTL.
 */
const PRESENCE_STEP_S = 5;

/**
 * Requests per second by Service (and revision, under subset routing) and response code over
 * the part of the last hour that had traffic. `increase` over 1h divides nothing by time, so it
 * is divided by the seconds in which either side had a series: a side first seen ten minutes
 * ago is not taken for one sixth of its real rate. The Services' requests are the usual request counts (compare/queries.ts).
 */
export function trafficHistoryQuery(canary: Destination, stable: Destination, f: Flavour = ISTIO): string {
  const counts = withWindow(requestCountsQuery(canary, stable, f), HISTORY_MS);
  const either = `${f.requests}{${f.select(canary)}} or ${f.requests}{${f.select(stable)}}`;
  const present = `count_over_time((sum(${either}))[1h:${PRESENCE_STEP_S}s])`;
  return `${counts} / scalar(${present} * ${PRESENCE_STEP_S})`;
}

/** The answer as traffic, or why there is none to speak of. */
export function trafficFromSamples(
  samples: readonly Sample[],
  canarySide: string | Side,
  stableSide: string | Side,
  f: Flavour = ISTIO,
): TrafficHistory | { missing: string } {
  const canary = errorCounts(samples, canarySide, f);
  const stable = errorCounts(samples, stableSide, f);
  const rps = canary.requests + stable.requests;
  const [stableName, canaryName] = [describeSide(stableSide), describeSide(canarySide)];
  if (!(rps > 0))
    return { missing: `Prometheus has no requests to ${stableName} or ${canaryName} in the last hour` };
  if (!(stable.requests > 0))
    return { missing: `Prometheus has no requests to ${stableName} in the last hour` };
  return { requestsPerSecond: rps, stableErrorRatio: stable.errors / stable.requests };
}

export interface TrafficHistoryOptions {
  /** How long an answer (or a failure) is kept. Default 5 minutes. */
  ttlMs?: number;
  /** Most keys kept: tenants choose Service names, so the map must not grow with them. Default 256. */
  maxEntries?: number;
  now?: () => number;
}

/** Traffic per (flavour, Prometheus, namespace, stable, canary, their revisions or clusters), cached with a TTL and bounded (oldest out). */
export class TrafficHistoryCache {
  private readonly cache: TtlCache<TrafficHistory | { missing: string }>;

  constructor(opts: TrafficHistoryOptions = {}) {
    this.cache = new TtlCache({
      ttlMs: opts.ttlMs ?? 5 * 60_000,
      maxEntries: opts.maxEntries ?? 256,
      now: opts.now ?? Date.now,
    });
  }

  get size(): number {
    return this.cache.size;
  }

  /** `provider` carries its own deadline (the caller picks a short one: a run start waits on it). */
  get(
    provider: MetricProvider,
    canary: Destination,
    stable: Destination,
    f: Flavour = ISTIO,
  ): Promise<TrafficHistory | { missing: string }> {
    // Under subset routing the Service names stay while the revisions change with each release:
    // without the revisions a new release would be told the last one's traffic.
    const key = JSON.stringify([
      f.name,
      provider.address,
      canary.namespace,
      stable.service,
      canary.service,
      stable.revision ?? null,
      canary.revision ?? null,
      stable.clusters ?? null,
      canary.clusters ?? null,
    ]);
    return this.cache.get(key, () => readTraffic(provider, canary, stable, f));
  }
}

/** One query; a failure is an answer too ("Prometheus did not answer", `failed`), never a guess. */
export async function readTraffic(
  provider: MetricProvider,
  canary: Destination,
  stable: Destination,
  f: Flavour = ISTIO,
): Promise<TrafficHistory | { missing: string; failed?: true }> {
  try {
    const samples = await provider.series(trafficHistoryQuery(canary, stable, f));
    return trafficFromSamples(samples, canary, stable, f);
  } catch (err) {
    return {
      missing: (err as Error).message.split('; query:')[0] ?? 'Prometheus did not answer',
      failed: true,
    };
  }
}
