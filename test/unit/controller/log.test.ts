import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, newReconcileId, reconcileLogger } from '../../../controller/log.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, destination };
}

describe('log', () => {
  it('writes JSON with a textual level and honours the level', () => {
    const { lines, destination } = capture();
    const log = createLogger({ level: 'warn', destination });
    log.info('hidden');
    log.warn({ a: 1 }, 'shown');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'warn', msg: 'shown', a: 1, component: 'sluice' });
    expect(lines[0]).not.toHaveProperty('name');
    expect(typeof lines[0]!.time).toBe('string');
  });

  it('carries the Rollout and reconcile identity on every line of a pass', () => {
    const { lines, destination } = capture();
    const log = reconcileLogger(createLogger({ destination }), {
      namespace: 'shop',
      name: 'checkout',
      revision: '5f7c',
      reconcileId: 'r1',
    });
    log.info('step');
    expect(lines[0]).toMatchObject({
      namespace: 'shop',
      name: 'checkout',
      revision: '5f7c',
      reconcileId: 'r1',
    });
    const generated = reconcileLogger(createLogger({ destination }), { namespace: 'a', name: 'b' });
    generated.info('x');
    expect(lines[1]!.reconcileId).toMatch(/^[0-9a-f]{12}$/);
    expect(newReconcileId()).not.toBe(newReconcileId());
  });

  it('never writes credentials', () => {
    const { lines, destination } = capture();
    const log = createLogger({ destination });
    log.error(
      {
        token: 'T0KEN',
        headers: { authorization: 'Bearer SECRET1' },
        err: { request: { headers: { Authorization: 'Bearer SECRET2' } } },
        user: { password: 'hunter2', token: 'T2' },
        cluster: { auth: 'u:p' },
        kubeconfig: { user: { 'client-key-data': 'KEYDATA' } },
      },
      'request failed',
    );
    const text = JSON.stringify(lines[0]);
    for (const secret of ['T0KEN', 'SECRET1', 'SECRET2', 'hunter2', 'T2"', 'u:p', 'KEYDATA']) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain('[REDACTED]');
  });
});
