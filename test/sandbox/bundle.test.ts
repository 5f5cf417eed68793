import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ControllerProcess, startController } from '../harness/controller.ts';
import { sandbox } from '../harness/env.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { promoteGatedCanary } from '../support/analysis.ts';
import { ROOT } from '../support/fixtures.ts';

// The image runs one file, dist/sluice.mjs, with nothing beside it (Dockerfile). Here that file
// is built alone into an empty directory, far from the repository's node_modules, and releases
// a canary gated on Prometheus: anything the bundle failed to include would fail to load here.

function bundleAlone(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bundle-'));
  const out = join(dir, 'sluice.mjs');
  execFileSync(process.execPath, [join(ROOT, 'bin', 'bundle.mjs'), out], { stdio: 'pipe' });
  return out;
}

/** Would Node find a node_modules folder from `file`'s directory upwards? */
function nodeModulesAbove(file: string): string | undefined {
  for (let d = dirname(file); ; d = dirname(d)) {
    if (existsSync(join(d, 'node_modules'))) return d;
    if (dirname(d) === d) return undefined;
  }
}

describe('the bundle the image runs', () => {
  it('releases a canary with background analysis from a directory holding nothing but itself', async () => {
    const entry = bundleAlone();
    expect(readdirSync(dirname(entry))).toEqual(['sluice.mjs']);
    expect(nodeModulesAbove(entry)).toBeUndefined();

    const ns = await freshNamespace('bundle');
    let controller: ControllerProcess | undefined;
    // The gate measures through Prometheus: prometheus-query and CEL are in the bundle.
    await promoteGatedCanary(
      ns,
      async () => {
        controller = await startController(ns, {
          entry,
          args: ['--prometheus-url', sandbox().PROMETHEUS_URL],
        });
      },
      'the bundle',
    );
    expect(controller?.lines().some((l) => l.msg === 'informers synced')).toBe(true);
  }, 180_000);
});
