import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CUSTOMIZATIONS, OUTPUTS, readCustomizations } from '../../../scripts/argocd-cm.ts';
import { ROOT } from '../../support/fixtures.ts';

// Argo CD runs these scripts in Lua 5.1 (gopher-lua); Debian's lua5.1 runs them here, on the test
// cases of resource_customizations/sluice.dev/Rollout in Argo CD's own format (health_test.yaml,
// actions/action_test.yaml). Their inputs are Rollouts captured from the real controller in each
// phase (test/fixtures/rollout-status). Argo CD's own Go tests run the same files in
// `npm run test:argocd` (test/sandbox/argocd-upstream-lua.test.ts). examples/argocd/argocd-cm.yaml
// and helm-values.yaml are generated from the same scripts and checked below: what they ship is
// what is tested here.
const scripts = readCustomizations();
const dir = join(ROOT, CUSTOMIZATIONS);
const yamlAt = (path: string) => parse(readFileSync(join(dir, path), 'utf8'));
const captured = (phase: string) =>
  JSON.parse(readFileSync(join(ROOT, 'test/fixtures/rollout-status', `${phase}.json`), 'utf8'));

type Status = { status: string; message: string };
const healthTests: { inputPath: string; healthStatus: Status }[] = yamlAt('health_test.yaml').tests;
const { discoveryTests, actionTests } = yamlAt('actions/action_test.yaml') as {
  discoveryTests: { inputPath: string; result: { name: string; disabled: boolean }[] }[];
  actionTests: { action: string; inputPath: string; expectedOutputPath: string }[];
};

/** A Lua table constructor for a JSON value (null becomes nil, as Argo CD's conversion does). */
function toLua(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `{${value.map(toLua).join(',')}}`;
  return `{${Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `[${JSON.stringify(k)}]=${toLua(v)}`)
    .join(',')}}`;
}

// A minimal encoder so the script's result comes back as JSON.
const ENCODE = `
local function encode(v)
  local t = type(v)
  if t == "nil" then return "null" end
  if t == "boolean" or t == "number" then return tostring(v) end
  if t == "string" then return string.format("%q", v) end
  local n, out = 0, {}
  for _ in pairs(v) do n = n + 1 end
  if n > 0 and #v == n then
    for _, x in ipairs(v) do out[#out + 1] = encode(x) end
    return "[" .. table.concat(out, ",") .. "]"
  end
  for k, x in pairs(v) do out[#out + 1] = string.format("%q", tostring(k)) .. ":" .. encode(x) end
  return "{" .. table.concat(out, ",") .. "}"
end`;

// Argo CD runs actions without a global `os` (only require("os") gives its safe one): so here.
function runLua(script: string, obj: unknown): Record<string, unknown> {
  const program = `${ENCODE}\nobj = ${toLua(obj)}\nos = nil\nlocal result = (function()\n${script}\nend)()\nio.write(encode(result))`;
  return JSON.parse(execFileSync('lua5.1', ['-'], { input: program, encoding: 'utf8' }));
}

describe('the generated examples', () => {
  it.each(OUTPUTS.map((o) => [o.path, o.render]))('%s is what `npm run argocd-cm` writes', (path, render) => {
    expect(readFileSync(join(ROOT, path), 'utf8')).toBe(render(scripts));
  });
});

describe('the test inputs', () => {
  // The files that are a capture as it was taken; the others change one thing, said beside their case.
  const AS_CAPTURED: Record<string, string> = {
    'testdata/progressing_canaryNotReady.yaml': 'progressing',
    'testdata/suspended_pauseStep.yaml': 'paused',
    'testdata/healthy_promoted.yaml': 'healthy',
    'testdata/degraded_aborted.yaml': 'degraded',
    'testdata/degraded_stalled.yaml': 'stalled',
    ...Object.fromEntries(
      ['healthy', 'progressing', 'paused', 'degraded', 'stalled'].map((p) => [
        `actions/testdata/${p}.yaml`,
        p,
      ]),
    ),
  };
  it.each(Object.entries(AS_CAPTURED))('%s is the captured %s Rollout', (file, phase) => {
    expect(yamlAt(file)).toEqual(captured(phase));
  });

  it('are each used by a case, and each case’s file exists', () => {
    const used = [
      ...healthTests.map((t) => t.inputPath),
      ...discoveryTests.map((t) => `actions/${t.inputPath}`),
      ...actionTests.flatMap((t) => [`actions/${t.inputPath}`, `actions/${t.expectedOutputPath}`]),
    ];
    const present = ['testdata', 'actions/testdata'].flatMap((d) =>
      readdirSync(join(dir, d)).map((f) => `${d}/${f}`),
    );
    expect(new Set(used)).toEqual(new Set(present));
  });
});

describe('Argo CD health check (health_test.yaml)', () => {
  it.each(healthTests.map((t) => [t.inputPath, t.healthStatus.status, t.healthStatus]))(
    '%s is %s',
    (input, _status, expected) => {
      expect(runLua(scripts.health, yamlAt(input))).toEqual(expected);
    },
  );

  it('has a case for each status it gives', () => {
    expect(new Set(healthTests.map((t) => t.healthStatus.status))).toEqual(
      new Set(['Progressing', 'Suspended', 'Healthy', 'Degraded']),
    );
  });
});

describe('Argo CD actions (actions/action_test.yaml)', () => {
  const names = scripts.actions.map((a) => a.name).sort();

  it.each(discoveryTests.map((t) => [t.inputPath, t.result]))('discovery on %s', (input, expected) => {
    const offered = Object.entries(runLua(scripts.discovery, yamlAt(`actions/${input}`))).map(
      ([name, action]) => ({ name, ...(action as object) }),
    );
    const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
    expect(offered.sort(byName)).toEqual([...expected].sort(byName));
  });

  it('shows discovery offering and withholding each action', () => {
    const results = discoveryTests.flatMap((t) => t.result);
    for (const disabled of [false, true]) {
      const seen = results.filter((r) => r.disabled === disabled).map((r) => r.name);
      expect(new Set(seen)).toEqual(new Set(names));
    }
  });

  // Argo CD's own comparison ignores what an expected output leaves out (requestedAt here):
  // this one does not, so each action is shown to add its one request and change nothing else.
  it.each(actionTests.map((t) => [t.action, t.inputPath, t.expectedOutputPath]))(
    '%s on %s gives %s',
    (action, input, output) => {
      const before = yamlAt(`actions/${input}`);
      const script = scripts.actions.find((a) => a.name === action)?.lua;
      const after = runLua(script ?? '', before) as {
        status: { signals: Record<string, Record<string, unknown>> };
      };
      const added = Object.keys(after.status.signals).filter((s) => !before.status?.signals?.[s]);
      expect(added).toHaveLength(1);
      const request = after.status.signals[added[0] as string]!;
      expect(request.requestedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      delete request.requestedAt;
      expect(after).toEqual(yamlAt(`actions/${output}`));
    },
  );

  it('has a case for each action', () => {
    expect(new Set(actionTests.map((t) => t.action))).toEqual(new Set(names));
  });
});
