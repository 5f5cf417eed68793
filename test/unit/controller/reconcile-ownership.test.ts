import type { V1ReplicaSet } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { REVISION_LABEL, ROLLOUT_LABEL, revisionOf } from '../../../controller/revision.ts';
import { ownerReference, replicaSetName } from '../../../controller/workload.ts';
import type { AnalysisRun, Rollout } from '../../../crds/index.ts';
import { templateOf } from '../../../crds/spec.ts';
import { NS, rolloutOf, Sim } from '../../support/reconcile-sim.ts';

// What this Rollout does not own, against the in-memory world of test/support/reconcile-sim.ts
// (the sandbox suite runs the same cases against the real API server).
const stalled = (r: Rollout) => r.status?.conditions?.find((c) => c.type === 'Stalled');

describe('reconcile: what this Rollout does not own is neither adopted nor rewritten', () => {
  it('a run under the gate name it does not own pauses the release (AnalysisError) with a Warning, and is never terminated', async () => {
    const sim = new Sim(rolloutOf('web:1'));
    await sim.settle();
    expect(sim.rollout.status?.phase).toBe('Healthy');

    sim.release('web:2');
    const next = revisionOf(templateOf(sim.rollout.spec));
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
    const next = revisionOf(templateOf(sim.rollout.spec));
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
    const next = revisionOf(templateOf(sim.rollout.spec));
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
