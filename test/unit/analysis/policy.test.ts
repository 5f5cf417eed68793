import { describe, expect, it } from 'vitest';
import { takeMeasurement } from '../../../analysis/measure.ts';
import {
  type AnalysisPolicy,
  allowedByPrefix,
  effectiveTimeoutMs,
  parseAllowedPrefixes,
  parseMaxTimeout,
  policyProblem,
} from '../../../analysis/policy.ts';
import { type MetricProvider, ProviderPool } from '../../../analysis/provider.ts';
import { InvalidAnalysis, resolveMetrics, templateKey } from '../../../analysis/resolve.ts';
import type { AnalysisTemplateSpec, RunMetric } from '../../../crds/index.ts';

const policy = (over: Partial<AnalysisPolicy> = {}): AnalysisPolicy => ({
  defaultAddress: 'http://prometheus.monitoring:9090',
  allowedPrefixes: [],
  maxTimeoutMs: 30_000,
  ...over,
});
const metric = (prometheus: Partial<RunMetric['provider']['prometheus']>, interval?: string): RunMetric => ({
  name: 'm',
  ...(interval ? { interval } : {}),
  provider: { prometheus: { query: 'up', ...prometheus } },
});

describe('the admin allowlist of Prometheus addresses', () => {
  it('parses prefixes and refuses what cannot be one, naming the flag', () => {
    expect(parseAllowedPrefixes(' http://prom-a:9090 , https://thanos.example/tenant-x/ ')).toEqual([
      'http://prom-a:9090/',
      'https://thanos.example/tenant-x/',
    ]);
    expect(parseAllowedPrefixes(undefined)).toEqual([]);
    expect(() => parseAllowedPrefixes('file:///etc')).toThrow(
      /--prometheus-allowed-urls: .* not http or https/,
    );
    expect(() => parseAllowedPrefixes('http://u:p@prom')).toThrow(/carries credentials/);
    expect(() => parseAllowedPrefixes('prom:9090x')).toThrow(/--prometheus-allowed-urls/);
  });

  it('matches parsed URLs at a path boundary, never by text', () => {
    const prefixes = parseAllowedPrefixes('http://prom:9090,http://thanos/tenant-x');
    expect(allowedByPrefix('http://prom:9090', prefixes)).toBe(true);
    expect(allowedByPrefix('http://PROM:9090/sub', prefixes)).toBe(true);
    expect(allowedByPrefix('http://thanos/tenant-x/api', prefixes)).toBe(true);
    for (const bad of [
      'http://prom:9090.evil.example',
      'http://prom:90901',
      'https://prom:9090',
      'http://thanos/tenant-xy',
      'http://thanos/tenant-x/../tenant-y',
      'http://thanos/tenant-x/%2e%2e/tenant-y',
      'http://evil@prom:9090',
      'http://prom:9090/?x=1',
      'file:///etc/passwd',
      'not a url',
    ]) {
      expect(allowedByPrefix(bad, prefixes), bad).toBe(false);
    }
  });

  it('refuses an address outside it, naming the field and the flag; the default address always passes', () => {
    expect(policyProblem(metric({ address: 'http://10.0.0.1:8080' }), policy())).toMatch(
      /provider\.prometheus\.address http:\/\/10\.0\.0\.1:8080 is not allowed: .*--prometheus-url.*--prometheus-allowed-urls \(none are listed\)/,
    );
    expect(
      policyProblem(metric({ address: 'http://prometheus.monitoring:9090/' }), policy()),
    ).toBeUndefined();
    expect(policyProblem(metric({}), policy())).toBeUndefined();
    expect(
      policyProblem(
        metric({ address: 'http://10.0.0.1:8080' }),
        policy({ allowedPrefixes: ['http://10.0.0.1:8080/'] }),
      ),
    ).toBeUndefined();
  });

  it('refuses a timeout over the cap and an interval under 1s; clamps the timeout a run already holds', () => {
    expect(policyProblem(metric({ timeout: '500h' }), policy())).toMatch(
      /provider\.prometheus\.timeout 500h is over the cluster's limit of 30s \(--analysis-max-timeout\)/,
    );
    expect(policyProblem(metric({ timeout: '30s' }), policy())).toBeUndefined();
    expect(policyProblem(metric({}, '0s'), policy())).toMatch(/interval 0s is under the minimum of 1s/);
    expect(policyProblem(metric({}, '999ms'), policy())).toMatch(/interval 999ms/);
    expect(policyProblem(metric({}, '1s'), policy())).toBeUndefined();
    expect(effectiveTimeoutMs('500h', 10_000, policy())).toBe(30_000);
    expect(effectiveTimeoutMs(undefined, 10_000, policy({ maxTimeoutMs: 5000 }))).toBe(5000);
    expect(effectiveTimeoutMs('0s', 10_000, policy())).toBe(10_000);
    expect(parseMaxTimeout(undefined)).toBe(30_000);
    expect(parseMaxTimeout('1m')).toBe(60_000);
    expect(() => parseMaxTimeout('forever')).toThrow(/--analysis-max-timeout/);
  });
});

describe('the policy where runs are built and measured', () => {
  const template = (m: Partial<AnalysisTemplateSpec['metrics'][number]>): AnalysisTemplateSpec => ({
    metrics: [{ name: 'errors', provider: { prometheus: { query: 'up' } }, ...m } as never],
  });
  const resolve = (spec: AnalysisTemplateSpec, p?: AnalysisPolicy, interval?: string) =>
    resolveMetrics({
      gates: { templates: [{ templateName: 't' }], ...(interval ? { interval } : {}) },
      gate: 'step',
      namespace: 'team-a',
      templates: new Map([[templateKey({ templateName: 't' }), spec]]),
      ...(p ? { policy: p } : {}),
    });

  it('fails the run at start naming metric, template, field and flag', () => {
    const spec = template({ provider: { prometheus: { query: 'up', address: 'http://169.254.169.254' } } });
    expect(() => resolve(spec, policy())).toThrow(InvalidAnalysis);
    expect(() => resolve(spec, policy())).toThrow(
      /metric errors \(template t\): provider\.prometheus\.address .* --prometheus-allowed-urls/,
    );
    expect(() => resolve(template({ interval: '0s' }))).toThrow(
      /metric errors \(template t\): interval 0s is under/,
    );
    expect(() => resolve(template({}), undefined, '0s')).toThrow(/interval 0s is under the minimum of 1s/);
    expect(() =>
      resolve(template({ provider: { prometheus: { query: 'up', timeout: '1h' } } }), policy()),
    ).toThrow(/provider\.prometheus\.timeout 1h is over/);
  });

  it('sends no request for a refused address, even from a run written by hand', async () => {
    let made = 0;
    const pool = new ProviderPool(() => {
      made++;
      return {} as MetricProvider;
    });
    const taken = await takeMeasurement(
      metric({ address: 'http://127.0.0.1:1' }),
      pool,
      policy(),
      Date.now(),
    );
    expect(taken.phase).toBe('Error');
    expect(taken.message).toMatch(/--prometheus-allowed-urls/);
    expect(made).toBe(0);
  });
});

describe('the provider pool', () => {
  it('keeps a bounded number of clients however many addresses tenants name', () => {
    let made = 0;
    const pool = new ProviderPool(() => {
      made++;
      return {} as MetricProvider;
    });
    const first = pool.get('http://prom:9090/t/0', 1000, true);
    expect(pool.get('http://prom:9090/t/0', 1000, true)).toBe(first);
    for (let i = 1; i < 1000; i++) pool.get(`http://prom:9090/t/${i}`, 1000, true);
    expect(made).toBe(1000);
    // The first client was let go on the way: asked again, it is made anew.
    pool.get('http://prom:9090/t/0', 1000, true);
    expect(made).toBe(1001);
    expect((pool as unknown as { providers: Map<string, unknown> }).providers.size).toBeLessThanOrEqual(256);
  });
});
