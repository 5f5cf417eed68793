import { describe, expect, it } from 'vitest';
import { PrometheusProvider, ProviderError } from '../../analysis/provider.ts';
import { escapeLabelValue } from '../../analysis/queries.ts';
import { sandbox } from '../harness/env.ts';
import { silentServer } from '../support/silent-server.ts';

// The provider against the sandbox's real Prometheus: what Prometheus returns for scalars,
// vectors, NaN, Inf, empty results, parse errors and a dead address.
describe('Prometheus provider (real Prometheus)', () => {
  const prom = () => new PrometheusProvider({ address: sandbox().PROMETHEUS_URL, timeoutMs: 5_000 });

  it('a scalar and a one-series vector are values', async () => {
    await expect(prom().query('scalar(vector(2.5))')).resolves.toEqual({ kind: 'value', value: 2.5 });
    await expect(prom().query('vector(42)')).resolves.toEqual({ kind: 'value', value: 42 });
  });

  it('NaN, +Inf, -Inf and empty results are no data', async () => {
    for (const q of [
      'vector(0) / vector(0)',
      'vector(1) / vector(0)',
      'vector(-1) / vector(0)',
      'scalar(vector(0)/0)',
    ]) {
      expect((await prom().query(q)).kind, q).toBe('none');
    }
    const empty = await prom().query('istio_requests_total{destination_service_name="no-such-service"}');
    expect(empty).toEqual({ kind: 'none', reason: 'the query returned no series' });
  });

  it('several series: a list for templates, an error saying how many for builtins', async () => {
    const q = 'label_replace(vector(1), "x", "a", "", "") or label_replace(vector(2), "x", "b", "", "")';
    const list = await prom().query(q);
    expect(list.kind).toBe('list');
    await expect(prom().query(q, { expect: 'scalar' })).rejects.toThrow(
      /2 series where one value was expected/,
    );
  });

  it('series keep their labels (compareToStable tells canary from stable by them)', async () => {
    const q =
      'label_replace(vector(1), "destination_service_name", "web-canary", "", "") or label_replace(vector(2.5), "destination_service_name", "web-stable", "", "")';
    const rows = await prom().series(q);
    expect(rows.map((r) => [r.labels.destination_service_name, r.value]).sort()).toEqual([
      ['web-canary', 1],
      ['web-stable', 2.5],
    ]);
    await expect(prom().series('scalar(vector(1))')).rejects.toThrow(/not an instant vector/);
  });

  it('a bad query is an Error carrying the query and Prometheus’ parse message', async () => {
    const err = await prom()
      .query('sum(rate(x[5m])')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).message).toMatch(
      /Prometheus rejected the query \(HTTP 400\): .*parse error.*; query: sum\(rate\(x\[5m\]\)/,
    );
    expect((err as ProviderError).unreachable).toBe(false);
  });

  it('an escaped injection attempt stays one label value: Prometheus parses it and finds nothing', async () => {
    const evil = 'web"} or vector(100) #';
    const r = await prom().query(
      `sum(istio_requests_total{destination_service_name="${escapeLabelValue(evil)}"})`,
    );
    expect(r.kind).toBe('none');
  });

  it('an address nobody answers is an unreachable Error; a slow answer times out', async () => {
    const dead = new PrometheusProvider({ address: 'http://127.0.0.1:1', timeoutMs: 2_000 });
    const err = (await dead.query('vector(1)').catch((e: unknown) => e)) as ProviderError;
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.unreachable).toBe(true);
    expect(err.message).toMatch(/Prometheus at http:\/\/127\.0\.0\.1:1 cannot be reached: .*ECONNREFUSED/);
    // An address that takes the connection and never answers: the timeout fires, and says so.
    const silent = await silentServer();
    const hurried = new PrometheusProvider({ address: silent.url, timeoutMs: 300 });
    const late = (await hurried.query('vector(1)').catch((e: unknown) => e)) as ProviderError;
    expect(late).toBeInstanceOf(ProviderError);
    expect(late.unreachable).toBe(true);
    expect(late.message).toMatch(/did not answer in time/);
    expect(silent.connections()).toBe(1);
  });
});
