// The transport bounds of PrometheusProvider, against loopback HTTP servers: a real Prometheus
// never redirects, never answers 9 MiB or 100,000 series from the sandbox's data, and never
// trickles its answer, so these hostile answers have to be served by the test itself.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  MAX_RESPONSE_BYTES,
  MAX_SERIES,
  PrometheusProvider,
  ProviderError,
} from '../../../analysis/provider.ts';

const servers: { close: () => void }[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

async function serve(
  handle: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; hits: () => number }> {
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push({ close: () => server.close() });
  servers.push({ close: () => server.closeAllConnections() });
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, hits: () => hits };
}

const vector = (n: number) =>
  JSON.stringify({
    status: 'success',
    data: {
      resultType: 'vector',
      result: Array.from({ length: n }, (_, i) => ({ metric: { i: String(i) }, value: [1700000000, '1'] })),
    },
  });

async function failure(p: Promise<unknown>): Promise<ProviderError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ProviderError);
    return err as ProviderError;
  }
  throw new Error('expected the query to fail');
}

describe('PrometheusProvider bounds', () => {
  it('does not follow a redirect', async () => {
    const target = await serve((_req, res) => res.end(vector(1)));
    const redirector = await serve((_req, res) => {
      res.writeHead(302, { location: `${target.url}/api/v1/query?query=up` });
      res.end();
    });
    const err = await failure(new PrometheusProvider({ address: redirector.url, tenant: true }).query('up'));
    expect(err.message).toBe(`Prometheus at ${redirector.url} answered HTTP 302: redirects are not followed`);
    expect(redirector.hits()).toBe(1);
    expect(target.hits()).toBe(0);
  });

  it('stops reading past the byte cap', async () => {
    const big = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        `{"status":"success","data":{"resultType":"vector","result":[${'0,'.repeat(MAX_RESPONSE_BYTES / 2)}0]}}`,
      );
    });
    const err = await failure(new PrometheusProvider({ address: big.url }).query('up'));
    expect(err.message).toMatch(/answered with more than 8 MiB; aggregate the query: up/);
  });

  it('refuses more series than the cap, saying how many', async () => {
    const many = await serve((_req, res) => res.end(vector(MAX_SERIES + 1)));
    const err = await failure(new PrometheusProvider({ address: many.url }).series('up'));
    expect(err.message).toMatch(
      /query returned 10001 series, more than the limit of 10000; aggregate the query/,
    );
    const enough = await serve((_req, res) => res.end(vector(MAX_SERIES)));
    expect((await new PrometheusProvider({ address: enough.url }).series('up')).length).toBe(MAX_SERIES);
  });

  it('keeps what a tenant-named address answers out of the message, and in the detail for the log', async () => {
    const page = await serve((_req, res) => {
      res.writeHead(404, { 'content-type': 'text/html' });
      res.end('<h1>internal admin console: secret-token-123</h1>');
    });
    const shown = await failure(new PrometheusProvider({ address: page.url, tenant: true }).query('up'));
    expect(shown.message).toBe(`Prometheus at ${page.url} answered (HTTP 404): not a Prometheus answer`);
    expect(shown.message).not.toMatch(/secret|Not Found/);
    expect(shown.detail).toMatch(/HTTP 404/);
    const badQuery = await serve((_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'parse error at char 3' }));
    });
    const prom = await failure(new PrometheusProvider({ address: badQuery.url, tenant: true }).query('up{'));
    expect(prom.message).toBe(
      `Prometheus at ${badQuery.url} rejected the query (HTTP 400): bad_data; the controller's log has its message`,
    );
    // The admin's own --prometheus-url shows the whole message, as before.
    const admin = await failure(new PrometheusProvider({ address: badQuery.url }).query('up{'));
    expect(admin.message).toMatch(/parse error at char 3/);
  });

  it('gives up on an answer trickled slower than the timeout, however steadily it comes', async () => {
    const trickle = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const timer = setInterval(() => res.write(' '), 50);
      res.on('close', () => clearInterval(timer));
    });
    const started = Date.now();
    const err = await failure(
      new PrometheusProvider({ address: trickle.url, timeoutMs: 400, tenant: true }).query('up'),
    );
    expect(err.message).toBe(`Prometheus at ${trickle.url} did not answer in time`);
    expect(err.unreachable).toBe(true);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
