// `npm run demo` run as a user would, for the suites that check what it claims.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, onTestFinished } from 'vitest';
import { PATHS } from '../../sandbox/config.ts';
import { ROOT } from './fixtures.ts';

/**
 * Runs the demo with `args` to its end and checks what every delivery must show: exit 0, v2
 * promoted, v3 rolled back, the revert committed and applied by `tool`, and the HTML report with
 * its three charts and the rollback and git moments. Returns the demo's output.
 */
export async function runDemo(args: string[], tool: string): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'sandbox/demo/run.ts'), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  onTestFinished(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  expect(code, out).toBe(0);
  expect(out).toMatch(/v2 \(demo\/shop:2\.0\): promoted through every step/);
  expect(out).toMatch(/v3 \(demo\/shop:3\.0\): rolled back automatically/);
  expect(out).toMatch(/Sluice committed the revert/);
  expect(out).toContain(`delivery: git commits to`);
  expect(out).toContain(`, applied by ${tool}\n`);
  const report = readFileSync(join(PATHS.state, 'demo-report.html'), 'utf8');
  expect(report.match(/<svg/g)?.length).toBe(3);
  expect(report).toMatch(/class="moment rollback"/);
  expect(report).toMatch(/class="moment git"/);
  expect(report).toContain(`${tool} applied the revert: git and the cluster agree on v2`);
  return out;
}
