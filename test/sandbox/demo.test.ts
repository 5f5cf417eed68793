import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { PATHS } from '../../sandbox/config.ts';
import { ROOT } from '../support/fixtures.ts';

// The README's first command, run as a user would: it exits non-zero unless v2 was promoted,
// v3 rolled back, the revert committed to git and applied by Flux, and the app ended on v2.
describe('npm run demo', () => {
  it('takes v2 and v3 through git and Flux, and ends Healthy on v2 with the revert in git', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'sandbox/demo/run.ts')], {
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
    const report = readFileSync(join(PATHS.state, 'demo-report.html'), 'utf8');
    expect(report.match(/<svg/g)?.length).toBe(3);
    expect(report).toMatch(/class="moment rollback"/);
    expect(report).toMatch(/class="moment git"/);
  }, 420_000);
});
