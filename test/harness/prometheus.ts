import { sandbox } from './env.ts';

export interface Sample {
  metric: Record<string, string>;
  value: number;
}

/** An instant PromQL query against the sandbox's Prometheus; throws with Prometheus' own error. */
export async function promQuery(query: string): Promise<Sample[]> {
  const url = `${sandbox().PROMETHEUS_URL}/api/v1/query?query=${encodeURIComponent(query)}`;
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  if (body.status !== 'success' || !body.data)
    throw new Error(`Prometheus query failed: ${body.error ?? res.status} (${query})`);
  if (body.data.resultType !== 'vector')
    throw new Error(`expected a vector from ${query}, got ${body.data.resultType}`);
  return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}

/** The value of a query expected to return one series, or undefined while it returns none. */
export async function promScalar(query: string): Promise<number | undefined> {
  const r = await promQuery(query);
  if (r.length > 1) throw new Error(`expected at most one series from ${query}, got ${r.length}`);
  return r[0]?.value;
}
