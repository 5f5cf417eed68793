import type { V1ReplicaSet, V1Service } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { EventInfo } from '../../../controller/kube/events.ts';
import { FINALIZER, type ReconcileDeps, reconcile } from '../../../controller/reconcile.ts';
import { REVISION_LABEL, ROLLOUT_LABEL, revisionOf } from '../../../controller/revision.ts';
import type { VirtualService } from '../../../controller/traffic/virtual-service.ts';
import { ownerReference, replicaSetName } from '../../../controller/workload.ts';
import type { World } from '../../../controller/world.ts';
import type { Writer } from '../../../controller/writer.ts';
import type { AnalysisRun, Rollout } from '../../../crds/index.ts';

// The reconcile against an in-memory world: every write the Writer would send is applied to
// it, and ReplicaSets become ready at once (the sandbox suite runs the same cases against the
// real API server; this one pins the decisions down in milliseconds).
const NS = 'shop';
const UID = 'uid-web';

function rolloutOf(image: string, canary: Record<string, unknown> = {}): Rollout {
  return {
    apiVersion: 'sluice.dev/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'web', namespace: NS, uid: UID, generation: 1, finalizers: [FINALIZER] },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image }] } },
      strategy: {
        canary: {
          stableService: 'web-stable',
          canaryService: 'web-canary',
          steps: [{ setWeight: 20 }, { analysis: { templates: [{ templateName: 'probe' }] } }, { pause: {} }],
          ...canary,
        },
      },
    },
  } as Rollout;
}

const service = (name: string, selector: Record<string, string>): V1Service => ({
  metadata: { name, namespace: NS },
  spec: { selector },
});

class Sim {
  services = new Map<string, V1Service>([
    ['web-stable', service('web-stable', { app: 'web' })],
    ['web-canary', service('web-canary', { app: 'web' })],
    ['payments', service('payments', { app: 'payments' })],
  ]);
  replicaSets = new Map<string, V1ReplicaSet>();
  runs = new Map<string, AnalysisRun>();
  notes: EventInfo[] = [];
  writes: string[] = [];

  constructor(public rollout: Rollout) {}

  world: World = {
    rollout: () => this.rollout,
    replicaSets: () =>
      [...this.replicaSets.values()].filter((rs) => rs.metadata?.ownerReferences?.[0]?.uid === UID),
    service: (_, name) => this.services.get(name),
    virtualService: (): VirtualService | undefined => undefined,
    analysisRuns: (_, rollout) => [...this.runs.values()].filter((r) => r.spec.rollout === rollout),
    analysisRun: (_, name) => this.runs.get(name),
  };

  writer = {
    ensureReplicaSet: async (rs: V1ReplicaSet) => {
      const name = rs.metadata?.name ?? '';
      this.writes.push(`ensure ${name}`);
      const existing = this.replicaSets.get(name);
      if (existing) return existing;
      const replicas = rs.spec?.replicas ?? 0;
      this.replicaSets.set(name, {
        ...rs,
        status: { replicas, availableReplicas: replicas, readyReplicas: replicas },
      });
      return undefined;
    },
    scaleReplicaSet: async (_: string, name: string, replicas: number) => {
      this.writes.push(`scale ${name} ${replicas}`);
      const rs = this.replicaSets.get(name);
      if (rs)
        this.replicaSets.set(name, {
          ...rs,
          spec: { ...rs.spec, replicas } as never,
          status: { replicas, availableReplicas: replicas },
        });
    },
    pointService: async (_: string, name: string, revision: string) => {
      this.writes.push(`point ${name} ${revision}`);
      const s = this.services.get(name);
      if (s) s.spec = { ...s.spec, selector: { ...s.spec?.selector, [REVISION_LABEL]: revision } };
    },
    createAnalysisRun: async (run: AnalysisRun) => {
      this.writes.push(`create run ${run.metadata.name}`);
      if (!this.runs.has(run.metadata.name ?? '')) this.runs.set(run.metadata.name ?? '', run);
    },
    terminateAnalysisRun: async (_: string, name: string) => {
      this.writes.push(`terminate ${name}`);
    },
    writeStatus: async (rollout: Rollout, status: Rollout['status']) => {
      this.rollout = { ...rollout, status };
      return this.rollout;
    },
    setFinalizers: async () => undefined,
    patchVirtualService: async () => undefined,
  };

  deps(): ReconcileDeps {
    return {
      world: this.world,
      writer: this.writer as unknown as Writer,
      events: { record: async (_: unknown, info: EventInfo) => void this.notes.push(info) } as never,
      now: () => Date.parse('2026-12-06T12:00:00Z'),
    };
  }

  /** Reconciles until nothing changes (or `limit` passes), as the work queue would. */
  async settle(limit = 20) {
    let outcome = await reconcile(this.deps(), this.rollout);
    for (let i = 1; i < limit && (outcome.wroteStatus || outcome.actions.length > 0); i++)
      outcome = await reconcile(this.deps(), this.rollout);
    return outcome;
  }

  release(image: string) {
    this.rollout = { ...this.rollout, spec: rolloutOf(image).spec };
  }
}

const stalled = (r: Rollout) => r.status?.conditions?.find((c) => c.type === 'Stalled');

describe('reconcile: what this Rollout does not own is neither adopted nor rewritten', () => {
  it('a run under the gate name it does not own pauses the release (AnalysisError) with a Warning, and is never terminated', async () => {
    const sim = new Sim(rolloutOf('web:1'));
    await sim.settle();
    expect(sim.rollout.status?.phase).toBe('Healthy');

    sim.release('web:2');
    const next = revisionOf(sim.rollout.spec.template);
    const name = `web-${next}-step-1-a0`;
    sim.runs.set(name, {
      apiVersion: 'sluice.dev/v1alpha1',
      kind: 'AnalysisRun',
      metadata: { name, namespace: NS },
      spec: { rollout: 'web', revision: next, gate: 'step', stepIndex: 1, metrics: [] },
      status: { phase: 'Successful' },
    } as AnalysisRun);
    await sim.settle();

    const status = sim.rollout.status;
    expect(status?.phase).toBe('Paused');
    expect(status?.pause?.reason).toBe('AnalysisError');
    expect(status?.currentStepIndex).toBe(1);
    expect(status?.stableRevision).not.toBe(next);
    expect(status?.pause?.message).toContain(
      `AnalysisRun shop/${name} is not owned by Rollout web (uid uid-web): it has no controller ownerReference`,
    );
    const warnings = sim.notes.filter((n) => n.reason === 'AnalysisRunNotOwned');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.type).toBe('Warning');
    expect(sim.writes.filter((w) => w.startsWith('terminate'))).toEqual([]);
  });

  it('the same run, owned by the Rollout, is its verdict: the release goes on', async () => {
    const sim = new Sim(rolloutOf('web:1'));
    await sim.settle();
    sim.release('web:2');
    const next = revisionOf(sim.rollout.spec.template);
    const name = `web-${next}-step-1-a0`;
    sim.runs.set(name, {
      apiVersion: 'sluice.dev/v1alpha1',
      kind: 'AnalysisRun',
      metadata: { name, namespace: NS, ownerReferences: [ownerReference(sim.rollout)] },
      spec: { rollout: 'web', revision: next, gate: 'step', stepIndex: 1, metrics: [] },
      status: { phase: 'Successful' },
    } as AnalysisRun);
    await sim.settle();
    expect(sim.rollout.status?.pause?.reason).toBe('Step');
    expect(sim.rollout.status?.currentStepIndex).toBe(2);
  });

  it('a ReplicaSet under the next revision name it does not own stalls the release before traffic moves', async () => {
    const sim = new Sim(rolloutOf('web:1'));
    await sim.settle();
    sim.release('web:2');
    const next = revisionOf(sim.rollout.spec.template);
    const decoyName = replicaSetName('web', next);
    const decoy: V1ReplicaSet = {
      metadata: {
        name: decoyName,
        namespace: NS,
        labels: { [ROLLOUT_LABEL]: 'web', [REVISION_LABEL]: next },
      },
      spec: { replicas: 3, selector: {} },
    };
    sim.replicaSets.set(decoyName, decoy);
    sim.writes = [];
    const outcome = await sim.settle();

    expect(outcome.problem?.reason).toBe('ReplicaSetNotOwned');
    expect(outcome.requeueAfterMs).toBe(30_000);
    expect(stalled(sim.rollout)?.message).toContain(
      `ReplicaSet shop/${decoyName} is not owned by Rollout web`,
    );
    expect(sim.notes.some((n) => n.reason === 'ReplicaSetNotOwned' && n.type === 'Warning')).toBe(true);
    // Each pass only tries to create its own ReplicaSet (the API server answers AlreadyExists).
    expect([...new Set(sim.writes)]).toEqual([`ensure ${decoyName}`]);
    expect(sim.replicaSets.get(decoyName)?.spec?.replicas).toBe(3);
  });

  it("another app's Service as canaryService stalls before anything is written; the Service keeps its selector", async () => {
    const sim = new Sim(rolloutOf('web:1', { canaryService: 'payments' }));
    const outcome = await sim.settle();
    expect(outcome.problem?.reason).toBe('ServiceNotOwned');
    expect(stalled(sim.rollout)?.message).toContain(
      'Service shop/payments (spec.strategy.canary.canaryService)',
    );
    expect(sim.services.get('payments')?.spec?.selector).toEqual({ app: 'payments' });
    expect(sim.writes).toEqual([]);
  });
});
