import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DesiredWorld } from '../../../machines/desired.ts';
import { addsCapacity, type ObservedWorld, planWrites } from '../../../machines/write-plan.ts';
import { trafficOf } from './fixtures.ts';

/** A canary mid-release: stable r1 and canary r2 at full size, 30% on the canary. */
const midRelease: ObservedWorld = {
  templateRevision: 'r2',
  replicas: { r1: 4, r2: 4 },
  services: { stable: 'r1', canary: 'r2' },
  route: { weight: 30, matchesDesired: false },
  stableService: 'stable',
};

describe('the order of writes', () => {
  it('an abort takes the weight off the canary before any Service moves, and shrinks last', () => {
    const aborted: DesiredWorld = {
      replicas: { r1: 4 },
      keep: [],
      services: { stable: 'r1', canary: 'r1' },
      weight: 0,
    };
    expect(planWrites(midRelease, aborted)).toEqual([
      { type: 'setWeight', weight: 0 },
      { type: 'pointService', service: 'canary', revision: 'r1' },
      { type: 'scaleReplicaSet', revision: 'r2', from: 4, to: 0 },
    ]);
  });

  it('a promotion points the stable Service at the new revision before the canary weight falls', () => {
    const promoted: DesiredWorld = {
      replicas: { r2: 4 },
      keep: ['r1'], // its scale-down is delayed: left as it is
      services: { stable: 'r2', canary: 'r2' },
      weight: 0,
    };
    expect(planWrites(midRelease, promoted)).toEqual([
      { type: 'pointService', service: 'stable', revision: 'r2' },
      { type: 'setWeight', weight: 0 },
    ]);
  });

  it('a first step creates the canary and points its Service before it gets a weight', () => {
    const observed: ObservedWorld = {
      templateRevision: 'r2',
      replicas: { r1: 4 },
      services: { stable: 'r1', canary: 'r1' },
      route: { weight: 0, matchesDesired: false },
      stableService: 'stable',
    };
    const step: DesiredWorld = {
      replicas: { r1: 4, r2: 4 },
      keep: [],
      services: { stable: 'r1', canary: 'r2' },
      weight: 10,
    };
    expect(planWrites(observed, step)).toEqual([
      { type: 'createReplicaSet', revision: 'r2', replicas: 4 },
      { type: 'pointService', service: 'canary', revision: 'r2' },
      { type: 'setWeight', weight: 10 },
    ]);
  });

  it('repairs drift: a hand-edited weight is set back, nothing else moves', () => {
    const desired: DesiredWorld = {
      replicas: { r1: 4, r2: 4 },
      keep: [],
      services: { stable: 'r1', canary: 'r2' },
      weight: 30,
    };
    expect(planWrites({ ...midRelease, route: { weight: 80, matchesDesired: false } }, desired)).toEqual([
      { type: 'setWeight', weight: 30 },
    ]);
  });

  it('blue-green switches the active Service after the new revision is at full size', () => {
    const observed: ObservedWorld = {
      templateRevision: 'r2',
      replicas: { r1: 4, r2: 1 },
      services: { active: 'r1', preview: 'r2' },
    };
    const switched: DesiredWorld = {
      replicas: { r1: 4, r2: 4 },
      keep: [],
      services: { active: 'r2', preview: 'r2' },
    };
    expect(planWrites(observed, switched)).toEqual([
      { type: 'scaleReplicaSet', revision: 'r2', from: 1, to: 4 },
      { type: 'pointService', service: 'active', revision: 'r2' },
    ]);
  });

  it('an idle world plans nothing', () => {
    const desired: DesiredWorld = {
      replicas: { r1: 4, r2: 4 },
      keep: [],
      services: { stable: 'r1', canary: 'r2' },
      weight: 30,
    };
    expect(planWrites({ ...midRelease, route: { weight: 30, matchesDesired: true } }, desired)).toEqual([]);
  });
});

describe('the order of writes with a baseline', () => {
  const releasing: DesiredWorld = {
    replicas: { r1: 4, r2: 4, 'r1-baseline': 4 },
    keep: [],
    services: { stable: 'r1', canary: 'r2', base: 'r1-baseline' },
    weight: 10,
    baseline: { revision: 'r1-baseline', of: 'r1', weight: 10 },
  };

  it('a release creates the baseline from the stable template and points its Service before any weight', () => {
    const observed: ObservedWorld = {
      templateRevision: 'r2',
      replicas: { r1: 4 },
      services: { stable: 'r1', canary: 'r1', base: 'r1' },
      route: { weight: 0, matchesDesired: false },
      stableService: 'stable',
    };
    expect(planWrites(observed, releasing)).toEqual([
      { type: 'createReplicaSet', revision: 'r2', replicas: 4 },
      { type: 'createReplicaSet', revision: 'r1-baseline', replicas: 4, of: 'r1' },
      { type: 'pointService', service: 'canary', revision: 'r2' },
      { type: 'pointService', service: 'base', revision: 'r1-baseline' },
      { type: 'setWeight', weight: 10, baseline: 10 },
    ]);
  });

  const withBaseline: ObservedWorld = {
    ...midRelease,
    replicas: { ...midRelease.replicas, 'r1-baseline': 4 },
    services: { ...midRelease.services, base: 'r1-baseline' },
    baselines: ['r1-baseline'],
  };

  it('an abort takes the weight off first and deletes the baseline last, never keeping it as history', () => {
    const aborted: DesiredWorld = {
      replicas: { r1: 4 },
      keep: [],
      services: { stable: 'r1', canary: 'r1', base: 'r1' },
      weight: 0,
      historyLimit: 0,
    };
    expect(planWrites({ ...withBaseline, numbers: { r1: 1, r2: 2 } }, aborted)).toEqual([
      { type: 'setWeight', weight: 0 },
      { type: 'pointService', service: 'canary', revision: 'r1' },
      { type: 'pointService', service: 'base', revision: 'r1' },
      { type: 'scaleReplicaSet', revision: 'r2', from: 4, to: 0 },
      { type: 'deleteReplicaSet', revision: 'r1-baseline' },
    ]);
  });

  it('a promotion moves the stable Service, then takes the baseline out of the route, then deletes it', () => {
    const promoted: DesiredWorld = {
      replicas: { r2: 4 },
      keep: ['r1'],
      services: { stable: 'r2', canary: 'r2', base: 'r2' },
      weight: 0,
    };
    expect(planWrites(withBaseline, promoted)).toEqual([
      { type: 'pointService', service: 'stable', revision: 'r2' },
      { type: 'pointService', service: 'base', revision: 'r2' },
      { type: 'setWeight', weight: 0 },
      { type: 'deleteReplicaSet', revision: 'r1-baseline' },
    ]);
  });

  it('the baseline follows the canary size and is left alone when it is as wanted', () => {
    const smaller = { ...releasing, replicas: { ...releasing.replicas, r2: 2, 'r1-baseline': 2 } };
    const settled = { ...withBaseline, route: { weight: 10, matchesDesired: true } };
    expect(planWrites(settled, releasing)).toEqual([]);
    expect(planWrites(settled, smaller)).toEqual([
      { type: 'scaleReplicaSet', revision: 'r2', from: 4, to: 2 },
      { type: 'scaleReplicaSet', revision: 'r1-baseline', from: 4, to: 2 },
    ]);
  });
});

const revision = fc.constantFrom('r1', 'r2', 'r3');
const worlds = fc.record({
  template: revision,
  have: fc.dictionary(revision, fc.integer({ min: 0, max: 5 })),
  want: fc.dictionary(revision, fc.integer({ min: 0, max: 5 })),
  keep: fc.subarray(['r1', 'r2', 'r3']),
  selected: fc.record({ stable: revision, canary: revision }),
  selects: fc.record({ stable: revision, canary: revision }),
  weightNow: fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }),
  weight: fc.integer({ min: 0, max: 100 }),
});

describe('the order of writes, for any world', () => {
  it('converges in one pass, adds capacity before traffic and removes it after, and takes weight off a canary first unless the stable Service moves', () => {
    fc.assert(
      fc.property(worlds, (w) => {
        const keep = w.keep.filter((r) => !(r in w.want));
        const observed: ObservedWorld = {
          templateRevision: w.template,
          replicas: w.have,
          services: w.selected,
          route: { weight: w.weightNow, matchesDesired: w.weightNow === w.weight },
          stableService: 'stable',
        };
        const desired: DesiredWorld = { replicas: w.want, keep, services: w.selects, weight: w.weight };
        const writes = planWrites(observed, desired);

        // Applied to the observed world, the writes give the desired one.
        const replicas: Record<string, number> = { ...w.have };
        const services: Record<string, string> = { ...w.selected };
        let weight = w.weightNow;
        for (const x of writes) {
          if (x.type === 'createReplicaSet') replicas[x.revision] = x.replicas;
          if (x.type === 'scaleReplicaSet') replicas[x.revision] = x.to;
          if (x.type === 'pointService') services[x.service] = x.revision;
          if (x.type === 'setWeight') weight = x.weight;
        }
        expect(services).toEqual(w.selects);
        expect(weight).toBe(w.weight);
        for (const [r, n] of Object.entries(replicas)) {
          if (keep.includes(r)) expect(n).toBe(w.have[r]);
          else expect(n).toBe(w.want[r] ?? 0);
        }
        if (w.template in w.want) expect(replicas[w.template]).toBe(w.want[w.template]);

        // Capacity comes first and leaves last; traffic sits in between.
        const kinds = writes.map((x) =>
          addsCapacity(x) ? 'grow' : x.type === 'scaleReplicaSet' ? 'shrink' : 'move',
        );
        expect(kinds.join(' ')).toMatch(/^(grow ?)*(move ?)*(shrink ?)*$/);

        // The safety order of traffic.
        const moves = trafficOf(writes);
        const falls = w.weightNow === undefined || w.weight < w.weightNow;
        const stableMoves = w.selected.stable !== w.selects.stable;
        const setAt = moves.findIndex((x) => x.type === 'setWeight');
        if (setAt >= 0 && falls && !stableMoves) expect(setAt).toBe(0);
        if (setAt >= 0 && stableMoves) {
          const stableAt = moves.findIndex((x) => x.type === 'pointService' && x.service === 'stable');
          expect(stableAt).toBeLessThan(setAt);
        }
        // A world already as desired plans nothing.
        const settled: ObservedWorld = {
          templateRevision: w.template,
          replicas: Object.fromEntries(Object.entries(replicas)),
          services,
          route: { weight, matchesDesired: true },
          stableService: 'stable',
        };
        expect(planWrites(settled, desired)).toEqual([]);
      }),
    );
  });
});

const baselineWorlds = fc.record({
  have: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
  want: fc.option(
    fc.record({ size: fc.integer({ min: 0, max: 5 }), weight: fc.integer({ min: 0, max: 50 }) }),
    {
      nil: undefined,
    },
  ),
  weightNow: fc.integer({ min: 0, max: 100 }),
  baselineNow: fc.option(fc.integer({ min: 0, max: 50 }), { nil: undefined }),
  weight: fc.integer({ min: 0, max: 100 }),
});

describe('the baseline, for any world', () => {
  it('exists with its weight exactly while wanted: pods before weight, weight off before it goes, never history', () => {
    fc.assert(
      fc.property(baselineWorlds, (w) => {
        const b = 'r1-baseline';
        const routeOf = (weight: number, baseline: number | undefined) => ({
          weight,
          matchesDesired: weight === w.weight && baseline === w.want?.weight,
        });
        const desired: DesiredWorld = {
          replicas: { r1: 4, r2: 4, ...(w.want && { [b]: w.want.size }) },
          keep: [],
          services: {},
          weight: w.weight,
          historyLimit: 0,
          ...(w.want && { baseline: { revision: b, of: 'r1', weight: w.want.weight } }),
        };
        const observed = (
          replicas: Record<string, number>,
          weight: number,
          baseline?: number,
        ): ObservedWorld => ({
          templateRevision: 'r2',
          replicas,
          services: {},
          route: routeOf(weight, baseline),
          numbers: { r1: 1, r2: 2 },
          baselines: b in replicas ? [b] : [],
        });
        const replicas: Record<string, number> = {
          r1: 4,
          r2: 4,
          ...(w.have !== undefined && { [b]: w.have }),
        };
        let route = { weight: w.weightNow, baseline: w.baselineNow };
        for (const x of planWrites(observed(replicas, w.weightNow, w.baselineNow), desired)) {
          if (x.type === 'createReplicaSet') {
            expect(x.of).toBe(x.revision === b ? 'r1' : undefined);
            replicas[x.revision] = x.replicas;
          }
          if (x.type === 'scaleReplicaSet') replicas[x.revision] = x.to;
          if (x.type === 'deleteReplicaSet') {
            expect(route.baseline).toBeUndefined();
            delete replicas[x.revision];
          }
          if (x.type === 'setWeight') {
            route = { weight: x.weight, baseline: x.baseline };
            if ((x.baseline ?? 0) > 0) expect(replicas[b]).toBeGreaterThanOrEqual(w.want?.size ?? 0);
          }
        }
        expect(replicas[b]).toBe(w.want?.size);
        expect(route).toEqual({ weight: w.weight, baseline: w.want?.weight });
        expect(planWrites(observed(replicas, route.weight, route.baseline), desired)).toEqual([]);
      }),
    );
  });
});

describe('revision history (revisionHistoryLimit)', () => {
  /** Five old revisions at zero (h1 oldest), stable s, canary c whose template is current. */
  const observed: ObservedWorld = {
    templateRevision: 'c',
    replicas: { h1: 0, h2: 0, h3: 0, h4: 0, h5: 0, s: 4, c: 4 },
    services: {},
    numbers: { h1: 1, h2: 2, h3: 3, h4: 4, h5: 5, s: 6, c: 7 },
  };
  const desired = (historyLimit: number, keep: string[] = []): DesiredWorld => ({
    replicas: { s: 4, c: 4 },
    keep,
    services: {},
    historyLimit,
  });

  it('deletes the oldest ReplicaSets at zero beyond the limit, last, and never stable or canary', () => {
    expect(planWrites(observed, desired(2))).toEqual([
      { type: 'deleteReplicaSet', revision: 'h3' },
      { type: 'deleteReplicaSet', revision: 'h2' },
      { type: 'deleteReplicaSet', revision: 'h1' },
    ]);
    const none = planWrites(observed, desired(0)).map((w) =>
      w.type === 'deleteReplicaSet' ? w.revision : '',
    );
    expect(none.sort()).toEqual(['h1', 'h2', 'h3', 'h4', 'h5']);
  });

  it('keeps what is within the limit, a scale-down not yet due, and what it does not control', () => {
    expect(planWrites(observed, desired(5))).toEqual([]);
    // h4 waits for its delayed scale-down; h1 has no number: not this Rollout's to delete.
    const foreign: ObservedWorld = { ...observed, numbers: { h2: 2, h3: 3, h4: 4, h5: 5, s: 6, c: 7 } };
    expect(planWrites(foreign, desired(0, ['h4']))).toEqual([
      { type: 'deleteReplicaSet', revision: 'h5' },
      { type: 'deleteReplicaSet', revision: 'h3' },
      { type: 'deleteReplicaSet', revision: 'h2' },
    ]);
  });

  it('a revision still shrinking is not history yet', () => {
    const shrinking: ObservedWorld = { ...observed, replicas: { ...observed.replicas, h5: 2 } };
    expect(planWrites(shrinking, desired(0))).toEqual([
      { type: 'scaleReplicaSet', revision: 'h5', from: 2, to: 0 },
      { type: 'deleteReplicaSet', revision: 'h4' },
      { type: 'deleteReplicaSet', revision: 'h3' },
      { type: 'deleteReplicaSet', revision: 'h2' },
      { type: 'deleteReplicaSet', revision: 'h1' },
    ]);
  });
});

describe('role metadata (canaryMetadata / stableMetadata)', () => {
  const observed: ObservedWorld = {
    templateRevision: 'r2',
    replicas: { r1: 4, r2: 4 },
    services: {},
    podMetadata: { r1: { labels: { role: 'stable' } }, r2: { labels: { role: 'canary' } } },
  };
  it('writes a revision only when its role metadata changes, after the traffic', () => {
    const same: DesiredWorld = {
      replicas: { r1: 4, r2: 4 },
      keep: [],
      services: {},
      podMetadata: observed.podMetadata,
    };
    expect(planWrites(observed, same)).toEqual([]);
    const promoted: DesiredWorld = {
      replicas: { r2: 4 },
      keep: ['r1'],
      services: {},
      podMetadata: { r2: { labels: { role: 'stable' } } },
    };
    expect(planWrites(observed, promoted)).toEqual([
      {
        type: 'setPodMetadata',
        revision: 'r2',
        metadata: { labels: { role: 'stable' } },
        previous: { labels: { role: 'canary' } },
      },
    ]);
  });
});

describe('subset routing (istio.destinationRule)', () => {
  /** Subsets mid-release: stable subset on r1, canary subset on r2, 30% on the canary. */
  const subsets: ObservedWorld = {
    templateRevision: 'r2',
    replicas: { r1: 4, r2: 4 },
    services: {},
    subsets: { stable: 'r1', canary: 'r2' },
    stableSubset: 'stable',
    route: { weight: 30, matchesDesired: false },
  };
  const world = (over: Partial<DesiredWorld>): DesiredWorld => ({
    replicas: { r1: 4, r2: 4 },
    keep: [],
    services: {},
    ...over,
  });

  it('a first step points the canary subset at the new revision before it gets a weight, in one write', () => {
    const observed = { ...subsets, replicas: { r1: 4 }, subsets: { stable: 'r1', canary: 'r1' } };
    observed.route = { weight: 0, matchesDesired: false };
    expect(planWrites(observed, world({ subsets: { stable: 'r1', canary: 'r2' }, weight: 10 }))).toEqual([
      { type: 'createReplicaSet', revision: 'r2', replicas: 4 },
      { type: 'pointSubsets', revisions: { canary: 'r2' } },
      { type: 'setWeight', weight: 10 },
    ]);
  });

  it('a promotion points the stable subset at the new revision before the canary weight falls', () => {
    const promoted = world({
      replicas: { r2: 4 },
      keep: ['r1'],
      subsets: { stable: 'r2', canary: 'r2' },
      weight: 0,
    });
    expect(planWrites(subsets, promoted)).toEqual([
      { type: 'pointSubsets', revisions: { stable: 'r2' } },
      { type: 'setWeight', weight: 0 },
    ]);
  });

  it('an abort takes the weight off the canary before the canary subset moves back', () => {
    const aborted = world({ replicas: { r1: 4 }, subsets: { stable: 'r1', canary: 'r1' }, weight: 0 });
    expect(planWrites(subsets, aborted)).toEqual([
      { type: 'setWeight', weight: 0 },
      { type: 'pointSubsets', revisions: { canary: 'r1' } },
      { type: 'scaleReplicaSet', revision: 'r2', from: 4, to: 0 },
    ]);
  });

  it('a hand edit of a subset label is put back; an unreadable DestinationRule is left alone', () => {
    const edited = {
      ...subsets,
      subsets: { stable: 'r1', canary: undefined },
      route: { weight: 30, matchesDesired: true },
    };
    expect(planWrites(edited, world({ subsets: { stable: 'r1', canary: 'r2' }, weight: 30 }))).toEqual([
      { type: 'pointSubsets', revisions: { canary: 'r2' } },
    ]);
    const { subsets: _, ...unread } = edited;
    expect(planWrites(unread, world({ subsets: { stable: 'r1', canary: 'r2' }, weight: 30 }))).toEqual([]);
  });
});
