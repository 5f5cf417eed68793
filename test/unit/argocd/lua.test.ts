import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from '../../support/fixtures.ts';

// Argo CD runs these scripts in Lua 5.1 (gopher-lua); Debian's lua5.1 runs them here, against
// Rollouts captured from the real controller in each phase (test/fixtures/rollout-status).
const cm = parse(readFileSync(join(ROOT, 'examples/argocd/argocd-cm.yaml'), 'utf8')).data;
const health: string = cm['resource.customizations.health.sluice.dev_Rollout'];
const actions = parse(cm['resource.customizations.actions.sluice.dev_Rollout']) as {
  'discovery.lua': string;
  definitions: { name: string; 'action.lua': string }[];
};
const captured = (phase: string) =>
  JSON.parse(readFileSync(join(ROOT, 'test/fixtures/rollout-status', `${phase}.json`), 'utf8'));

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

function runLua(script: string, obj: unknown): Record<string, unknown> {
  const program = `${ENCODE}\nobj = ${toLua(obj)}\nlocal result = (function()\n${script}\nend)()\nio.write(encode(result))`;
  return JSON.parse(execFileSync('lua5.1', ['-'], { input: program, encoding: 'utf8' }));
}

describe('Argo CD health check', () => {
  it.each([
    ['healthy', 'Healthy'],
    ['progressing', 'Progressing'],
    ['paused', 'Suspended'],
    ['degraded', 'Degraded'],
    ['stalled', 'Degraded'],
  ])('reads a %s Rollout as %s, with the controller’s message', (phase, expected) => {
    const rollout = captured(phase);
    const hs = runLua(health, rollout);
    expect(hs.status).toBe(expected);
    const stalled = rollout.status.conditions.find((c: { type: string }) => c.type === 'Stalled');
    expect(hs.message).toBe(phase === 'stalled' ? stalled.message : rollout.status.message);
  });

  it('waits while the controller has not seen the latest generation', () => {
    const rollout = captured('healthy');
    rollout.metadata.generation = rollout.status.observedGeneration + 1;
    expect(runLua(health, rollout)).toMatchObject({ status: 'Progressing' });
    expect(runLua(health, { metadata: { name: 'new' } })).toMatchObject({ status: 'Progressing' });
  });
});

describe('Argo CD actions', () => {
  const enabled = (phase: string) =>
    Object.entries(runLua(actions['discovery.lua'], captured(phase)))
      .filter(([, a]) => !(a as { disabled: boolean }).disabled)
      .map(([name]) => name)
      .sort();

  it('offers only what makes sense in each phase', () => {
    expect(enabled('healthy')).toEqual([]);
    expect(enabled('progressing')).toEqual(['abort', 'pause', 'promote', 'promote-full']);
    expect(enabled('paused')).toEqual(['abort', 'promote', 'promote-full', 'resume']);
    expect(enabled('degraded')).toEqual(['retry']);
  });

  it.each([
    ['promote', 'promote', undefined],
    ['promote-full', 'promote', true],
    ['abort', 'abort', undefined],
    ['retry', 'retry', undefined],
    ['pause', 'pause', undefined],
    ['resume', 'resume', undefined],
  ])('%s leaves a %s request in status.signals and touches nothing else', (name, signal, full) => {
    const script = actions.definitions.find((d) => d.name === name)?.['action.lua'];
    const before = captured('paused');
    const after = runLua(script ?? '', before) as typeof before;
    const request = after.status.signals[signal];
    expect(request.by).toBe('argocd');
    expect(request.requestedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(request.full).toBe(full);
    expect(after.spec).toEqual(before.spec);
    const { signals: _signals, ...rest } = after.status;
    expect(JSON.parse(JSON.stringify(rest))).toEqual(JSON.parse(JSON.stringify(before.status)));
  });
});

describe('Argo CD health while pods start', () => {
  it('reads a promoted Rollout whose pods are not yet available as Progressing', () => {
    const rollout = captured('healthy');
    const ready = rollout.status.conditions.find((c: { type: string }) => c.type === 'Ready');
    ready.status = 'False';
    ready.message = '1 of 2 pods of revision llw867 available';
    expect(runLua(health, rollout)).toEqual({ status: 'Progressing', message: ready.message });
  });
});
