import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  parsePromDuration,
  ScrapeIntervalCache,
  scrapeIntervalFromConfig,
  scrapeIntervalFromResponse,
} from '../../../analysis/scrape-interval.ts';

// The shape Prometheus 2.x returns from /api/v1/status/config: its defaults filled in, durations
// in its own format. (test/sandbox/analysis-window.test.ts reads the real one.)
const CONFIG_15S = `global:
  scrape_interval: 15s
  scrape_timeout: 10s
  evaluation_interval: 15s
scrape_configs:
- job_name: traffic-simulator
  honor_timestamps: true
  scrape_interval: 1m
  scrape_timeout: 10s
  metrics_path: /metrics
  scheme: http
  static_configs:
  - targets:
    - 127.0.0.1:19091
`;

describe('reading the scrape interval from Prometheus config', () => {
  it('parses Prometheus durations, including units Sluice durations lack', () => {
    expect(parsePromDuration('15s')).toBe(15_000);
    expect(parsePromDuration('1m30s')).toBe(90_000);
    expect(parsePromDuration('500ms')).toBe(500);
    expect(parsePromDuration('1d')).toBe(86_400_000);
    expect(parsePromDuration('1w')).toBe(7 * 86_400_000);
    for (const bad of ['', '15', 's', '1.5s', '0s', '15 s', '-1s'])
      expect(parsePromDuration(bad)).toBeUndefined();
  });

  it('takes the global interval, not a job override', () => {
    expect(scrapeIntervalFromConfig(CONFIG_15S)).toBe(15_000);
  });

  it("falls back to Prometheus' own 1m default when the config names none", () => {
    expect(scrapeIntervalFromConfig('scrape_configs: []\n')).toBe(60_000);
    expect(scrapeIntervalFromConfig('global:\n  evaluation_interval: 5s\n')).toBe(60_000);
  });

  it('says nothing for what is not a config', () => {
    expect(scrapeIntervalFromConfig('global: [unterminated')).toBeUndefined();
    expect(scrapeIntervalFromConfig('just text')).toBeUndefined();
    expect(scrapeIntervalFromConfig('global:\n  scrape_interval: often\n')).toBeUndefined();
    expect(scrapeIntervalFromResponse({ status: 'error', error: 'forbidden' })).toBeUndefined();
    expect(scrapeIntervalFromResponse({ status: 'success', data: {} })).toBeUndefined();
    expect(scrapeIntervalFromResponse('nope')).toBeUndefined();
    expect(scrapeIntervalFromResponse({ status: 'success', data: { yaml: CONFIG_15S } })).toBe(15_000);
  });
});

describe('the per-address cache', () => {
  let server: Server;
  let base: string;
  const hits = new Map<string, number>();
  const authSeen: (string | undefined)[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      const [, mode = ''] = /^\/([a-z0-9-]+)\//.exec(req.url ?? '') ?? [];
      hits.set(mode, (hits.get(mode) ?? 0) + 1);
      authSeen.push(req.headers.authorization);
      if (!req.url?.endsWith('/api/v1/status/config')) return res.writeHead(404).end();
      const json = (body: unknown) =>
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (mode === 'forbidden') return res.writeHead(403).end('forbidden');
      if (mode === 'redirect') return res.writeHead(302, { location: 'http://127.0.0.1:1/' }).end();
      if (mode === 'huge') {
        return json({ status: 'success', data: { yaml: `${CONFIG_15S}#${'x'.repeat(200_000)}\n` } });
      }
      if (mode === 'five')
        return json({ status: 'success', data: { yaml: 'global:\n  scrape_interval: 5s\n' } });
      json({ status: 'success', data: { yaml: CONFIG_15S } });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('asks an address once per TTL, and again after it', async () => {
    let now = 0;
    const cache = new ScrapeIntervalCache({ now: () => now, ttlMs: 1000 });
    expect(await cache.get(`${base}/ttl/`)).toBe(15_000);
    expect(await cache.get(`${base}/ttl/`)).toBe(15_000);
    expect(hits.get('ttl')).toBe(1);
    now = 1000;
    expect(await cache.get(`${base}/ttl/`)).toBe(15_000);
    expect(hits.get('ttl')).toBe(2);
  });

  it('gives undefined, and remembers it, for 403, redirects and oversized configs', async () => {
    const cache = new ScrapeIntervalCache({ maxBytes: 100_000 });
    expect(await cache.get(`${base}/forbidden/`)).toBeUndefined();
    expect(await cache.get(`${base}/forbidden/`)).toBeUndefined();
    expect(hits.get('forbidden')).toBe(1);
    expect(await cache.get(`${base}/redirect/`)).toBeUndefined();
    expect(await cache.get(`${base}/huge/`)).toBeUndefined();
    expect(await new ScrapeIntervalCache().get(`${base}/huge/`)).toBe(15_000);
    expect(await cache.get('http://127.0.0.1:1')).toBeUndefined();
  });

  it('keeps at most maxEntries addresses, dropping the oldest', async () => {
    const cache = new ScrapeIntervalCache({ maxEntries: 3 });
    for (const mode of ['b1', 'b2', 'b3', 'b4', 'b5']) await cache.get(`${base}/${mode}/`);
    expect(cache.size).toBe(3);
    await cache.get(`${base}/b5/`);
    expect(hits.get('b5')).toBe(1);
    await cache.get(`${base}/b1/`);
    expect(hits.get('b1')).toBe(2);
  });

  it('sends the credentials an address carries as basic auth', async () => {
    authSeen.length = 0;
    const url = new URL(`${base}/five/`);
    url.username = 'reader';
    url.password = 's3cret';
    expect(await new ScrapeIntervalCache().get(url.toString())).toBe(5000);
    expect(authSeen).toEqual([`Basic ${Buffer.from('reader:s3cret').toString('base64')}`]);
  });
});
