import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startController } from '../harness/controller.ts';
import { sandbox } from '../harness/env.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { setLoad } from '../harness/traffic.ts';
import { analysisRuns, hostOf } from '../support/analysis.ts';
import { apply, canaryApp, canaryWeight, setImage, waitForRollout } from '../support/apps.ts';
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
    await apply(
      canaryApp(ns, {
        // Long enough for measurements with canary data: the simulator routes by a new weight
        // within seconds, and a run that ends with no data holds the release (rightly).
        steps: [{ setWeight: 50 }, { pause: { duration: '15s' } }],
        canary: { analysis: { interval: '3s', initialDelay: '5s', successRate: { min: 90 } } },
      }),
    );
    await setLoad(hostOf('web', ns), 60);
    const controller = await startController(ns, {
      entry,
      args: ['--prometheus-url', sandbox().PROMETHEUS_URL],
    });
    const first = await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');
    await setImage(ns, `shop/${ns}:2`);
    const promoted = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy' && r.status.stableRevision !== first.status?.stableRevision,
      'the bundle to promote the second revision',
      { timeout: 120_000 },
    );
    expect(promoted.status?.history?.at(-1)?.outcome).toBe('Promoted');
    expect(await canaryWeight(ns)).toBe(0);
    // The gate really measured through Prometheus (prometheus-query and CEL are in the bundle).
    const bg = (await analysisRuns(ns)).find((r) => r.spec.gate === 'background');
    const rate = bg?.status?.metricResults?.find((m) => m.name === 'success-rate');
    expect(rate?.successful).toBeGreaterThan(0);
    expect(controller.lines().some((l) => l.msg === 'informers synced')).toBe(true);
  }, 180_000);
});
