import { describe, expect, it, onTestFinished } from 'vitest';
import { up } from '../../sandbox/lifecycle.ts';
import { daemonPid } from '../../sandbox/proc.ts';
import { runningScrapeIntervalMs } from '../../sandbox/prometheus.ts';
import { sandbox } from '../harness/env.ts';
import { waitFor } from '../harness/wait.ts';

interface Target {
  scrapePool: string;
  scrapeInterval: string;
  lastScrape: string;
}

async function targets(): Promise<Target[]> {
  const res = await fetch(`${sandbox().PROMETHEUS_URL}/api/v1/targets?state=active`, {
    signal: AbortSignal.timeout(5000),
  });
  const body = (await res.json()) as { data: { activeTargets: Target[] } };
  return body.data.activeTargets;
}

/** Prometheus' own account of the simulator's scrape: its interval, and a scrape after `since` (after the reload). */
async function scrapedAt(interval: string, since: number): Promise<Target> {
  return waitFor(
    async () => {
      const sim = (await targets()).find((t) => t.scrapePool === 'traffic-simulator');
      return sim && sim.scrapeInterval === interval && Date.parse(sim.lastScrape) > since ? sim : undefined;
    },
    // A 15 s scrape loop scrapes within one interval (plus its start offset) of a reload.
    {
      description: `the simulator scraped every ${interval} after the reload`,
      timeout: 40_000,
      interval: 500,
    },
  );
}

// A sandbox is what `up` was last asked for: a running one at another scrape interval is
// reloaded (the same Prometheus process, its data kept), and a plain `up` puts the default back.
// Shared with concurrent test runs: the 15 s stretch is kept short, and the default is restored
// whatever happens.
describe('sandbox:up brings a running sandbox to what it is asked for', () => {
  it('up({scrapeInterval: 15s}) then up(): Prometheus scrapes at each, reloaded in place', async () => {
    onTestFinished(async () => {
      await up({ flux: true });
    });
    const pid = daemonPid('prometheus');
    expect(pid).toBeDefined();

    await up({ flux: true, scrapeInterval: '15s' });
    const at15 = Date.now();
    expect(await runningScrapeIntervalMs()).toBe(15_000);
    await scrapedAt('15s', at15);
    expect(daemonPid('prometheus')).toBe(pid);

    await up({ flux: true });
    const at1 = Date.now();
    expect(await runningScrapeIntervalMs()).toBe(1000);
    await scrapedAt('1s', at1);
    expect(daemonPid('prometheus')).toBe(pid);
  });

  it('an interval Prometheus cannot take is refused before anything changes', async () => {
    await expect(up({ flux: true, scrapeInterval: '15' })).rejects.toThrow(
      'scrapeInterval "15" is not a duration (e.g. 1s, 15s, 1m)',
    );
    expect(await runningScrapeIntervalMs()).toBe(1000);
  });
});
