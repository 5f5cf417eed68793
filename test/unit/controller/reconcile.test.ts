import { describe, expect, it } from 'vitest';
import { revisionOf } from '../../../controller/revision.ts';
import { replicaSetName } from '../../../controller/workload.ts';
import { templateOf } from '../../../crds/spec.ts';
import { ROUTED, rolloutOf, Sim } from '../../support/reconcile-sim.ts';

// The writes one reconcile pass sends, and their order, against the in-memory world of
// test/support/reconcile-sim.ts. The order is the safety property: traffic never reaches pods
// that are not there, leaves a bad canary before anything else moves, and a promotion never
// sends the whole load back to the old revision for one write.

/** `writes` holds each of `expected` (by prefix), in that order. */
function expectInOrder(writes: string[], ...expected: string[]) {
  const at = expected.map((e) => writes.findIndex((w) => w.startsWith(e)));
  expect(at, `${expected.join(' → ')} in ${JSON.stringify(writes)}`).not.toContain(-1);
  expect(at).toEqual([...at].sort((a, b) => a - b));
}

const steps = (...s: unknown[]) => ({ ...ROUTED, steps: s });
const probe = { analysis: { templates: [{ templateName: 'probe' }] } };

/** A routed canary Rollout, its first revision Healthy, then `image` released. */
async function releasing(canary: Record<string, unknown>) {
  const sim = new Sim(rolloutOf('web:1', canary));
  await sim.settle();
  const stable = revisionOf(templateOf(sim.rollout.spec));
  sim.release('web:2', canary);
  const next = revisionOf(templateOf(sim.rollout.spec));
  sim.writes = [];
  return { sim, stable, next };
}

describe('reconcile: the writes of a pass, in order', () => {
  it('first release: the ReplicaSet, then the Services; the weight is already 0', async () => {
    const sim = new Sim(rolloutOf('web:1', steps({ setWeight: 20 })));
    await sim.settle();
    const r1 = revisionOf(templateOf(sim.rollout.spec));
    expect(sim.rollout.status?.phase).toBe('Healthy');
    expectInOrder(sim.writes, `ensure ${replicaSetName('web', r1)}`, 'point web-stable', 'point web-canary');
    expect(sim.writes.filter((w) => w.startsWith('weight'))).toEqual([]);
  });

  it('a step: the canary is created and selected before it gets its weight', async () => {
    const { sim, next } = await releasing(steps({ setWeight: 20 }, { pause: {} }));
    await sim.settle();
    expect(sim.rollout.status?.phase).toBe('Paused');
    expect(sim.weight()).toBe(20);
    expectInOrder(
      sim.writes,
      `ensure ${replicaSetName('web', next)}`,
      `point web-canary ${next}`,
      'weight web 20',
    );
  });

  it('a pause held: a pass writes nothing and no status', async () => {
    const { sim } = await releasing(steps({ setWeight: 20 }, { pause: {} }));
    await sim.settle();
    sim.writes = [];
    const outcome = await sim.pass();
    expect(sim.writes).toEqual([]);
    expect(outcome.wroteStatus).toBe(false);
  });

  it('an abort: the weight leaves the canary before its Service moves back; the run is stopped', async () => {
    const { sim, stable, next } = await releasing(steps({ setWeight: 20 }, probe, { pause: {} }));
    await sim.settle();
    const run = sim.rollout.status?.analysis?.name ?? '';
    expect(run).not.toBe('');
    sim.finishRun(run, 'Failed');
    sim.writes = [];
    await sim.pass();
    expect(sim.rollout.status?.phase).toBe('Degraded');
    expect(sim.weight()).toBe(0);
    expectInOrder(sim.writes, 'weight web 0', `point web-canary ${stable}`);
    expect(sim.writes).toContain(`terminate ${run}`);
    // Its pods stay for abortScaleDownDelaySeconds: no scale-down in this pass.
    expect(sim.writes.filter((w) => w.startsWith(`scale ${replicaSetName('web', next)}`))).toEqual([]);
  });

  it('a promotion: the stable Service selects the new revision before the canary weight falls', async () => {
    const { sim, next } = await releasing(steps({ setWeight: 20 }, { pause: { duration: '10s' } }));
    await sim.settle();
    expect(sim.weight()).toBe(20);
    sim.writes = [];
    sim.now += 11_000;
    await sim.settle();
    expect(sim.rollout.status).toMatchObject({ phase: 'Healthy', stableRevision: next });
    expectInOrder(sim.writes, `point web-stable ${next}`, 'weight web 0');
  });

  it('drift: a weight changed by hand is set back, with a Warning, and nothing else is written', async () => {
    const { sim } = await releasing(steps({ setWeight: 20 }, { pause: {} }));
    await sim.settle();
    const canary = sim.vs?.spec.http?.[0]?.route?.[1];
    const stableRoute = sim.vs?.spec.http?.[0]?.route?.[0];
    if (!canary || !stableRoute) throw new Error('the simulated VirtualService lost its routes');
    canary.weight = 70;
    stableRoute.weight = 30;
    sim.writes = [];
    await sim.pass();
    expect(sim.writes).toEqual(['weight web 20']);
    const warning = sim.notes.find((n) => n.reason === 'WeightDriftRestored');
    expect(warning?.note).toContain('had canary weight 70; restored to 20');
  });

  it('a missing VirtualService stalls the Rollout, naming it, before anything is written', async () => {
    const sim = new Sim(rolloutOf('web:1', steps({ setWeight: 20 })));
    sim.vs = undefined;
    const outcome = await sim.settle();
    expect(outcome.problem?.reason).toBe('VirtualServiceNotFound');
    expect(outcome.problem?.message).toContain('VirtualService shop/web');
    expect(sim.writes).toEqual([]);
  });

  it('deletion mid-release: all traffic back to stable, the Services too, then the finalizer goes', async () => {
    const { sim, stable } = await releasing(steps({ setWeight: 20 }, { pause: {} }));
    await sim.settle();
    sim.rollout = {
      ...sim.rollout,
      metadata: { ...sim.rollout.metadata, deletionTimestamp: new Date(sim.now).toISOString() },
    };
    sim.writes = [];
    await sim.pass();
    expect(sim.weight()).toBe(0);
    expectInOrder(sim.writes, 'weight web 0', `point web-canary ${stable}`, 'finalizers []');
  });

  it('an idle, healthy Rollout: no write, no status', async () => {
    const sim = new Sim(rolloutOf('web:1', steps({ setWeight: 20 })));
    await sim.settle();
    sim.writes = [];
    const outcome = await sim.pass();
    expect(sim.writes).toEqual([]);
    expect(outcome.wroteStatus).toBe(false);
    expect(outcome.actions).toEqual([]);
  });
});

describe('reconcile: a baseline (baselineService)', () => {
  const withBaseline = (...s: unknown[]) => ({ ...steps(...s), baselineService: 'web-baseline' });
  const hosts = (sim: Sim) => sim.vs?.spec.http?.[0]?.route?.map((d) => `${d.destination.host} ${d.weight}`);
  const pristine = () => new Sim(rolloutOf('web:1')).vs;

  it("a release runs the stable's template as a baseline, selected by its Service, before it gets the canary's share", async () => {
    const { sim, stable, next } = await releasing(withBaseline({ setWeight: 20 }, { pause: {} }));
    await sim.settle();
    const baseline = replicaSetName('web', `${stable}-baseline`);
    expectInOrder(
      sim.writes,
      `ensure ${replicaSetName('web', next)}`,
      `ensure ${baseline}`,
      `point web-baseline ${stable}-baseline`,
      'route web 100/0/0',
      'weight web 20',
    );
    const rs = sim.replicaSets.get(baseline);
    expect(rs?.spec?.template?.spec?.containers?.[0]?.image).toBe('web:1');
    expect(rs?.spec?.template?.metadata?.labels).toMatchObject({
      'sluice.dev/revision': `${stable}-baseline`,
    });
    expect(rs?.metadata?.labels?.['sluice.dev/baseline-of']).toBe(stable);
    expect(rs?.metadata?.annotations?.['sluice.dev/revision-number']).toBeUndefined();
    expect(hosts(sim)).toEqual(['web-stable 60', 'web-canary 20', 'web-baseline 20']);
  });

  it('no weight moves while the baseline has no available pods', async () => {
    const { sim, stable } = await releasing(withBaseline({ setWeight: 20 }, { pause: {} }));
    sim.podsHeld.add(replicaSetName('web', `${stable}-baseline`));
    await sim.settle();
    expect(sim.rollout.status?.canary?.weight ?? 0).toBe(0);
    expect(hosts(sim)).toEqual(['web-stable 100', 'web-canary 0', 'web-baseline 0']);
  });

  it('a promotion takes the baseline out of the route, then deletes it: the routes are as written', async () => {
    const { sim, stable, next } = await releasing(
      withBaseline({ setWeight: 20 }, { pause: { duration: '10s' } }),
    );
    await sim.settle();
    sim.writes = [];
    sim.now += 11_000;
    await sim.settle();
    expect(sim.rollout.status).toMatchObject({ phase: 'Healthy', stableRevision: next });
    const baseline = replicaSetName('web', `${stable}-baseline`);
    expectInOrder(sim.writes, `point web-stable ${next}`, 'route web 100/0', `delete ${baseline}`);
    expect(sim.replicaSets.has(baseline)).toBe(false);
    expect(sim.services.get('web-baseline')?.spec?.selector?.['sluice.dev/revision']).toBe(next);
    expect(sim.vs?.spec).toEqual(pristine()?.spec);
  });

  it('deletion mid-release takes the baseline out of the routes and points its Service at the stable', async () => {
    const { sim, stable } = await releasing(withBaseline({ setWeight: 20 }, { pause: {} }));
    await sim.settle();
    expect(hosts(sim)).toEqual(['web-stable 60', 'web-canary 20', 'web-baseline 20']);
    sim.rollout = {
      ...sim.rollout,
      metadata: { ...sim.rollout.metadata, deletionTimestamp: new Date(sim.now).toISOString() },
    };
    sim.writes = [];
    await sim.pass();
    expectInOrder(sim.writes, 'route web 100/0', `point web-baseline ${stable}`, 'finalizers []');
    expect(sim.vs?.spec).toEqual(pristine()?.spec);
  });

  it('a missing baseline Service stalls the Rollout, naming it and its field', async () => {
    const sim = new Sim(rolloutOf('web:1', withBaseline({ setWeight: 20 })));
    sim.services.delete('web-baseline');
    const outcome = await sim.settle();
    expect(outcome.problem?.reason).toBe('ServiceNotFound');
    expect(outcome.problem?.message).toContain('shop/web-baseline');
  });

  it('an abort takes the weight off the canary and the baseline first, and deletes the baseline', async () => {
    const { sim, stable } = await releasing(withBaseline({ setWeight: 20 }, probe, { pause: {} }));
    await sim.settle();
    sim.finishRun(sim.rollout.status?.analysis?.name ?? '', 'Failed');
    sim.writes = [];
    await sim.pass();
    expect(sim.rollout.status?.phase).toBe('Degraded');
    const baseline = replicaSetName('web', `${stable}-baseline`);
    expectInOrder(sim.writes, 'route web 100/0', `point web-canary ${stable}`, `delete ${baseline}`);
    expect(sim.vs?.spec).toEqual(pristine()?.spec);
  });
});
