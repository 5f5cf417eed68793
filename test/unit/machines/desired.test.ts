import { describe, expect, it } from 'vitest';
import { desiredWorld } from '../../../machines/desired.ts';
import { blueGreenSpec, canarySpec, T0 } from './fixtures.ts';

// desired.ts belongs to the controller work; these cases pin the behaviour its comments promise.
const routing = { istio: { virtualService: { name: 'vs' } } };
const iso = (ms: number) => new Date(ms).toISOString();

describe('desiredWorld', () => {
  it('is empty before any revision is known', () => {
    expect(desiredWorld(canarySpec(), undefined, T0)).toEqual({
      replicas: {},
      keep: [],
      services: {},
      historyLimit: 10,
    });
  });

  it('canary: stable and canary at full size, services and weight from status', () => {
    const spec = canarySpec([], { trafficRouting: routing });
    const world = desiredWorld(
      spec,
      { stableRevision: 'r1', currentRevision: 'r2', canary: { weight: 20 } },
      T0,
    );
    expect(world).toEqual({
      replicas: { r1: 4, r2: 4 },
      keep: [],
      historyLimit: 10,
      services: { s: 'r1', c: 'r2' },
      weight: 20,
      podMetadata: { r1: {}, r2: {} },
    });
  });

  it("canary: each role's metadata on its revision, the canary's dropped when it is aborted", () => {
    const spec = canarySpec([], {
      trafficRouting: routing,
      canaryMetadata: { labels: { role: 'canary' } },
      stableMetadata: { labels: { role: 'stable' }, annotations: { dash: 'on' } },
    });
    const releasing = { stableRevision: 'r1', currentRevision: 'r2' };
    expect(desiredWorld(spec, releasing, T0).podMetadata).toEqual({
      r1: { labels: { role: 'stable' }, annotations: { dash: 'on' } },
      r2: { labels: { role: 'canary' } },
    });
    expect(desiredWorld(spec, { ...releasing, abort: true }, T0).podMetadata).toEqual({
      r1: { labels: { role: 'stable' }, annotations: { dash: 'on' } },
    });
  });

  it('canary: an aborted canary gets no replicas and the canary Service falls back to stable', () => {
    const status = {
      stableRevision: 'r1',
      currentRevision: 'r2',
      abort: true,
      scaleDown: [{ revision: 'r2', at: iso(T0 + 10) }],
    };
    const world = desiredWorld(canarySpec(), status, T0);
    expect(world).toMatchObject({ replicas: { r1: 4 }, keep: ['r2'], services: { s: 'r1', c: 'r1' } });
    expect(desiredWorld(canarySpec(), status, T0 + 10).keep).toEqual([]);
  });

  it('canary with baselineService: while it releases, a baseline of the stable at the canary size takes the canary share', () => {
    const spec = canarySpec([{ setCanaryScale: { replicas: 2 } }, { setWeight: 20 }, { pause: {} }], {
      baselineService: 'b',
    });
    const at = (weight: number, stepIndex = 0) =>
      desiredWorld(
        spec,
        { stableRevision: 'r1', currentRevision: 'r2', currentStepIndex: stepIndex, canary: { weight } },
        T0,
      );
    expect(at(20, 1)).toMatchObject({
      replicas: { r1: 4, r2: 2, 'r1-baseline': 2 },
      services: { s: 'r1', c: 'r2', b: 'r1-baseline' },
      weight: 20,
      baseline: { revision: 'r1-baseline', of: 'r1', weight: 20 },
    });
    // Never more than the stable has left: at 70 the baseline takes 30 and the stable nothing.
    expect(at(70).baseline?.weight).toBe(30);
    expect(at(100).baseline?.weight).toBe(0);
  });

  it('canary with baselineService: at rest and after an abort there is no baseline, and its Service selects the stable', () => {
    const spec = canarySpec([], { baselineService: 'b' });
    for (const status of [
      { stableRevision: 'r1', currentRevision: 'r1' },
      { stableRevision: 'r1', currentRevision: 'r2', abort: true, canary: { weight: 0 } },
    ]) {
      const world = desiredWorld(spec, status, T0);
      expect(world.baseline).toBeUndefined();
      expect(world.replicas).toEqual({ r1: 4 });
      expect(world.services.b).toBe('r1');
    }
  });

  it('blue-green by Service selector: preview scaled to previewReplicaCount, active selects the active revision', () => {
    const spec = blueGreenSpec({ previewReplicaCount: 2 });
    const status = { stableRevision: 'r1', currentRevision: 'r2', blueGreen: { activeRevision: 'r1' } };
    expect(desiredWorld(spec, status, T0)).toEqual({
      replicas: { r1: 4, r2: 2 },
      keep: [],
      historyLimit: 10,
      services: { active: 'r1', preview: 'r2' },
    });
  });

  it('blue-green after the switch keeps the old revision up at full size', () => {
    const status = { stableRevision: 'r1', currentRevision: 'r2', blueGreen: { activeRevision: 'r2' } };
    expect(desiredWorld(blueGreenSpec(), status, T0).replicas).toEqual({ r1: 4, r2: 4 });
  });

  it('blue-green with traffic routing switches by weight 0/100', () => {
    const spec = blueGreenSpec({ trafficRouting: routing });
    const before = { stableRevision: 'r1', currentRevision: 'r2', blueGreen: { activeRevision: 'r1' } };
    expect(desiredWorld(spec, before, T0)).toMatchObject({
      services: { active: 'r1', preview: 'r2' },
      weight: 0,
    });
    const after = { ...before, blueGreen: { activeRevision: 'r2' } };
    expect(desiredWorld(spec, after, T0).weight).toBe(100);
  });
});

describe('dynamicStableScale', () => {
  const spec = canarySpec([{ setWeight: 60 }, { pause: {} }], { dynamicStableScale: true });
  const releasing = {
    stableRevision: 'r1',
    currentRevision: 'r2',
    currentStepIndex: 1,
    canary: { weight: 60 },
  };

  it('the stable keeps only the pods its share needs', () => {
    expect(desiredWorld(spec, releasing, T0).replicas).toEqual({ r1: 2, r2: 4 });
  });

  it('after an abort traffic returns only as fast as the stable pods do, never rising', () => {
    const aborted = { ...releasing, abort: true, canary: { weight: 0 } };
    const seen = (available: number, canaryWeight = 60) => ({
      pods: { r1: { replicas: 4, available }, r2: { replicas: 4, available: 4 } },
      canaryWeight,
    });
    const one = desiredWorld(spec, aborted, T0, seen(1));
    expect(one).toMatchObject({ weight: 60, replicas: { r1: 4 } });
    // The canary Service keeps selecting the canary while its share comes back.
    expect(one.services).toEqual({ s: 'r1', c: 'r2' });
    expect(one.keep).toContain('r2');
    expect(desiredWorld(spec, aborted, T0, seen(3)).weight).toBe(25);
    // Pods of the shrunk stable that have not gone yet serve nothing once the abort scales it up.
    const lagging = {
      pods: { r1: { replicas: 2, available: 4 }, r2: { replicas: 4, available: 4 } },
      canaryWeight: 60,
    };
    expect(desiredWorld(spec, aborted, T0, lagging).weight).toBe(50);
    // A stable pod lost on the way back does not send the canary more than it had.
    expect(desiredWorld(spec, aborted, T0, seen(2, 25)).weight).toBe(25);
    const back = desiredWorld(spec, aborted, T0, seen(4, 25));
    expect(back.weight).toBe(0);
    expect(back.keep).not.toContain('r2');
    expect(back.services).toEqual({ s: 'r1', c: 'r1' });
  });

  describe('subset routing', () => {
    const subsets = {
      istio: {
        virtualService: { name: 'vs' },
        destinationRule: { name: 'dr', stableSubsetName: 'live', canarySubsetName: 'next' },
      },
    };

    it('both subsets select the stable when nothing is released; the canary subset follows the canary', () => {
      const spec = canarySpec([], { trafficRouting: subsets });
      expect(desiredWorld(spec, { stableRevision: 'r1', currentRevision: 'r1' }, T0).subsets).toEqual({
        live: 'r1',
        next: 'r1',
      });
      const releasing = { stableRevision: 'r1', currentRevision: 'r2', canary: { weight: 20 } };
      expect(desiredWorld(spec, releasing, T0).subsets).toEqual({ live: 'r1', next: 'r2' });
      expect(desiredWorld(spec, { ...releasing, abort: true }, T0).subsets).toEqual({
        live: 'r1',
        next: 'r1',
      });
    });

    it('dynamicStableScale: after an abort the canary subset keeps the canary while it still has weight', () => {
      const spec = canarySpec([], { trafficRouting: subsets, dynamicStableScale: true });
      const aborted = { stableRevision: 'r1', currentRevision: 'r2', abort: true, canary: { weight: 0 } };
      const comingBack = desiredWorld(spec, aborted, T0, {
        pods: { r1: { replicas: 4, available: 2 } },
        canaryWeight: 60,
      });
      expect(comingBack.weight).toBe(50);
      expect(comingBack.subsets).toEqual({ live: 'r1', next: 'r2' });
      const back = desiredWorld(spec, aborted, T0, {
        pods: { r1: { replicas: 4, available: 4 } },
        canaryWeight: 50,
      });
      expect(back.weight).toBe(0);
      expect(back.subsets).toEqual({ live: 'r1', next: 'r1' });
    });
  });
});
