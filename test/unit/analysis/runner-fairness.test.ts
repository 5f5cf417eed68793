// The analysis runner's share of workers between namespaces, with a fake provider: the property
// is about scheduling, which needs a provider that stays silent exactly as long as the test says.
// The whole, with a real silent address and the real API server, is in
// test/sandbox/security-tenant-analysis.test.ts.
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { MetricProvider, QueryResult } from '../../../analysis/provider.ts';
import { ProviderPool } from '../../../analysis/provider.ts';
import { AnalysisRunner, perNamespace } from '../../../controller/analysis/runner.ts';
import type { AnalysisWriter } from '../../../controller/analysis/writer.ts';
import type { AnalysisRun, AnalysisRunStatus } from '../../../crds/index.ts';

const SILENT = 'http://silent.tenant-a.example:9090';
const PROMETHEUS = 'http://prometheus.monitoring:9090';

const run = (namespace: string, name: string, address?: string): AnalysisRun => ({
  apiVersion: 'sluice.dev/v1alpha1',
  kind: 'AnalysisRun',
  metadata: { namespace, name, creationTimestamp: new Date(Date.now() - 60_000).toISOString() },
  spec: {
    rollout: name,
    revision: 'abc',
    gate: 'step',
    metrics: [
      {
        name: 'm',
        count: 1,
        successCondition: 'result < 1.0',
        failureCondition: 'result >= 1.0',
        provider: { prometheus: { query: 'errors', ...(address ? { address } : {}) } },
      },
    ],
  },
});

let runner: AnalysisRunner | undefined;
afterEach(async () => {
  await runner?.shutdown();
});

function setup(workers: number) {
  const runs = new Map<string, AnalysisRun>();
  const silent: (() => void)[] = [];
  let silentNow = 0;
  let silentMax = 0;
  const decided: string[] = [];
  const provider = (address: string): MetricProvider => ({
    address,
    query: () =>
      address.startsWith(SILENT)
        ? new Promise<QueryResult>((resolve) => {
            silentNow++;
            silentMax = Math.max(silentMax, silentNow);
            silent.push(() => {
              silentNow--;
              resolve({ kind: 'value', value: 0 });
            });
          })
        : Promise.resolve({ kind: 'value', value: 5 }),
    series: () => Promise.resolve([]),
  });
  const writer = {
    writeRunStatus: async (r: AnalysisRun, status: AnalysisRunStatus) => ({ ...r, status }),
    deleteRun: async () => undefined,
    signalResume: async () => undefined,
  } as unknown as AnalysisWriter;
  runner = new AnalysisRunner({
    store: {
      run: (ns, name) => runs.get(`${ns}/${name}`),
      runs: () => [],
      all: () => [...runs.values()],
      remember: (r) => runs.set(`${r.metadata.namespace}/${r.metadata.name}`, r),
      rollout: () => undefined,
    },
    writer,
    providers: new ProviderPool((o) => provider(o.address)),
    prometheusUrl: PROMETHEUS,
    allowedPrometheusUrls: [`${SILENT}/`],
    logger: pino({ level: 'silent' }),
    gateChanged: (namespace, rollout, phase) => decided.push(`${namespace}/${rollout} ${phase}`),
    workers,
  });
  const add = (r: AnalysisRun) => {
    runs.set(`${r.metadata.namespace}/${r.metadata.name}`, r);
    runner?.enqueue(r);
  };
  return { add, silent, decided, silentMax: () => silentMax };
}

const until = async (check: () => boolean, what: string) => {
  const deadline = Date.now() + 2000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('analysis workers shared between namespaces', () => {
  it("gives another team's failed gate a worker while one team's gates wait on a silent address", async () => {
    const t = setup(4);
    for (let i = 0; i < 4; i++) t.add(run('tenant-a', `slow-${i}`, SILENT));
    t.add(run('tenant-b', 'web'));
    await until(() => t.decided.includes('tenant-b/web Failed'), "tenant-b's verdict");
    // Tenant a holds at most half the workers; its other runs wait in line, not on a worker.
    expect(perNamespace(4)).toBe(2);
    expect(t.silentMax()).toBe(2);
    expect(t.decided).toEqual(['tenant-b/web Failed']);
    // When a silent query ends, the next of tenant a's runs gets the freed worker.
    t.silent.shift()?.();
    await until(() => t.silent.length === 2, "tenant-a's third run to start measuring");
    for (const release of t.silent.splice(0)) release();
    await until(() => t.silent.length === 1, "tenant-a's fourth run to start measuring");
    t.silent.shift()?.();
    await until(
      () => t.decided.filter((d) => d.startsWith('tenant-a')).length === 4,
      "all of tenant-a's verdicts",
    );
  });

  it('a single worker is not capped below one', () => {
    expect(perNamespace(1)).toBe(1);
    expect(perNamespace(16)).toBe(8);
  });
});
