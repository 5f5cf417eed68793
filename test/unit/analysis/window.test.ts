import { describe, expect, it } from 'vitest';
import { resolveGate, templateKey } from '../../../analysis/resolve.ts';
import type { ScrapeIntervalSource } from '../../../analysis/scrape-interval.ts';
import {
  analysisRunFor,
  learnScrapeIntervals,
  startAnalysisRun,
  WINDOW_NOTES_ANNOTATION,
} from '../../../controller/analysis/runs.ts';
import type { EventInfo, ObjectRef } from '../../../controller/kube/events.ts';
import type { Writer } from '../../../controller/writer.ts';
import type { AnalysisRun, AnalysisTemplateSpec, Rollout } from '../../../crds/index.ts';

const rollout = (analysis: unknown): Rollout =>
  ({
    apiVersion: 'sluice.dev/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'web', namespace: 'shop', uid: 'u1' },
    spec: {
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'a', image: 'x' }] } },
      strategy: { canary: { stableService: 'web-stable', canaryService: 'web-canary', analysis, steps: [] } },
    },
  }) as unknown as Rollout;

const builtins = (gates: object, scrapeMs?: number) =>
  resolveGate({
    gates: { successRate: { min: 95 }, latencyP99: { maxMs: 300 }, ...gates },
    gate: 'background',
    namespace: 'shop',
    service: 'web-canary',
    templates: new Map(),
    ...(scrapeMs === undefined ? {} : { scrapeIntervals: new Map([['', scrapeMs]]) }),
  });

describe('a builtin window shorter than two scrapes', () => {
  it('is widened to two scrapes, with the first look waiting for one widened window and a scrape, and says so', () => {
    const { metrics, notes } = builtins({ interval: '5s' }, 15_000);
    for (const m of metrics) {
      expect(m.provider.prometheus?.query).toContain('[30s]');
      expect(m.provider.prometheus?.query).not.toContain('[5s]');
      expect(m.interval).toBe('5s');
      // The canary's new series is first scraped up to one scrape after its traffic starts.
      expect(m.initialDelay).toBe('45s');
    }
    expect(notes).toEqual([
      "successRate and latencyP99: rate window widened from 5s (the gate's interval 5s) to 30s: Prometheus scrapes every 15s and a rate needs 2 scrapes in its window",
    ]);
  });

  it("keeps the user's initialDelay when one is given", () => {
    const { metrics } = builtins({ interval: '5s', initialDelay: '10s' }, 15_000);
    expect(metrics.map((m) => m.initialDelay)).toEqual(['10s', '10s']);
  });

  it('is left alone at exactly two scrapes, above, and when the scrape interval is unknown', () => {
    for (const [gates, scrape, firstLook] of [
      [{ interval: '30s' }, 15_000, '45s'],
      [{ interval: '1m' }, 15_000, '75s'],
      [{ interval: '5s' }, undefined, '5s'],
    ] as const) {
      const { metrics, notes } = builtins(gates, scrape);
      expect(notes).toEqual([]);
      expect(metrics[0]?.provider.prometheus?.query).toContain(
        `[${gates.interval === '1m' ? '60s' : gates.interval}]`,
      );
      // One window and one scrape after the traffic starts; one window when the scrape is unknown.
      expect(metrics[0]?.initialDelay).toBe(firstLook);
    }
  });

  it('widens a 1s window to 2s against the sandbox default 1s scrape', () => {
    const { metrics, notes } = builtins({ interval: '1s' }, 1000);
    expect(metrics[0]?.provider.prometheus?.query).toContain('[2s]');
    expect(notes).toHaveLength(1);
  });

  it('does not touch compareToStable, whose evidence is counted from the run start', () => {
    const { metrics, notes } = resolveGate({
      gates: { interval: '5s', compareToStable: { errors: { maxIncreasePoints: 1 } } },
      gate: 'step',
      namespace: 'shop',
      service: 'web-canary',
      stableService: 'web-stable',
      templates: new Map(),
      scrapeIntervals: new Map([['', 15_000]]),
    });
    expect(notes).toEqual([]);
    expect(metrics[0]?.initialDelay).toBe('5s');
  });
});

const template = (query: string, address?: string): AnalysisTemplateSpec => ({
  metrics: [
    {
      name: 'errors',
      successCondition: 'result < 1.0',
      provider: { prometheus: { query, ...(address ? { address } : {}) } },
    },
  ],
});

describe('a template whose query ranges are shorter than two scrapes', () => {
  const resolve = (spec: AnalysisTemplateSpec, intervals: [string, number][]) =>
    resolveGate({
      gates: { interval: '5s', templates: [{ templateName: 't' }] },
      gate: 'step',
      namespace: 'shop',
      templates: new Map([[templateKey({ templateName: 't' }), spec]]),
      policy: {
        defaultAddress: 'http://prom:9090',
        allowedPrefixes: ['http://team-prom/'],
        maxTimeoutMs: 30_000,
      },
      scrapeIntervals: new Map(intervals),
    });

  it('has them widened to two scrapes in the query the run uses, saying which, from what, to what', () => {
    const query =
      'sum(rate(a{path="/x[5s]"}[5s])) / sum(rate(b[5s] offset 1m)) + max_over_time(c[1m:10s]) + d[20s:5s]';
    const { metrics, notes } = resolve(template(query), [['', 15_000]]);
    expect(metrics[0]?.provider.prometheus?.query).toBe(
      'sum(rate(a{path="/x[5s]"}[30s])) / sum(rate(b[30s] offset 1m)) + max_over_time(c[1m:10s]) + d[30s:5s]',
    );
    expect(notes).toEqual([
      'metric errors (template t): query range [5s], [20s] widened to [30s]: Prometheus scrapes every 15s and a rate needs 2 scrapes in its window',
    ]);
  });

  it('leaves a query whose ranges hold two scrapes as written, without a note', () => {
    const query = 'sum(rate(a[30s])) / sum(rate(b[2m]))';
    const { metrics, notes } = resolve(template(query), [['', 15_000]]);
    expect(metrics[0]?.provider.prometheus?.query).toBe(query);
    expect(notes).toEqual([]);
  });

  it("is judged against its own address' scrape interval, and left alone when that is unknown", () => {
    const spec = template('rate(a[20s])', 'http://team-prom/x');
    const query = (intervals: [string, number][]) =>
      resolve(spec, intervals).metrics[0]?.provider.prometheus?.query;
    expect(resolve(spec, [['', 15_000]]).notes).toEqual([]);
    expect(query([['', 15_000]])).toBe('rate(a[20s])');
    expect(resolve(spec, [['http://team-prom/x', 15_000]]).notes).toHaveLength(1);
    expect(query([['http://team-prom/x', 15_000]])).toBe('rate(a[30s])');
    expect(resolve(spec, [['http://team-prom/x', 10_000]]).notes).toEqual([]);
  });
});

describe('learning the scrape intervals a run needs', () => {
  const asked: string[] = [];
  const source: ScrapeIntervalSource = {
    async get(address) {
      asked.push(address);
      return address.includes('silent') ? undefined : 15_000;
    },
  };
  const policy = {
    defaultAddress: 'http://prom:9090',
    allowedPrefixes: ['http://team-prom/'],
    maxTimeoutMs: 30_000,
  };

  it("asks only the admin's Prometheus, never an address a template names", async () => {
    asked.length = 0;
    const found = new Map<string, AnalysisTemplateSpec | undefined>([
      ['a', template('x', 'http://team-prom/a')],
      ['b', template('x', 'http://evil.example/')],
      ['c', template('x', 'http://team-prom/silent')],
      ['d', undefined],
    ]);
    const got = await learnScrapeIntervals(source, policy, true, found);
    expect([...got].sort()).toEqual([['', 15_000]]);
    expect(asked.sort()).toEqual(['http://prom:9090']);
  });

  it('asks nothing without a default address and templates', async () => {
    asked.length = 0;
    expect((await learnScrapeIntervals(source, undefined, true, new Map())).size).toBe(0);
    expect(asked).toEqual([]);
  });

  it('writes the notes on the run and as one Warning Event on the Rollout', async () => {
    const created: AnalysisRun[] = [];
    const events: [ObjectRef, EventInfo][] = [];
    const writer = {
      createAnalysisRun: async (run: AnalysisRun) => void created.push(run),
    } as unknown as Writer;
    const start = { gate: 'background' as const, name: 'web-abc-bg', revision: 'abc' };
    await startAnalysisRun(
      writer,
      {
        templates: { get: async () => undefined },
        policy,
        scrapeIntervals: source,
        events: { record: async (ref, info) => void events.push([ref, info]) },
      },
      rollout({ interval: '5s', successRate: { min: 95 } }),
      start,
      [],
    );
    expect(created[0]?.spec.metrics[0]?.provider.prometheus?.query).toContain('[30s]');
    expect(created[0]?.metadata.annotations?.[WINDOW_NOTES_ANNOTATION]).toContain('widened from 5s');
    expect(events).toHaveLength(1);
    expect(events[0]?.[0]).toMatchObject({ kind: 'Rollout', name: 'web', namespace: 'shop', uid: 'u1' });
    expect(events[0]?.[1]).toMatchObject({ type: 'Warning', reason: 'AnalysisWindow' });
    expect(events[0]?.[1].note).toContain('analysis web-abc-bg: successRate: rate window widened from 5s');

    // A template's range is widened in the run and named in the same annotation.
    const withTemplate = analysisRunFor(
      rollout({ interval: '5s', templates: [{ templateName: 't' }] }),
      start,
      new Map([[templateKey({ templateName: 't' }), template('rate(a[5s])')]]),
      [],
      policy,
      new Map([['', 15_000]]),
    );
    expect(withTemplate.spec.metrics[0]?.provider.prometheus?.query).toBe('rate(a[30s])');
    expect(withTemplate.metadata.annotations?.[WINDOW_NOTES_ANNOTATION]).toBe(
      'metric errors (template t): query range [5s] widened to [30s]: Prometheus scrapes every 15s and a rate needs 2 scrapes in its window',
    );

    // Without a source (or when the config cannot be read): the run as written, no Event.
    const plain = analysisRunFor(rollout({ interval: '5s', successRate: { min: 95 } }), start);
    expect(plain.spec.metrics[0]?.provider.prometheus?.query).toContain('[5s]');
    expect(plain.metadata.annotations).toBeUndefined();
  });
});
