import { ISTIO_DURATION_BUCKETS_MS, sampleLatencies } from './latency.ts';
import { MetricsRegistry, type SourceLabels } from './metrics.ts';
import { binomial, multinomial, poisson, type Rng, seededRng } from './rng.ts';
import { compileRouting, type Outcome, type Plan } from './routing.ts';
import type { LoadClass, World } from './types.ts';

export interface SimulatorOptions {
  seed: number;
  source?: SourceLabels;
}

/** A client that keeps cookies, and the revisions that answered it, in order (repeats folded). */
interface Session {
  cookies: Map<string, string>;
  seen: string[];
}

const loadKey = (l: LoadClass) => JSON.stringify([l.host, l.path, l.method, l.headers]);

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
  private planFor: (load: LoadClass) => Plan = (load) => ({ load, outcomes: [], via: 'no world yet' });
  /** Plans for a load with a session's cookies, per world: a handful of cookie values per load. */
  private readonly cookiePlans = new Map<string, Plan>();
  /** Sessions per load class; they outlive world changes, as clients outlive a route's edit. */
  private readonly sessions = new Map<string, Session[]>();
  /** One batch's latencies before they are added to Istio's and Envoy's histograms. */
  private readonly scratch = new Float64Array(ISTIO_DURATION_BUCKETS_MS.length + 1);

  constructor(options: SimulatorOptions) {
    this.rng = seededRng(options.seed);
    this.metrics = new MetricsRegistry(options.source ?? DEFAULT_SOURCE);
  }

  setWorld(world: World): void {
    const routing = compileRouting(world);
    this.plans = routing.plans;
    this.planFor = routing.planFor;
    this.cookiePlans.clear();
  }

  /** Each session's revisions, in the order they answered it, per load class that has sessions. */
  currentSessions(): { load: LoadClass; seen: string[][] }[] {
    return this.plans
      .filter((p) => p.load.sessions !== undefined)
      .map((p) => ({
        load: p.load,
        seen: (this.sessions.get(loadKey(p.load)) ?? []).map((s) => [...s.seen]),
      }));
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
      if (plan.load.sessions !== undefined) {
        this.tickSessions(plan, n);
        continue;
      }
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

  /**
   * Requests one at a time, each from a session picked at random: its cookies choose the route,
   * and a cookie the answer sets is kept for its next request.
   */
  private tickSessions(plan: Plan, n: number): void {
    const count = plan.load.sessions ?? 1;
    const key = loadKey(plan.load);
    let sessions = this.sessions.get(key);
    if (sessions?.length !== count) {
      sessions = Array.from({ length: count }, () => ({ cookies: new Map(), seen: [] }));
      this.sessions.set(key, sessions);
    }
    for (let i = 0; i < n; i++) {
      const s = sessions[Math.floor(this.rng.next() * count)] as Session;
      const cookie = [...s.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
      const p = cookie ? this.withCookie(plan.load, cookie) : plan;
      const o = this.draw(p.outcomes);
      if (!o) continue;
      this.record(o, 1);
      for (const m of p.mirrors ?? []) if (this.rng.next() < m.share) this.record(m, 1);
      if (o.setCookie) {
        const at = o.setCookie.indexOf('=');
        if (at > 0) s.cookies.set(o.setCookie.slice(0, at), o.setCookie.slice(at + 1));
      }
      if (o.kind === 'pods' && s.seen.at(-1) !== o.revision) s.seen.push(o.revision);
    }
  }

  private withCookie(load: LoadClass, cookie: string): Plan {
    const key = `${loadKey(load)}\0${cookie}`;
    let p = this.cookiePlans.get(key);
    if (!p) {
      p = this.planFor({ ...load, headers: { ...load.headers, cookie } });
      this.cookiePlans.set(key, p);
    }
    return p;
  }

  private draw(outcomes: readonly Outcome[]): Outcome | undefined {
    let u = this.rng.next();
    for (const o of outcomes) {
      if (u < o.share) return o;
      u -= o.share;
    }
    return outcomes.at(-1);
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
