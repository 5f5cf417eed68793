import { ISTIO_DURATION_BUCKETS_MS, sampleLatencies } from './latency.ts';
import { MetricsRegistry, type SourceLabels } from './metrics.ts';
import { binomial, multinomial, poisson, type Rng, seededRng } from './rng.ts';
import { compilePlans, type Plan } from './routing.ts';
import type { World } from './types.ts';

export interface SimulatorOptions {
  seed: number;
  source?: SourceLabels;
}

export const DEFAULT_SOURCE: SourceLabels = {
  source_workload: 'traffic-simulator',
  source_workload_namespace: 'sluice-sandbox',
};

/**
 * The pure core: a world in, metrics out. No clock and no I/O — the caller decides when a
 * tick happens and how long it is, so a seed plus a sequence of (world, dt) is reproducible.
 */
export class Simulator {
  readonly metrics: MetricsRegistry;
  private readonly rng: Rng;
  private plans: Plan[] = [];
  /** One batch's latencies before they are added to Istio's and Envoy's histograms. */
  private readonly scratch = new Float64Array(ISTIO_DURATION_BUCKETS_MS.length + 1);

  constructor(options: SimulatorOptions) {
    this.rng = seededRng(options.seed);
    this.metrics = new MetricsRegistry(options.source ?? DEFAULT_SOURCE);
  }

  setWorld(world: World): void {
    this.plans = compilePlans(world);
  }

  currentPlans(): readonly Plan[] {
    return this.plans;
  }

  tick(dtSeconds: number): number {
    let total = 0;
    for (const plan of this.plans) {
      const n = poisson(this.rng, plan.load.rps * dtSeconds);
      if (n === 0) continue;
      total += n;
      const split =
        plan.outcomes.length === 1
          ? [n]
          : multinomial(
              this.rng,
              n,
              plan.outcomes.map((o) => o.share),
            );
      plan.outcomes.forEach((o, i) => {
        this.record(o, split[i] ?? 0);
      });
      // Each copy is its own draw: a mirrored request is copied whatever its answer was.
      for (const m of plan.mirrors ?? []) this.record(m, binomial(this.rng, n, Math.min(1, m.share)));
    }
    return total;
  }

  /** `k` requests answered by one outcome, in the destination's series. */
  private record(o: Plan['outcomes'][number], k: number): void {
    if (k === 0) return;
    if (o.kind === 'fixed') {
      const s = this.metrics.get(o.labels, o.code);
      s.count += k;
      s.sum += k * o.latencyMs;
      // Fixed answers (503 no endpoint, 404 no route) come back in well under a millisecond.
      s.buckets[0] = (s.buckets[0] ?? 0) + k;
      // Envoy charges a cluster without healthy hosts its 503 but times no upstream request.
      if (o.envoyCluster !== undefined) this.metrics.envoy.count(o.envoyCluster, o.code, k);
      return;
    }
    const errors = binomial(this.rng, k, o.errorRate);
    for (const [code, count] of [
      [200, k - errors],
      [500, errors],
    ] as const) {
      if (count === 0) continue;
      const s = this.metrics.get(o.labels, code);
      s.export = o.metrics;
      s.count += count;
      if (o.envoyCluster === undefined) {
        s.sum += sampleLatencies(this.rng, o.latency, count, s.buckets);
        continue;
      }
      // The same draws for both data planes' histograms: one request, one duration.
      this.scratch.fill(0);
      const sum = sampleLatencies(this.rng, o.latency, count, this.scratch);
      for (let i = 0; i < this.scratch.length; i++)
        s.buckets[i] = (s.buckets[i] ?? 0) + (this.scratch[i] ?? 0);
      s.sum += sum;
      this.metrics.envoy.count(o.envoyCluster, code, count, o.metrics);
      this.metrics.envoy.time(o.envoyCluster, this.scratch, sum, o.metrics);
    }
  }
}
