import { describe, expect, it } from 'vitest';
import { signalPatch, signalRefusal } from '../../../cli/commands/signal.ts';
import { chooseUndoTarget, setImageOps, templateForUndo } from '../../../cli/commands/template.ts';
import { CliError } from '../../../cli/errors.ts';
import { NOW, pausedCanary, replicaSet } from './fixtures.ts';

const healthy = () =>
  pausedCanary({
    phase: 'Healthy',
    currentRevision: 'def456',
    stableRevision: 'def456',
    pause: undefined,
    canary: { weight: 0 },
  });

describe('signal pre-checks', () => {
  it('lets promote, abort and pause through while a release is paused', () => {
    for (const command of ['promote', 'abort', 'pause', 'resume'] as const) {
      expect(signalRefusal(command, pausedCanary())).toBeUndefined();
    }
  });

  it('refuses promote and abort with no release in progress', () => {
    expect(signalRefusal('promote', healthy())).toBe(
      'nothing to promote: rollout "checkout" is Healthy with no release in progress',
    );
    expect(signalRefusal('abort', healthy())).toBe(
      'nothing to abort: rollout "checkout" has no release in progress (phase: Healthy)',
    );
  });

  it('treats a new revision waiting between steps as a release in progress', () => {
    const between = pausedCanary({ phase: 'Healthy', pause: undefined });
    expect(signalRefusal('promote', between)).toBeUndefined();
    expect(signalRefusal('abort', between)).toBeUndefined();
  });

  it('refuses resume unless paused and retry unless aborted', () => {
    expect(signalRefusal('resume', pausedCanary({ phase: 'Progressing' }))).toBe(
      'rollout "checkout" is not paused (phase: Progressing)',
    );
    expect(signalRefusal('retry', pausedCanary())).toBe(
      'nothing to retry: rollout "checkout" is not aborted (phase: Paused)',
    );
    expect(signalRefusal('retry', pausedCanary({ abort: true, phase: 'Degraded' }))).toBeUndefined();
  });

  it('refuses to abort twice or pause a manual pause again', () => {
    expect(signalRefusal('abort', pausedCanary({ abort: true, phase: 'Degraded' }))).toMatch(
      /already aborted/,
    );
    expect(
      signalRefusal('pause', pausedCanary({ pause: { reason: 'Manual', startTime: NOW.toISOString() } })),
    ).toMatch(/already paused/);
  });

  it('says when the controller has not reported yet', () => {
    const fresh = pausedCanary();
    fresh.status = undefined;
    expect(signalRefusal('resume', fresh)).toBe(
      'rollout "checkout" is not paused (phase: unknown: the controller has not reported on it yet)',
    );
  });
});

describe('signalPatch', () => {
  it('touches only status.signals.<command>', () => {
    expect(signalPatch('abort', NOW, 'alice')).toEqual({
      status: { signals: { abort: { requestedAt: '2026-03-01T12:00:00.000Z', by: 'alice' } } },
    });
  });

  it('asks a restart as a signal too: status, never spec.restartAt, which git owns', () => {
    expect(signalPatch('restart', NOW, 'carol')).toEqual({
      status: { signals: { restart: { requestedAt: '2026-03-01T12:00:00.000Z', by: 'carol' } } },
    });
    expect(signalRefusal('restart', pausedCanary())).toBeUndefined();
  });

  it('adds full: true only to a full promotion', () => {
    expect(signalPatch('promote', NOW, 'bob', true)).toEqual({
      status: { signals: { promote: { requestedAt: '2026-03-01T12:00:00.000Z', by: 'bob', full: true } } },
    });
    expect(signalPatch('pause', NOW, 'bob', true)).toEqual({
      status: { signals: { pause: { requestedAt: '2026-03-01T12:00:00.000Z', by: 'bob' } } },
    });
  });
});

describe('setImageOps', () => {
  it('guards each replace with a test of the container name', () => {
    expect(
      setImageOps(pausedCanary(), [
        { container: 'proxy', image: 'envoy:1.31' },
        { container: 'migrate', image: 'shop/migrate:2' },
      ]),
    ).toEqual([
      { op: 'test', path: '/spec/template/spec/containers/1/name', value: 'proxy' },
      { op: 'replace', path: '/spec/template/spec/containers/1/image', value: 'envoy:1.31' },
      { op: 'test', path: '/spec/template/spec/initContainers/0/name', value: 'migrate' },
      { op: 'replace', path: '/spec/template/spec/initContainers/0/image', value: 'shop/migrate:2' },
    ]);
  });

  it('names the missing container and the ones that exist', () => {
    expect(() => setImageOps(pausedCanary(), [{ container: 'web', image: 'x' }])).toThrow(
      new CliError('container "web" not found in rollout "checkout" (containers: app, proxy, migrate)'),
    );
  });
});

describe('undo', () => {
  const sets = [
    replicaSet(1, 'aaa111', 'img:1'),
    replicaSet(3, 'abc123', 'img:3'),
    replicaSet(2, 'def456', 'img:2'),
  ];

  it('goes back to the revision before the current one', () => {
    expect(chooseUndoTarget(pausedCanary(), sets).number).toBe(2);
    expect(chooseUndoTarget(pausedCanary({ currentRevision: 'def456' }), sets).number).toBe(1);
  });

  it('takes the newest revision as current when status names none', () => {
    expect(chooseUndoTarget(pausedCanary({ currentRevision: undefined }), sets).number).toBe(2);
  });

  it('goes to the revision asked for', () => {
    const { target, number } = chooseUndoTarget(pausedCanary(), sets, 1);
    expect(number).toBe(1);
    expect(target.metadata.name).toBe('checkout-1');
  });

  it.each([
    [
      undefined,
      'aaa111',
      'rollout "checkout" has no revision before the current one (1); revisions: 1, 2, 3',
    ],
    [7, 'abc123', 'revision 7 not found for rollout "checkout" (revisions: 1, 2, 3)'],
    [3, 'abc123', 'rollout "checkout" is already at revision 3'],
  ])('explains why it cannot (to %s from %s)', (to, current, message) => {
    expect(() => chooseUndoTarget(pausedCanary({ currentRevision: current }), sets, to)).toThrow(
      new CliError(message),
    );
  });

  it('refuses when the controller has made no revisions', () => {
    expect(() => chooseUndoTarget(pausedCanary(), [])).toThrow(
      'rollout "checkout" has no revisions to go back to',
    );
  });

  it('copies the template without the labels the controller and kube add', () => {
    const rs = replicaSet(2, 'def456', 'img:2');
    (rs.spec!.template!.metadata as Record<string, unknown>).creationTimestamp = null;
    expect(templateForUndo(rs)).toEqual({
      metadata: { labels: { app: 'checkout' }, annotations: { note: 'kept' } },
      spec: { containers: [{ name: 'app', image: 'img:2' }] },
    });
    // The ReplicaSet itself is left as it was.
    expect(rs.spec?.template?.metadata?.labels?.['sluice.dev/revision']).toBe('def456');
  });
});
