import { describe, expect, it } from 'vitest';
import { writeBackDue } from '../../../machines/write-back.ts';
import { canarySpec, established, gate, observe, T0 } from './fixtures.ts';

const spec = canarySpec([{ setWeight: 20 }, { pause: {} }], { analysis: gate });

/** r1 stable, r2 released; the background gate fails. Statuses as the real machine writes them. */
function rolledBack(by: 'gate' | 'person') {
  const d = established(spec);
  d.send(observe(T0 + 1000, 'r2'));
  d.send(observe(T0 + 2000, 'r2', { ready: true }));
  if (by === 'person') d.send({ type: 'ABORT', now: T0 + 3000, reason: 'requested by alice' });
  else
    d.send(
      observe(T0 + 3000, 'r2', {
        gates: { background: { name: d.background, phase: 'Failed', message: 'success-rate 91 < 99' } },
      }),
    );
  return d;
}

describe('writeBackDue', () => {
  it('is due once a gate rolled a revision back, naming both revisions and the gate', () => {
    const d = rolledBack('gate');
    expect(writeBackDue(spec, d.status, true)).toEqual({
      failedRevision: 'r2',
      stableRevision: 'r1',
      reason: expect.stringMatching(/background analysis .* failed: success-rate 91 < 99/),
    });
  });

  it('is off by default, on per Rollout, and a Rollout can opt out of the controller default', () => {
    const { status } = rolledBack('gate');
    expect(writeBackDue(spec, status, false)).toBeUndefined();
    expect(writeBackDue({ writeBack: { enabled: true } }, status, false)).toBeDefined();
    expect(writeBackDue({ writeBack: { enabled: false } }, status, true)).toBeUndefined();
  });

  it('leaves an abort a person asked for alone', () => {
    expect(writeBackDue(spec, rolledBack('person').status, true)).toBeUndefined();
    const onRequest = rolledBack('gate').status;
    const last = onRequest?.history?.at(-1);
    if (last) last.reason = 'aborted on request';
    expect(writeBackDue(spec, onRequest, true)).toBeUndefined();
  });

  it('happens once per failed revision', () => {
    const { status } = rolledBack('gate');
    const done = { ...status, writeBack: { revision: 'r2', state: 'Committed' as const, message: 'ok' } };
    expect(writeBackDue(spec, done, true)).toBeUndefined();
    const older = { ...status, writeBack: { revision: 'r0', state: 'Failed' as const, message: 'x' } };
    expect(writeBackDue(spec, older, true)).toBeDefined();
  });

  it('is not due while releasing, when healthy, or without a rollback record', () => {
    const d = established(spec);
    expect(writeBackDue(spec, d.status, true)).toBeUndefined();
    d.send(observe(T0 + 1000, 'r2'));
    expect(writeBackDue(spec, d.status, true)).toBeUndefined();
    expect(writeBackDue(spec, undefined, true)).toBeUndefined();
    const { status } = rolledBack('gate');
    expect(writeBackDue(spec, { ...status, history: [] }, true)).toBeUndefined();
    expect(writeBackDue(spec, { ...status, stableRevision: 'r2' }, true)).toBeUndefined();
  });

  it('is no longer due once the template is back on stable', () => {
    const d = rolledBack('gate');
    d.send(observe(T0 + 60_000, 'r1', { ready: true }));
    expect(d.status?.phase).toBe('Healthy');
    expect(writeBackDue(spec, d.status, true)).toBeUndefined();
  });
});
