import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HOST, PATHS, PORTS } from './config.ts';
import { say } from './log.ts';
import { assertPortFree, daemonPid, httpOk, startDaemon, stopDaemon, waitHealthy } from './proc.ts';

export const simulatorUrl = () => `http://${HOST}:${PORTS.simulator}`;
export const simulatorLog = () => join(PATHS.logs, 'traffic-simulator.log');
export const simulatorRunning = () => daemonPid('traffic-simulator') !== undefined;

/** Changes with the simulator's source, so `up` replaces a simulator running older code. */
function codeHash(): string {
  const dir = dirname(PATHS.simulatorEntry);
  const hash = createHash('sha256');
  for (const f of readdirSync(dir).sort()) hash.update(f).update(readFileSync(join(dir, f)));
  return hash.digest('hex');
}

const hashFile = () => join(PATHS.pids, 'traffic-simulator.code');

export async function ensureSimulator(): Promise<void> {
  const code = codeHash();
  const runningCode = existsSync(hashFile()) ? readFileSync(hashFile(), 'utf8') : '';
  if (simulatorRunning() && (await httpOk(`${simulatorUrl()}/healthz`))) {
    if (runningCode === code) return;
    say('traffic simulator code changed; restarting it');
  }
  await stopDaemon('traffic-simulator');
  await assertPortFree(PORTS.simulator, 'simulator');
  say(`starting traffic simulator on ${simulatorUrl()}`);
  // node --import tsx keeps one process (no tsx wrapper parent) so the recorded pid is the simulator.
  startDaemon('traffic-simulator', process.execPath, ['--import', 'tsx', PATHS.simulatorEntry], {
    log: simulatorLog(),
    marker: PATHS.simulatorEntry,
    cwd: PATHS.repo,
    env: {
      ...process.env,
      KUBECONFIG: PATHS.kubeconfig,
      SIMULATOR_HOST: HOST,
      SIMULATOR_PORT: String(PORTS.simulator),
      SIMULATOR_SEED: process.env.SIMULATOR_SEED ?? '1',
    },
  });
  writeFileSync(hashFile(), code);
  await waitHealthy('traffic-simulator', () => httpOk(`${simulatorUrl()}/healthz`), {
    timeoutMs: 60_000,
    log: simulatorLog(),
    alive: simulatorRunning,
  });
}
