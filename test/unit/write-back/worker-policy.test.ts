import { KubeConfig, type V1ReplicaSet } from '@kubernetes/client-node';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventRecorder } from '../../../controller/kube/events.ts';
import { revisionOf } from '../../../controller/revision.ts';
import { DEFAULT_POLICY, type WriteBackPolicy } from '../../../controller/write-back/policy.ts';
import { type WriteBackStatus, WriteBackWorker } from '../../../controller/write-back/worker.ts';
import { POD_TEMPLATE_ANNOTATION, REVISION_LABEL, type Rollout } from '../../../crds/index.ts';

// The worker's decisions before git runs. No API server is needed: a Rollout that names its own
// repository (no GitOps labels, no secretRef) makes discovery read nothing, so the store, the
// status writer and the event sink are the worker's own small interfaces, kept in memory.
const stableTemplate = {
  metadata: { labels: { app: 'web' } },
  spec: { containers: [{ name: 'app', image: 'shop/web:1' }] },
};
const failedTemplate = {
  metadata: { labels: { app: 'web' } },
  spec: { containers: [{ name: 'app', image: 'shop/web:2' }] },
};

function rolledBack(repository: NonNullable<Rollout['spec']['writeBack']>['repository']): Rollout {
  const failed = revisionOf(failedTemplate as never);
  return {
    apiVersion: 'sluice.dev/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'web', namespace: 'shop', uid: 'u1' },
    spec: { template: failedTemplate, writeBack: { enabled: true, repository } },
    status: {
      phase: 'Degraded',
      abort: true,
      currentRevision: failed,
      stableRevision: revisionOf(stableTemplate as never),
      history: [{ revision: failed, outcome: 'Aborted', reason: 'success-rate 50 < 95' }],
    },
  } as unknown as Rollout;
}

function harness(rollout: Rollout, policy: WriteBackPolicy) {
  const written: WriteBackStatus[] = [];
  const notes: string[] = [];
  const stable: V1ReplicaSet = {
    metadata: {
      labels: { [REVISION_LABEL]: rollout.status?.stableRevision ?? '' },
      annotations: { [POD_TEMPLATE_ANNOTATION]: JSON.stringify(stableTemplate) },
    },
  };
  const worker = new WriteBackWorker({
    kc: new KubeConfig(),
    store: { rollout: () => rollout, replicaSets: () => [stable] },
    writer: {
      writeWriteBack: async (_ns, _name, w) => {
        written.push(w);
        return rollout;
      },
    },
    events: {
      record: async (_ref: unknown, info: { note: string }) => void notes.push(info.note),
    } as unknown as EventRecorder,
    logger: pino({ level: 'silent' }),
    enabledByDefault: false,
    policy,
    attempts: 1,
  });
  return { worker, written, notes };
}

const saved = { PATH: process.env.PATH, TMPDIR: process.env.TMPDIR };
afterEach(() => {
  process.env.PATH = saved.PATH;
  if (saved.TMPDIR === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = saved.TMPDIR;
});

describe('write-back worker: policy and environment failures end in status, not in a retry loop', () => {
  const own = { url: 'https://git.invalid/shop.git', path: 'deploy' };

  it("refuses a Rollout's own repository when the admin does not allow it, naming the flag", async () => {
    const { worker, written, notes } = harness(rolledBack(own), DEFAULT_POLICY);
    await worker.process('shop/web');
    expect(written).toHaveLength(1);
    expect(written[0]).toMatchObject({ state: 'Failed', revision: revisionOf(failedTemplate as never) });
    expect(written[0]?.message).toMatch(
      /^write-back refused by policy: spec\.writeBack\.repository sets url, path, .*--write-back-tenant-repositories\); nothing was pushed/,
    );
    expect(notes).toEqual([written[0]?.message]);
  });

  it('refuses a URL outside the allowed prefixes', async () => {
    const policy = {
      ...DEFAULT_POLICY,
      tenantRepositories: true,
      allowedUrlPrefixes: ['https://git.example/acme/'],
    };
    const { worker, written } = harness(rolledBack(own), policy);
    await worker.process('shop/web');
    expect(written[0]?.message).toMatch(
      /^write-back refused by policy: repository URL is outside the prefixes the admin allows \(--write-back-allowed-urls\)/,
    );
  });

  it('records a missing git binary as Failed', async () => {
    process.env.PATH = '/nonexistent';
    const { worker, written } = harness(rolledBack(own), { ...DEFAULT_POLICY, tenantRepositories: true });
    await worker.process('shop/web');
    expect(written).toEqual([expect.objectContaining({ state: 'Failed' })]);
    expect(written[0]?.message).toMatch(/^the controller has no git binary on its PATH; nothing was pushed/);
  });

  it('records an unwritable temporary directory as Failed', async () => {
    process.env.TMPDIR = '/nonexistent/tmp';
    const { worker, written } = harness(rolledBack(own), { ...DEFAULT_POLICY, tenantRepositories: true });
    await worker.process('shop/web');
    expect(written[0]?.message).toMatch(
      /^the controller cannot create a temporary directory in \/nonexistent\/tmp \(ENOENT\); nothing was pushed/,
    );
  });
});
