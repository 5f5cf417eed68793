// The web metric against loopback HTTP servers the test starts: what it sends, how it reads the
// answer, and the bounds a hostile address meets (redirects, size, time).
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { afterEach, describe, expect, it } from 'vitest';
import { followJsonPath, parseJsonPath } from '../../../analysis/jsonpath.ts';
import { takeMeasurement } from '../../../analysis/measure.ts';
import { type AnalysisPolicy, DEFAULT_MAX_TIMEOUT_MS, policyProblem } from '../../../analysis/policy.ts';
import { ProviderPool } from '../../../analysis/provider.ts';
import { resolveMetrics, templateKey } from '../../../analysis/resolve.ts';
import { MAX_WEB_RESPONSE_BYTES, measureWeb } from '../../../analysis/web.ts';
import { AnalysisTemplateSpec, type RunMetric, type WebProvider } from '../../../crds/index.ts';
import { silentServer } from '../../support/silent-server.ts';

const servers: { close: () => void }[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

interface Seen {
  method?: string;
  url?: string;
  headers: IncomingMessage['headers'];
  body: string;
}

async function serve(handle: (req: IncomingMessage, res: ServerResponse) => void) {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      handle(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push({ close: () => server.closeAllConnections() }, { close: () => server.close() });
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, seen };
}

const json = (doc: unknown) => (_req: IncomingMessage, res: ServerResponse) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(doc));
};

async function error(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected the measurement to fail');
}

const policyFor = (url: string): AnalysisPolicy => ({
  allowedPrefixes: [`${url}/`],
  maxTimeoutMs: DEFAULT_MAX_TIMEOUT_MS,
});

const metric = (web: WebProvider, conditions: Partial<RunMetric> = {}): RunMetric => ({
  name: 'web-check',
  provider: { web },
  ...conditions,
});

describe('jsonPath subset', () => {
  it("parses Argo's forms and follows fields and indexes", () => {
    const doc = { data: { ok: true, items: [{ value: 0.97 }], 'odd-key': { 'a b': 3 } } };
    expect(followJsonPath(doc, parseJsonPath('{$.data.ok}'))).toBe(true);
    expect(followJsonPath(doc, parseJsonPath('{.data.items[0].value}'))).toBe(0.97);
    expect(followJsonPath(doc, parseJsonPath("$.data['odd-key']['a b']"))).toBe(3);
    expect(followJsonPath(doc, parseJsonPath('$'))).toEqual(doc);
  });

  it('refuses what searches, and says where a missing path stopped', () => {
    for (const p of ['{$..ok}', '{$.items[*].v}', '{$.items[?(@.v>1)]}', '{$.items[0:2]}', '{$.a b}']) {
      expect(() => parseJsonPath(p), p).toThrow(/is not supported/);
    }
    expect(() => parseJsonPath(`$${'.a'.repeat(33)}`)).toThrow(/more than 32 steps/);
    expect(() => followJsonPath({ data: {} }, parseJsonPath('{$.data.ok}'))).toThrow(
      '$.data has no field "ok"',
    );
    expect(() => followJsonPath({ a: [1] }, parseJsonPath('$.a[3]'))).toThrow('$.a has no element [3]');
    expect(() => followJsonPath({ a: {} }, parseJsonPath('$.a.toString'))).toThrow('has no field');
  });
});

describe('web metric against a real HTTP server', () => {
  it('GET: the value at jsonPath is judged by the conditions; numeric strings and booleans count', async () => {
    const server = await serve(json({ data: { ok: true, rate: '0.97', codes: [200, 200, 500] } }));
    const policy = policyFor(server.url);
    const pool = new ProviderPool();
    const now = Date.now();
    const take = (web: Partial<WebProvider>, c: Partial<RunMetric>) =>
      takeMeasurement(metric({ url: `${server.url}/m?svc=web`, ...web }, c), pool, policy, now);

    expect(await take({ jsonPath: '{$.data.ok}' }, { successCondition: 'result == true' })).toMatchObject({
      phase: 'Successful',
      value: 'true',
    });
    expect(await take({ jsonPath: '{$.data.rate}' }, { successCondition: 'result >= 0.95' })).toMatchObject({
      phase: 'Successful',
      number: 0.97,
    });
    const failed = await take(
      { jsonPath: '{$.data.rate}' },
      { successCondition: 'result >= 0.99', failureCondition: 'result < 0.99' },
    );
    expect(failed).toMatchObject({
      phase: 'Failed',
      message: 'value 0.97 met failure condition "result < 0.99"',
    });
    expect(
      await take({ jsonPath: '$.data.codes' }, { failureCondition: 'result.exists(x, x >= 500)' }),
    ).toMatchObject({ phase: 'Failed' });
    expect(server.seen[0]).toMatchObject({ method: 'GET', url: '/m?svc=web' });
    expect(server.seen[0]?.headers.accept).toBe('application/json');
  });

  it('a missing path, an object or text is an Error measurement, never a pass', async () => {
    const server = await serve(json({ data: { ok: true } }));
    const policy = policyFor(server.url);
    const take = (jsonPath: string) =>
      takeMeasurement(
        metric({ url: server.url, jsonPath }, { successCondition: 'result == true' }),
        new ProviderPool(),
        policy,
        Date.now(),
      );
    expect(await take('{$.data.missing}')).toMatchObject({
      phase: 'Error',
      message: 'jsonPath: $.data has no field "missing"',
    });
    expect((await take('{$.data}')).message).toMatch(/is an object; a web metric's result must be a number/);
    const text = await serve((_req, res) => res.end('<html>internal page</html>'));
    const m = await takeMeasurement(
      metric({ url: text.url, jsonPath: '{$.ok}' }),
      new ProviderPool(),
      policyFor(text.url),
      Date.now(),
    );
    expect(m).toMatchObject({ phase: 'Error' });
    expect(m.message).toContain('did not answer JSON');
    expect(m.message).not.toContain('internal page');
  });

  it('POST sends the body with its headers; jsonBody is sent as JSON', async () => {
    const server = await serve(json({ passed: 1 }));
    await measureWeb(
      {
        url: `${server.url}/judge`,
        method: 'POST',
        headers: [{ key: 'X-Token', value: 'abc' }],
        jsonBody: { service: 'web', nested: { n: 1 } },
        jsonPath: '$.passed',
      },
      5000,
    );
    await measureWeb(
      {
        url: `${server.url}/raw`,
        jsonPath: '$.passed',
        method: 'PUT',
        body: 'plain',
        headers: [{ key: 'content-type', value: 'text/plain' }],
      },
      5000,
    );
    expect(server.seen[0]).toMatchObject({ method: 'POST', body: '{"service":"web","nested":{"n":1}}' });
    expect(server.seen[0]?.headers['content-type']).toBe('application/json');
    expect(server.seen[0]?.headers['x-token']).toBe('abc');
    expect(server.seen[1]).toMatchObject({ method: 'PUT', body: 'plain' });
    expect(server.seen[1]?.headers['content-type']).toBe('text/plain');
  });

  it("never sends --prometheus-url's credentials, even to an address under it", async () => {
    const server = await serve(json({ ok: 1 }));
    const policy: AnalysisPolicy = {
      defaultAddress: server.url.replace('http://', 'http://admin:hunter2@'),
      allowedPrefixes: [],
      maxTimeoutMs: DEFAULT_MAX_TIMEOUT_MS,
    };
    const m = await takeMeasurement(
      metric({ url: `${server.url}/api/v1/x`, jsonPath: '$.ok' }),
      new ProviderPool(),
      policy,
      Date.now(),
    );
    expect(m.phase).toBe('Successful');
    expect(server.seen[0]?.headers.authorization).toBeUndefined();
  });

  it('does not follow a redirect, even to an allowed place', async () => {
    const target = await serve(json({ ok: 1 }));
    const redirector = await serve((_req, res) => {
      res.writeHead(302, { location: `${target.url}/` });
      res.end();
    });
    expect(await error(measureWeb({ url: redirector.url }, 5000))).toBe(
      `${redirector.url}/ answered HTTP 302: redirects are not followed`,
    );
    expect(target.seen).toHaveLength(0);
  });

  it('refuses an answer over the byte cap, declared or streamed', async () => {
    const big = 'x'.repeat(MAX_WEB_RESPONSE_BYTES + 10);
    const declared = await serve((_req, res) => res.end(big));
    expect(await error(measureWeb({ url: declared.url }, 5000))).toMatch(/answered with more than 1024 KiB/);
    const streamed = await serve((_req, res) => {
      res.write('[');
      for (let i = 0; i < 200; i++) res.write(`${'1,'.repeat(4000)}`);
      res.end('1]');
    });
    expect(await error(measureWeb({ url: streamed.url }, 5000))).toMatch(/answered with more than 1024 KiB/);
  });

  it('a silent address times out on the deadline; an HTTP error status is an Error', async () => {
    const silent = await silentServer();
    const started = Date.now();
    expect(await error(measureWeb({ url: silent.url }, 300))).toMatch(/did not answer in time \(300 ms\)/);
    expect(Date.now() - started).toBeLessThan(3000);
    const broken = await serve((_req, res) => {
      res.statusCode = 500;
      res.end('{"stack":"secret internals"}');
    });
    const message = await error(measureWeb({ url: broken.url, jsonPath: '$.x' }, 5000));
    expect(message).toBe(`${broken.url}/ answered HTTP 500`);
  });
});

describe('web metric over TLS', () => {
  it('verifies the certificate unless insecure: true', async () => {
    const fixture = (f: string) => readFileSync(new URL(`../../fixtures/tls/${f}`, import.meta.url));
    const server = createHttpsServer(
      { cert: fixture('self-signed.crt'), key: fixture('self-signed.key') },
      (_req, res) => res.end('{"ok": 1}'),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push({ close: () => server.closeAllConnections() }, { close: () => server.close() });
    const url = `https://127.0.0.1:${(server.address() as { port: number }).port}/x`;
    expect(await error(measureWeb({ url, jsonPath: '$.ok' }, 5000))).toBe(
      `${url} presented a TLS certificate that was not accepted (DEPTH_ZERO_SELF_SIGNED_CERT)`,
    );
    expect(await measureWeb({ url, jsonPath: '$.ok', insecure: true }, 5000)).toEqual({
      kind: 'value',
      value: 1,
    });
  });
});

describe('web metric under the address policy', () => {
  const web = (url: string, extra: Partial<WebProvider> = {}) => ({ provider: { web: { url, ...extra } } });
  const policy: AnalysisPolicy = {
    defaultAddress: 'http://user:pw@prometheus.monitoring:9090',
    allowedPrefixes: ['http://metrics.shop:8080/api/'],
    maxTimeoutMs: 30_000,
  };

  it('allows --prometheus-url and the allowed prefixes, whatever the query string', () => {
    expect(policyProblem(web('http://metrics.shop:8080/api/check?svc=a'), policy)).toBeUndefined();
    expect(
      policyProblem(web('http://prometheus.monitoring:9090/api/v1/query?query=up'), policy),
    ).toBeUndefined();
  });

  it('refuses other addresses, look-alikes, credentials and long timeouts, naming the field and flag', () => {
    for (const url of [
      'http://metrics.shop:8080/admin',
      'http://metrics.shop:8080.evil.example/api/x',
      'http://metrics.shop:8080/api/../admin',
      'http://u:p@metrics.shop:8080/api/x',
      'http://169.254.169.254/latest/meta-data',
    ]) {
      expect(policyProblem(web(url), policy), url).toMatch(
        /^provider\.web\.url .* is not allowed: .*--prometheus-allowed-urls/,
      );
    }
    expect(policyProblem(web('http://u:p@metrics.shop:8080/api/x'), policy)).not.toContain(':p@');
    expect(policyProblem(web('http://metrics.shop:8080/api/x', { timeoutSeconds: 60 }), policy)).toBe(
      "provider.web.timeoutSeconds 60 is over the cluster's limit of 30s (--analysis-max-timeout)",
    );
  });

  it('args fill the URL, headers and body before the policy is checked', () => {
    const spec = AnalysisTemplateSpec.parse({
      args: [{ name: 'svc' }, { name: 'host' }],
      metrics: [
        {
          name: 'w',
          provider: {
            web: {
              url: 'http://{{args.host}}/api/check?svc={{args.svc}}',
              method: 'POST',
              headers: [{ key: 'X-Service', value: '{{args.svc}}' }],
              jsonBody: { service: '{{args.svc}}' },
            },
          },
        },
      ],
    });
    const resolve = (host: string) =>
      resolveMetrics({
        gates: {
          templates: [{ templateName: 't' }],
          args: [
            { name: 'svc', value: 'web' },
            { name: 'host', value: host },
          ],
        },
        gate: 'step',
        namespace: 'shop',
        templates: new Map([[templateKey({ templateName: 't' }), spec]]),
        policy,
      });
    const [m] = resolve('metrics.shop:8080');
    expect(m?.provider.web).toMatchObject({
      url: 'http://metrics.shop:8080/api/check?svc=web',
      headers: [{ key: 'X-Service', value: 'web' }],
      jsonBody: { service: 'web' },
    });
    expect(() => resolve('evil.example')).toThrow(
      /provider\.web\.url http:\/\/evil\.example\/api\/check\?svc=web is not allowed/,
    );
  });

  it('a template the API server stored without every rule is still checked when the run starts', () => {
    const resolve = (web: unknown) =>
      resolveMetrics({
        gates: { templates: [{ templateName: 't' }] },
        gate: 'step',
        namespace: 'shop',
        // As read from the cache: not parsed, so only the CRD's own rules held.
        templates: new Map([
          [templateKey({ templateName: 't' }), { metrics: [{ name: 'w', provider: { web } }] } as never],
        ]),
        policy,
      });
    expect(() => resolve({ url: 'http://metrics.shop:8080/api/x', body: 'x' })).toThrow(
      'metric w (template t): provider.web: a GET request has no body: set method POST or PUT',
    );
    expect(() =>
      resolve({ url: 'http://metrics.shop:8080/api/x', headers: [{ key: 'HOST', value: 'a' }] }),
    ).toThrow('metric w (template t): provider.web.headers[0].key: a header Sluice sets itself');
  });

  it('the schema refuses a body on GET, two bodies, Host headers, two providers and undeclared args', () => {
    const parse = (provider: unknown, args: unknown[] = []) =>
      AnalysisTemplateSpec.safeParse({ args, metrics: [{ name: 'm', provider }] }).error?.message ?? 'ok';
    expect(parse({ web: { url: 'http://a/x', body: 'b' } })).toMatch(/a GET request has no body/);
    expect(parse({ web: { url: 'http://a/x', method: 'POST', body: 'b', jsonBody: {} } })).toMatch(
      /exclusive/,
    );
    expect(parse({ web: { url: 'http://a/x', headers: [{ key: 'Host', value: 'b' }] } })).toMatch(
      /a header Sluice sets itself/,
    );
    expect(parse({ web: { url: 'http://a/x' }, prometheus: { query: 'up' } })).toMatch(
      /exactly one of prometheus, web or job/,
    );
    expect(parse({})).toMatch(/exactly one of/);
    expect(parse({ web: { url: 'http://a/{{args.nope}}' } })).toMatch(/\{\{args\.nope\}\} is not declared/);
    expect(parse({ web: { url: 'ftp://a/x' } })).toMatch(/an http:\/\/ or https:\/\/ URL/);
    expect(parse({ web: { url: 'http://a/x', method: 'POST', jsonBody: { a: 1 } } })).toBe('ok');
  });
});
