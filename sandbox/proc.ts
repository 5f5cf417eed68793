import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { PATHS } from './config.ts';
import { SandboxError } from './log.ts';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(
  cmd: string,
  args: readonly string[],
  opts: {
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    input?: string;
    /** Echo stderr while running (progress for long steps), optionally reshaped line by line. */
    stream?: boolean | ((line: string) => string | undefined);
  } = {},
): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    let partial = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
      const shape = opts.stream;
      if (shape === true) process.stderr.write(d);
      if (typeof shape !== 'function') return;
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const shown = shape(line);
        if (shown !== undefined) process.stderr.write(`${shown}\n`);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? 1, stdout, stderr }));
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

export async function runOk(
  cmd: string,
  args: readonly string[],
  opts: Parameters<typeof run>[2] = {},
): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new SandboxError(
      `\`${[cmd, ...args].join(' ')}\` exited with ${r.code}:\n${(r.stderr || r.stdout).trim()}`,
    );
  }
  return r.stdout;
}

interface PidRecord {
  pid: number;
  /** Part of the command line that identifies our process, so a recycled pid is never signalled. */
  marker: string;
  log: string;
  startedAt: string;
}

const pidFile = (name: string) => join(PATHS.pids, `${name}.json`);

/** Starts a long-running process in its own process group, logging to `log`, and records its pid. */
export function startDaemon(
  name: string,
  cmd: string,
  args: readonly string[],
  opts: { log: string; marker: string; env?: NodeJS.ProcessEnv; cwd?: string },
): number {
  mkdirSync(PATHS.pids, { recursive: true });
  const fd = openSync(opts.log, 'a');
  const child = spawn(cmd, args, {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: opts.env ?? process.env,
    cwd: opts.cwd,
  });
  closeSync(fd);
  child.unref();
  if (child.pid === undefined) throw new SandboxError(`could not start ${name} (${cmd}); see ${opts.log}`);
  const rec: PidRecord = {
    pid: child.pid,
    marker: opts.marker,
    log: opts.log,
    startedAt: new Date().toISOString(),
  };
  writeFileSync(pidFile(name), JSON.stringify(rec));
  return child.pid;
}

export function daemonPid(name: string): number | undefined {
  const file = pidFile(name);
  if (!existsSync(file)) return undefined;
  const rec = JSON.parse(readFileSync(file, 'utf8')) as PidRecord;
  return isOurs(rec.pid, rec.marker) ? rec.pid : undefined;
}

export function isOurs(pid: number, marker: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').includes(marker);
  } catch {
    return false;
  }
}

/** SIGTERM to the daemon's process group, SIGKILL if it lingers; true when something was stopped. */
export async function stopDaemon(name: string, graceMs = 10_000): Promise<boolean> {
  const file = pidFile(name);
  if (!existsSync(file)) return false;
  const rec = JSON.parse(readFileSync(file, 'utf8')) as PidRecord;
  let stopped = false;
  if (isOurs(rec.pid, rec.marker)) {
    stopped = true;
    await terminate(rec.pid, () => isOurs(rec.pid, rec.marker), graceMs, true);
  }
  rmSync(file, { force: true });
  return stopped;
}

export async function terminate(
  pid: number,
  alive: () => boolean,
  graceMs: number,
  group: boolean,
): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(group ? -pid : pid, sig);
    } catch {
      // Already gone.
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive() && Date.now() < deadline) await delay(100);
  if (alive()) signal('SIGKILL');
  while (alive() && Date.now() < deadline + 5000) await delay(100);
}

export const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Fails with the port, and the process holding it when `ss` can tell, before anything starts. */
export async function assertPortFree(port: number, component: string, host = '127.0.0.1'): Promise<void> {
  const free = await new Promise<boolean>((r) => {
    const srv = createServer();
    srv.once('error', () => r(false));
    srv.listen(port, host, () => srv.close(() => r(true)));
  });
  if (free) return;
  const owner = await portOwner(port);
  throw new SandboxError(
    `port ${port} (${component}) is already in use${owner ? ` by ${owner}` : ''}. ` +
      `Stop that process, or move the sandbox with SLUICE_SANDBOX_${component.toUpperCase().replace(/-/g, '_')}_PORT=<port>.`,
  );
}

async function portOwner(port: number): Promise<string | undefined> {
  try {
    const r = await run('ss', ['-Hltnp', `sport = :${port}`]);
    const m = /users:\(\("([^"]+)",pid=(\d+)/.exec(r.stdout);
    return m ? `${m[1]} (pid ${m[2]})` : undefined;
  } catch {
    return undefined;
  }
}

export function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return `(no log at ${file})`;
  }
}

/**
 * Polls `check` until it returns true. On timeout the error names the component, its log
 * and the log's last lines: the three things needed to start debugging.
 */
export async function waitHealthy(
  component: string,
  check: () => Promise<boolean>,
  opts: { timeoutMs: number; log: string; intervalMs?: number; alive?: () => boolean },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    if (opts.alive && !opts.alive()) {
      throw new SandboxError(
        `${component} exited during startup. Log: ${opts.log}\n--- last lines ---\n${tail(opts.log)}`,
      );
    }
    await delay(opts.intervalMs ?? 250);
  }
  throw new SandboxError(
    `${component} did not become healthy within ${Math.round(opts.timeoutMs / 1000)}s` +
      `${lastError ? ` (last error: ${lastError})` : ''}. Log: ${opts.log}\n--- last lines ---\n${tail(opts.log)}`,
  );
}

export async function httpOk(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}
