import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scrapeIntervalFromConfig } from '../../../analysis/scrape-interval.ts';
import {
  auditPolicyFlag,
  checkScrapeInterval,
  DEFAULT_SCRAPE_INTERVAL,
  differences,
  prometheusConfig,
} from '../../../sandbox/wanted.ts';

const targets = { simulator: '127.0.0.1:19091', controller: '127.0.0.1:8090' };
const BENCH_POLICY = readFileSync(
  join(import.meta.dirname, '../../../bench/scale/audit-policy.yaml'),
  'utf8',
);

describe("the sandbox's Prometheus config", () => {
  it('scrapes at the asked interval, as Prometheus itself reads it', () => {
    for (const interval of ['1s', '15s', '1m']) {
      const text = prometheusConfig({ scrapeInterval: interval }, targets);
      expect(scrapeIntervalFromConfig(text)).toBe(
        { '1s': 1000, '15s': 15_000, '1m': 60_000 }[interval as '1s' | '15s' | '1m'],
      );
      expect(text).toContain(`evaluation_interval: ${interval}`);
      expect(text).toContain("targets: ['127.0.0.1:19091']");
    }
  });

  it('defaults to the 1 s scrape the tests are written for', () => {
    expect(DEFAULT_SCRAPE_INTERVAL).toBe('1s');
  });
});

describe('checking a scrape interval asked for', () => {
  it('accepts Prometheus durations from 1s to 5m', () => {
    for (const ok of ['1s', '15s', '1m30s', '5m']) expect(checkScrapeInterval(ok)).toBe(ok);
  });
  it('names the option for anything else', () => {
    expect(() => checkScrapeInterval('fast')).toThrow('--scrape-interval "fast" is not a duration');
    expect(() => checkScrapeInterval('500ms')).toThrow('--scrape-interval 500ms is outside 1s..5m');
    expect(() => checkScrapeInterval('10m', 'scrapeInterval')).toThrow(
      'scrapeInterval 10m is outside 1s..5m',
    );
  });
});

describe('what runs against what was asked', () => {
  it('finds a Prometheus at another interval, comparing durations not spellings', () => {
    expect(differences({ scrapeIntervalMs: 5000 }, { scrapeInterval: '1s' })).toEqual([
      { part: 'prometheus', say: 'Prometheus scrapes every 5s, asked for 1s' },
    ]);
    expect(differences({ scrapeIntervalMs: 60_000 }, { scrapeInterval: '1m' })).toEqual([]);
    expect(differences({ scrapeIntervalMs: 60_000 }, { scrapeInterval: '60s' })).toEqual([]);
  });

  it('finds an audit log on, off or with another policy than asked', () => {
    expect(differences({ auditPolicy: BENCH_POLICY }, { scrapeInterval: '1s' })).toEqual([
      { part: 'cluster', say: 'the API server writes an audit log, asked for none' },
    ]);
    expect(differences({ auditPolicy: null }, { scrapeInterval: '1s', auditPolicy: BENCH_POLICY })).toEqual([
      { part: 'cluster', say: 'the API server writes no audit log, asked for one' },
    ]);
    expect(
      differences({ auditPolicy: 'kind: Policy\n' }, { scrapeInterval: '1s', auditPolicy: BENCH_POLICY })[0]
        ?.say,
    ).toBe('the API server audits with a different policy than asked');
    // kwokctl copies the file; line endings and a trailing newline are not a difference.
    expect(
      differences(
        { auditPolicy: `${BENCH_POLICY.replace(/\n/g, '\r\n')}\n` },
        { scrapeInterval: '1s', auditPolicy: BENCH_POLICY },
      ),
    ).toEqual([]);
    expect(differences({ auditPolicy: null }, { scrapeInterval: '1s' })).toEqual([]);
  });

  it('bench:scale then a plain up: both parts differ, and both are named', () => {
    const afterBench = { scrapeIntervalMs: 5000, auditPolicy: BENCH_POLICY };
    expect(differences(afterBench, { scrapeInterval: DEFAULT_SCRAPE_INTERVAL }).map((d) => d.part)).toEqual([
      'prometheus',
      'cluster',
    ]);
  });

  it('counts what could not be read as no difference', () => {
    expect(differences({}, { scrapeInterval: '15s', auditPolicy: BENCH_POLICY })).toEqual([]);
  });
});

describe("the API server's audit flag", () => {
  it('is read in both flag spellings, and absent when not given', () => {
    expect(auditPolicyFlag(['--secure-port=1', '--audit-policy-file=/k/audit.yaml'])).toBe('/k/audit.yaml');
    expect(auditPolicyFlag(['--audit-policy-file', '/k/a.yaml', '--x'])).toBe('/k/a.yaml');
    expect(auditPolicyFlag(['--audit-log-path=/k/audit.log'])).toBeUndefined();
  });
});
