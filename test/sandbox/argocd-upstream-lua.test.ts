import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CUSTOMIZATIONS } from '../../scripts/argocd-cm.ts';
import { ROOT } from '../support/fixtures.ts';

// resource_customizations/sluice.dev is "one copy away" from a contribution to Argo CD: Argo CD
// v3.6.2's own tests of its built-in Lua (util/lua TestLuaHealthScript and
// TestLuaResourceActionsScript), unchanged, run it from a copy of Argo CD's source
// (sandbox/argocd-lua-test.sh). Runs only in `npm run test:argocd`: it needs Go and compiles
// Argo CD's util/lua (see docs/argocd.md for how long).
const yamlAt = (path: string) => parse(readFileSync(join(ROOT, CUSTOMIZATIONS, path), 'utf8'));

/** The subtest names upstream's walkers give our cases (see the script's comment on actions). */
function expectedSubtests(): string[] {
  const health: { inputPath: string }[] = yamlAt('health_test.yaml').tests;
  const actions: {
    discoveryTests: { inputPath: string }[];
    actionTests: { action: string; inputPath: string }[];
  } = yamlAt('actions/action_test.yaml');
  return [
    ...health.map((t) => `TestLuaHealthScript/sluice.dev/Rollout/${t.inputPath}`),
    ...actions.discoveryTests.map((t) => `TestLuaResourceActionsScript/discovery/${t.inputPath}`),
    ...actions.actionTests.map((t) => `TestLuaResourceActionsScript/actions/${t.action}/${t.inputPath}`),
  ];
}

describe("Argo CD's own Lua tests on resource_customizations/sluice.dev", () => {
  it('run every case of health_test.yaml and action_test.yaml, and each passes', () => {
    const run = spawnSync('bash', [join(ROOT, 'sandbox/argocd-lua-test.sh'), '-json'], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    const events = run.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { Action: string; Test?: string; Output?: string });
    const ended = (action: string) =>
      events.filter((e) => e.Action === action && e.Test?.includes('/')).map((e) => e.Test);
    const failed = ended('fail');
    const why = events
      .filter((e) => e.Action === 'output' && failed.includes(e.Test))
      .map((e) => e.Output)
      .join('');
    expect(failed, `${why}\n${run.stderr.slice(-4000)}`).toEqual([]);
    expect(new Set(ended('pass'))).toEqual(new Set(expectedSubtests()));
    expect(run.status, run.stderr.slice(-4000)).toBe(0);
  });
});
