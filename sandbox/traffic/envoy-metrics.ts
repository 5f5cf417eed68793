// Envoy's upstream cluster statistics as Envoy Gateway's proxies export them on
// /stats/prometheus: `cluster.<name>.upstream_rq_<class>xx` becomes envoy_cluster_upstream_rq_xx
// with envoy_response_code_class, and `upstream_rq_time` a histogram in milliseconds with
// Envoy's default buckets (the same bounds as Istio's, which are Envoy's). Cluster names are
// Envoy Gateway's (docs/analysis.md, "Flavours"); routing.ts decides which one a request meets.
import { ISTIO_DURATION_BUCKETS_MS } from './latency.ts';
import type { MetricsExport } from './types.ts';

interface Counter {
  line: string;
  count: number;
  export?: MetricsExport;
}

interface Histogram {
  cluster: string;
  sum: number;
  count: number;
  /** Non-cumulative counts per bucket, plus +Inf in the last slot. */
  buckets: Float64Array;
  export?: MetricsExport;
}

const BUCKET_LABELS = [...ISTIO_DURATION_BUCKETS_MS.map((b) => String(b)), '+Inf'];
const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** Like Envoy's stats, a series once seen is exported for the life of the process. */
export class EnvoyClusterStats {
  private readonly counters = new Map<string, Counter>();
  private readonly histograms = new Map<string, Histogram>();

  /** `k` requests of one cluster answered with `code`. */
  count(cluster: string, code: number, k: number, exported?: MetricsExport): void {
    const klass = String(Math.floor(code / 100));
    const key = `${cluster}\0${klass}`;
    let c = this.counters.get(key);
    if (!c) {
      const labels = `envoy_response_code_class="${klass}",envoy_cluster_name="${escapeLabel(cluster)}"`;
      c = { line: `envoy_cluster_upstream_rq_xx{${labels}} `, count: 0 };
      this.counters.set(key, c);
    }
    c.count += k;
    if (exported !== undefined) c.export = exported;
  }

  /** Upstream request times of one cluster: add `buckets` (non-cumulative) and their `sum`. */
  time(cluster: string, buckets: Float64Array, sum: number, exported?: MetricsExport): void {
    let h = this.histograms.get(cluster);
    if (!h) {
      h = { cluster, sum: 0, count: 0, buckets: new Float64Array(BUCKET_LABELS.length) };
      this.histograms.set(cluster, h);
    }
    for (let i = 0; i < buckets.length; i++) {
      const n = buckets[i] ?? 0;
      h.buckets[i] = (h.buckets[i] ?? 0) + n;
      h.count += n;
    }
    h.sum += sum;
    if (exported !== undefined) h.export = exported;
  }

  render(): string[] {
    const out = ['# TYPE envoy_cluster_upstream_rq_xx counter'];
    const value = (e: MetricsExport | undefined, v: number) => (e === 'nan' ? 'NaN' : v);
    for (const c of this.counters.values()) {
      if (c.export !== 'absent') out.push(`${c.line}${value(c.export, c.count)}`);
    }
    out.push('# TYPE envoy_cluster_upstream_rq_time histogram');
    for (const h of this.histograms.values()) {
      if (h.export === 'absent') continue;
      const name = `envoy_cluster_name="${escapeLabel(h.cluster)}"`;
      let cumulative = 0;
      BUCKET_LABELS.forEach((le, i) => {
        cumulative += h.buckets[i] ?? 0;
        out.push(`envoy_cluster_upstream_rq_time_bucket{${name},le="${le}"} ${value(h.export, cumulative)}`);
      });
      out.push(
        `envoy_cluster_upstream_rq_time_sum{${name}} ${value(h.export, h.sum)}`,
        `envoy_cluster_upstream_rq_time_count{${name}} ${value(h.export, h.count)}`,
      );
    }
    return out;
  }
}
