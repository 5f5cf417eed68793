import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PATHS } from './config.ts';
import { say } from './log.ts';
import { delay } from './proc.ts';

// Several people and test runs share one checkout's sandbox: `up`/`down` must not interleave,
// and a test run must not stop a sandbox another run is still using.

const lockDir = () => join(PATHS.state, 'lock');
let depth = 0;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function owner(): number | undefined {
  try {
    return Number(readFileSync(join(lockDir(), 'pid'), 'utf8'));
  } catch {
    return undefined;
  }
}

/** Runs fn holding the checkout-wide sandbox lock (re-entrant within a process). */
export async function withSandboxLock<T>(fn: () => Promise<T>, timeoutMs = 30 * 60_000): Promise<T> {
  if (depth > 0) {
    depth++;
    try {
      return await fn();
    } finally {
      depth--;
    }
  }
  mkdirSync(PATHS.state, { recursive: true });
  const deadline = Date.now() + timeoutMs;
  let announced = false;
  for (;;) {
    try {
      // mkdir is atomic: exactly one process creates the directory.
      mkdirSync(lockDir());
      writeFileSync(join(lockDir(), 'pid'), String(process.pid));
      break;
    } catch {
      const pid = owner();
      if (pid !== undefined && !Number.isNaN(pid) && !alive(pid)) {
        rmSync(lockDir(), { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for the sandbox lock held by pid ${pid}`);
      if (!announced) say(`another sandbox up/down (pid ${pid ?? '?'}) is running; waiting for it`);
      announced = true;
      await delay(500);
    }
  }
  depth = 1;
  try {
    return await fn();
  } finally {
    depth = 0;
    rmSync(lockDir(), { recursive: true, force: true });
  }
}

const leaseDir = () => join(PATHS.state, 'leases');
const startedByTestsFlag = () => join(PATHS.state, 'started-by-tests');

/** A test run announces it uses the sandbox; the lease dies with its process. */
export function takeLease(startedIt: boolean): void {
  mkdirSync(leaseDir(), { recursive: true });
  writeFileSync(join(leaseDir(), String(process.pid)), new Date().toISOString());
  if (startedIt) writeFileSync(startedByTestsFlag(), String(process.pid));
}

/**
 * Drops this process's lease; true when the sandbox should now stop: a test run started it
 * (not a person) and no other live test run holds a lease.
 */
export function releaseLease(): boolean {
  rmSync(join(leaseDir(), String(process.pid)), { force: true });
  let others = 0;
  for (const name of safeList(leaseDir())) {
    if (alive(Number(name))) others++;
    else rmSync(join(leaseDir(), name), { force: true });
  }
  return others === 0 && safeList(PATHS.state).includes('started-by-tests');
}

/** A person's `up` adopts the sandbox: test runs will no longer stop it. */
export function adoptSandbox(): void {
  rmSync(startedByTestsFlag(), { force: true });
}

export function clearLeases(): void {
  rmSync(leaseDir(), { recursive: true, force: true });
  rmSync(startedByTestsFlag(), { force: true });
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
