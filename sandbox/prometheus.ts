import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HOST, PATHS, PORTS } from './config.ts';
import { SandboxError, say } from './log.ts';
import { assertPortFree, daemonPid, httpOk, run, startDaemon, stopDaemon, waitHealthy } from './proc.ts';

const BINARY = '/usr/bin/prometheus';
export const prometheusUrl = () => `http://${HOST}:${PORTS.prometheus}`;
export const prometheusLog = () => join(PATHS.logs, 'prometheus.log');
const dataDir = () => join(PATHS.prometheusDir, 'data');

/** Debian's package: a real Prometheus, installed once; its system service is never used. */
export async function ensurePrometheusInstalled(): Promise<void> {
  if (existsSync(BINARY)) return;
  if (process.getuid?.() !== 0) {
    throw new SandboxError('Prometheus is not installed; run `sudo apt-get install prometheus` and retry.');
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  say('installing Debian package prometheus (apt-get update, then install)');
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', 'prometheus']]) {
    const r = await run('apt-get', args, { env, stream: true });
    if (r.code !== 0) {
      throw new SandboxError(
        `apt-get ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr.trim().split('\n').slice(-10).join('\n')}`,
      );
    }
  }
  if (!existsSync(BINARY)) throw new SandboxError(`apt-get installed prometheus but ${BINARY} is missing`);
}

function writeConfig(): string {
  mkdirSync(dataDir(), { recursive: true });
  const file = join(PATHS.prometheusDir, 'prometheus.yml');
  writeFileSync(
    file,
    [
      '# Written by sandbox/prometheus.ts on every `up`; edits are overwritten.',
      'global:',
      // bench/scale sets a longer interval: thousands of hosts make a 1 s scrape too heavy.
      `  scrape_interval: ${process.env.SLUICE_SANDBOX_SCRAPE_INTERVAL ?? '1s'}`,
      `  evaluation_interval: ${process.env.SLUICE_SANDBOX_SCRAPE_INTERVAL ?? '1s'}`,
      'scrape_configs:',
      '  - job_name: traffic-simulator',
      '    static_configs:',
      `      - targets: ['${HOST}:${PORTS.simulator}']`,
      '  - job_name: sluice-controller',
      '    static_configs:',
      `      - targets: ['${HOST}:${PORTS.controllerMetrics}']`,
      '',
    ].join('\n'),
  );
  return file;
}

export const prometheusRunning = () => daemonPid('prometheus') !== undefined;

export async function ensurePrometheus(): Promise<void> {
  if (prometheusRunning() && (await httpOk(`${prometheusUrl()}/-/ready`))) return;
  await stopDaemon('prometheus');
  await assertPortFree(PORTS.prometheus, 'prometheus');
  const config = writeConfig();
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

export async function prometheusVersion(): Promise<string> {
  if (!existsSync(BINARY)) return 'not installed';
  const r = await run(BINARY, ['--version']);
  const first = (r.stdout || r.stderr).split('\n')[0] ?? '';
  return /version (\S+)/.exec(first)?.[1] ?? (first.trim() || 'unknown');
}
