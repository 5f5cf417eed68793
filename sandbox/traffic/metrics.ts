import { EnvoyClusterStats } from './envoy-metrics.ts';
import { ISTIO_DURATION_BUCKETS_MS } from './latency.ts';
import type { DestinationLabels } from './routing.ts';
import type { MetricsExport } from './types.ts';

/** One label set of istio_requests_total and its matching duration histogram. */
export interface Series {
  labels: string;
  count: number;
  sum: number;
  /** Non-cumulative counts per bucket, plus +Inf in the last slot. */
  buckets: Float64Array;
  /** As the revision last serving it asks: counted (default), NaN, or left out. */
  export?: MetricsExport;
  /** The exposition lines up to the value, built once: rendering is then mostly concatenation. */
  lines?: { total: string; buckets: string[]; sum: string; count: string };
}

export interface SourceLabels {
  source_workload: string;
  source_workload_namespace: string;
}

const BUCKET_LABELS = [...ISTIO_DURATION_BUCKETS_MS.map((b) => String(b)), '+Inf'];

/**
 * Counters only ever grow and a series, once seen, is exported for the life of the process,
 * as with Envoy's stats: Prometheus' rate() depends on both.
 */
export class MetricsRegistry {
  private readonly series = new Map<string, Series>();
  private readonly labelPrefixCache = new WeakMap<DestinationLabels, string>();
  /** The same requests as Envoy Gateway's proxy counts them, for requests an HTTPRoute routed. */
  readonly envoy = new EnvoyClusterStats();

  constructor(private readonly source: SourceLabels) {}

  get(dest: DestinationLabels, code: number): Series {
    let prefix = this.labelPrefixCache.get(dest);
    if (prefix === undefined) {
      prefix = this.renderLabels(dest);
      this.labelPrefixCache.set(dest, prefix);
    }
    const key = `${prefix},response_code="${code}"`;
    let s = this.series.get(key);
    if (!s) {
      s = { labels: key, count: 0, sum: 0, buckets: new Float64Array(ISTIO_DURATION_BUCKETS_MS.length + 1) };
      this.series.set(key, s);
    }
    return s;
  }

  size(): number {
    return this.series.size;
  }

  all(): IterableIterator<Series> {
    return this.series.values();
  }

  render(): string {
    const out: string[] = [
      '# HELP istio_requests_total Total requests (simulated by the Sluice sandbox traffic simulator).',
      '# TYPE istio_requests_total counter',
    ];
    const all = [...this.series.values()].filter((s) => s.export !== 'absent');
    const value = (s: Series, v: number) => (s.export === 'nan' ? 'NaN' : v);
    for (const s of all) out.push(`${linesOf(s).total}${value(s, s.count)}`);
    out.push(
      '# HELP istio_request_duration_milliseconds Request duration (simulated by the Sluice sandbox traffic simulator).',
      '# TYPE istio_request_duration_milliseconds histogram',
    );
    for (const s of all) {
      const l = linesOf(s);
      let cumulative = 0;
      for (let i = 0; i < l.buckets.length; i++) {
        cumulative += s.buckets[i] ?? 0;
        out.push(`${l.buckets[i]}${value(s, cumulative)}`);
      }
      out.push(`${l.sum}${value(s, s.sum)}`, `${l.count}${value(s, s.count)}`);
    }
    out.push(...this.envoy.render(), '');
    return out.join('\n');
  }

  private renderLabels(d: DestinationLabels): string {
    const pairs: [string, string][] = [
      ['reporter', 'destination'],
      ['source_workload', this.source.source_workload],
      ['source_workload_namespace', this.source.source_workload_namespace],
      ['destination_service', d.destination_service],
      ['destination_service_name', d.destination_service_name],
      ['destination_service_namespace', d.destination_service_namespace],
      ['destination_workload', d.destination_workload],
      ['destination_workload_namespace', d.destination_workload_namespace],
      ['destination_version', d.destination_version],
      ['destination_canonical_service', d.destination_canonical_service],
      ['destination_canonical_revision', d.destination_canonical_revision],
      ['request_protocol', 'http'],
    ];
    return pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',');
  }
}

function linesOf(s: Series): NonNullable<Series['lines']> {
  s.lines ??= {
    total: `istio_requests_total{${s.labels}} `,
    buckets: BUCKET_LABELS.map((le) => `istio_request_duration_milliseconds_bucket{${s.labels},le="${le}"} `),
    sum: `istio_request_duration_milliseconds_sum{${s.labels}} `,
    count: `istio_request_duration_milliseconds_count{${s.labels}} `,
  };
  return s.lines;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
