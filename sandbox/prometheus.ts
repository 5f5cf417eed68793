import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scrapeIntervalFromResponse } from '../analysis/scrape-interval.ts';
import { ensureDebianPackages } from './apt.ts';
import { HOST, PATHS, PORTS } from './config.ts';
import { say } from './log.ts';
import { assertPortFree, daemonPid, httpOk, run, startDaemon, stopDaemon, waitHealthy } from './proc.ts';
import { DEFAULT_SCRAPE_INTERVAL, differences, prometheusConfig, type Wanted } from './wanted.ts';

const BINARY = '/usr/bin/prometheus';
export const prometheusUrl = () => `http://${HOST}:${PORTS.prometheus}`;
export const prometheusLog = () => join(PATHS.logs, 'prometheus.log');
const dataDir = () => join(PATHS.prometheusDir, 'data');

/** Debian's package: a real Prometheus, installed once; its system service is never used. */
export const ensurePrometheusInstalled = () =>
  ensureDebianPackages([{ name: 'prometheus', program: BINARY }]);

function writeConfig(wanted: Wanted): string {
  mkdirSync(dataDir(), { recursive: true });
  const file = join(PATHS.prometheusDir, 'prometheus.yml');
  writeFileSync(
    file,
    prometheusConfig(wanted, {
      simulator: `${HOST}:${PORTS.simulator}`,
      controller: `${HOST}:${PORTS.controllerMetrics}`,
    }),
  );
  return file;
}

/** The global scrape interval the running Prometheus uses (its own answer), if it answers. */
export async function runningScrapeIntervalMs(): Promise<number | undefined> {
  try {
    const res = await fetch(`${prometheusUrl()}/api/v1/status/config`, { signal: AbortSignal.timeout(5000) });
    return res.ok ? scrapeIntervalFromResponse(await res.json()) : undefined;
  } catch {
    return undefined;
  }
}

export const prometheusRunning = () => daemonPid('prometheus') !== undefined;

/**
 * Prometheus running with the wanted config: a running one whose scrape interval differs is
 * reloaded (its data kept), and restarted if the reload does not take.
 */
export async function ensurePrometheus(
  wanted: Wanted = { scrapeInterval: DEFAULT_SCRAPE_INTERVAL },
): Promise<void> {
  if (prometheusRunning() && (await httpOk(`${prometheusUrl()}/-/ready`))) {
    const diff = differences({ scrapeIntervalMs: await runningScrapeIntervalMs() }, wanted);
    if (diff.length === 0) return;
    say(`${diff.map((d) => d.say).join('; ')}: reloading its config`);
    writeConfig(wanted);
    if (await reloaded(wanted)) return;
    say('prometheus did not take the new config on reload; restarting it');
  }
  await stopDaemon('prometheus');
  await assertPortFree(PORTS.prometheus, 'prometheus');
  const config = writeConfig(wanted);
  say(`starting prometheus on ${prometheusUrl()}`);
  startDaemon(
    'prometheus',
    BINARY,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${dataDir()}`,
      '--storage.tsdb.retention.time=1d',
      `--web.listen-address=${HOST}:${PORTS.prometheus}`,
      '--web.enable-lifecycle',
    ],
    { log: prometheusLog(), marker: `--storage.tsdb.path=${dataDir()}` },
  );
  await waitHealthy('prometheus', () => httpOk(`${prometheusUrl()}/-/ready`), {
    timeoutMs: 60_000,
    log: prometheusLog(),
    alive: prometheusRunning,
  });
}

/** POST /-/reload (the sandbox runs it with --web.enable-lifecycle), then check what it runs. */
async function reloaded(wanted: Wanted): Promise<boolean> {
  try {
    const res = await fetch(`${prometheusUrl()}/-/reload`, {
      method: 'POST',
      signal: AbortSignal.timeout(10_000),
    });
    await res.arrayBuffer();
    if (!res.ok) return false;
  } catch {
    return false;
  }
  return differences({ scrapeIntervalMs: await runningScrapeIntervalMs() }, wanted).length === 0;
}

export async function prometheusVersion(): Promise<string> {
  if (!existsSync(BINARY)) return 'not installed';
  const r = await run(BINARY, ['--version']);
  const first = (r.stdout || r.stderr).split('\n')[0] ?? '';
  return /version (\S+)/.exec(first)?.[1] ?? (first.trim() || 'unknown');
}
