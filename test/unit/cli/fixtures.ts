import type { RawReplicaSet, Rollout, StatusView } from '../../../cli/model.ts';

export const NOW = new Date('2026-03-01T12:00:00Z');
export const ago = (seconds: number) => new Date(NOW.getTime() - seconds * 1000).toISOString();

/** A canary paused for promotion at step 4 of 5, 50% of traffic on revision 3 (abc123). */
export function pausedCanary(overrides: Partial<NonNullable<Rollout['status']>> = {}): Rollout {
  return {
    apiVersion: 'sluice.dev/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'checkout', namespace: 'shop', uid: 'u-rollout', creationTimestamp: ago(3 * 86400) },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'checkout' } },
      template: {
        metadata: { labels: { app: 'checkout' } },
        spec: {
          containers: [
            { name: 'app', image: 'shop/checkout:1.1.0' },
            { name: 'proxy', image: 'envoy:1.30' },
          ],
          initContainers: [{ name: 'migrate', image: 'shop/migrate:1' }],
        },
      },
      strategy: {
        canary: {
          steps: [
            { setWeight: 10 },
            { pause: { duration: '1m' } },
            { setWeight: 50 },
            { pause: {} },
            { analysis: { successRate: { min: 99 }, templates: [{ templateName: 'error-budget' }] } },
          ],
        },
      },
    },
    status: {
      phase: 'Paused',
      message: 'waiting for promotion at step 4',
      currentRevision: 'abc123',
      stableRevision: 'def456',
      currentStepIndex: 3,
      canary: { weight: 50 },
      pause: { reason: 'AwaitingPromotion', startTime: ago(150) },
      backgroundAnalysis: {
        name: 'checkout-abc123-bg',
        phase: 'Running',
        message: '4 measurements, all good',
      },
      history: [
        { revision: 'aaa111', outcome: 'Promoted', finishedAt: ago(2 * 86400) },
        { revision: 'def456', outcome: 'Promoted', finishedAt: ago(86400) },
      ],
      ...overrides,
    },
  };
}

export function replicaSet(number: number, hash: string, image: string, ready = 2): RawReplicaSet {
  return {
    metadata: {
      name: `checkout-${number}`,
      uid: `u-rs-${number}`,
      creationTimestamp: ago(number * 600),
      labels: { 'sluice.dev/rollout': 'checkout', 'sluice.dev/revision': hash },
      annotations: { 'sluice.dev/revision-number': String(number) },
    },
    spec: {
      replicas: 2,
      template: {
        metadata: {
          labels: { app: 'checkout', 'sluice.dev/revision': hash, 'pod-template-hash': 'x9' },
          annotations: { note: 'kept' },
        },
        spec: { containers: [{ name: 'app', image }] },
      },
    },
    status: { replicas: 2, readyReplicas: ready },
  };
}

export function statusView(rollout = pausedCanary()): StatusView {
  return {
    rollout,
    revisions: [
      {
        name: 'checkout-3',
        uid: 'u-rs-3',
        number: 3,
        hash: 'abc123',
        desired: 2,
        ready: 1,
        images: ['shop/checkout:1.1.0'],
        createdAt: ago(300),
      },
      {
        name: 'checkout-2',
        uid: 'u-rs-2',
        number: 2,
        hash: 'def456',
        desired: 2,
        ready: 2,
        images: ['shop/checkout:1.0.0'],
        createdAt: ago(86400),
      },
    ],
    pods: [
      {
        name: 'checkout-3-a',
        ownerUid: 'u-rs-3',
        hash: 'abc123',
        phase: 'Running',
        ready: true,
        containers: '1/1',
        restarts: 0,
        terminating: false,
      },
      {
        name: 'checkout-3-b',
        ownerUid: 'u-rs-3',
        hash: 'abc123',
        phase: 'Pending',
        ready: false,
        containers: '0/1',
        restarts: 2,
        terminating: false,
      },
      {
        name: 'checkout-2-a',
        ownerUid: 'u-rs-2',
        hash: 'def456',
        phase: 'Running',
        ready: true,
        containers: '1/1',
        restarts: 0,
        terminating: false,
      },
    ],
    events: [
      { type: 'Normal', reason: 'WeightSet', note: 'canary weight set to 50%', time: ago(200), count: 1 },
      { type: 'Normal', reason: 'Paused', note: 'waiting for promotion', time: ago(150), count: 3 },
    ],
  };
}
