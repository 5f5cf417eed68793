// A gate that finds the stable breaking the same threshold holds the release (no rollback, no
// promotion) and the release carries on by itself at the first look without the incident.
import { describe, expect, it } from 'vitest';
import type { AnalysisPhase } from '../../../crds/index.ts';
import { fromStatus, statePath } from '../../../machines/status.ts';
import {
  blueGreenSpec,
  canarySpec,
  type Driver,
  established,
  find,
  gate,
  MIN,
  observe,
  ROLLOUT,
  T0,
  trafficOf,
} from './fixtures.ts';

const INCIDENT = 'metric success-rate: shared incident: canary 91.9% and stable 92.1% both past min 95%';
const spec = canarySpec([{ setWeight: 10 }, { pause: { duration: '1m' } }, { setWeight: 50 }], {
  analysis: gate,
});

const background = (d: Driver, phase: AnalysisPhase, sharedIncident?: string) => ({
  background: { name: d.background, phase, ...(sharedIncident ? { sharedIncident } : {}) },
});

/** At the timed pause with a background gate measuring. */
function measuring(): Driver {
  const d = established(spec);
  d.send(observe(T0 + 1000, 'r2'));
  d.send(observe(T0 + 2000, 'r2', { ready: true }));
  d.send(observe(T0 + 3000, 'r2', { gates: background(d, 'Running') }));
  expect(d.status?.machineState).toBe('release.running.stepPause');
  return d;
}

describe('canary: a shared incident holds the release, then it resumes by itself', () => {
  it('holds with reason SharedIncident and a Warning, traffic and gates untouched', () => {
    const d = measuring();
    const run = d.background;
    const actions = d.send(observe(T0 + 4000, 'r2', { gates: background(d, 'Running', INCIDENT) }));
    expect(d.writes).toEqual([]);
    expect(find(actions, 'stopAnalysis')).toEqual([]);
    expect(find(actions, 'startAnalysis')).toEqual([]);
    expect(find(actions, 'emitEvent').map((e) => [e.params.reason, e.params.type])).toEqual([
      ['SharedIncident', 'Warning'],
    ]);
    expect(d.status).toMatchObject({
      phase: 'Paused',
      machineState: 'release.paused.incident',
      canary: { weight: 10 },
      pause: { reason: 'SharedIncident', message: INCIDENT },
      backgroundAnalysis: { name: run, phase: 'Running' },
    });
    expect(d.status?.message).toMatch(/held by a shared incident.*resumes by itself/);
    // Level-triggered: the same incident seen again says nothing new.
    expect(d.send(observe(T0 + 5000, 'r2', { gates: background(d, 'Running', INCIDENT) }))).toEqual([]);
  });

  it('resumes by itself once the gate passes again, with the same run, and goes on to promotion', () => {
    const d = measuring();
    const run = d.background;
    d.send(observe(T0 + 4000, 'r2', { gates: background(d, 'Running', INCIDENT) }));
    // Like any resume, it re-checks that the canary is ready (the controller always says).
    const actions = d.send(observe(T0 + 5000, 'r2', { ready: true, gates: background(d, 'Running') }));
    expect(find(actions, 'emitEvent').map((e) => e.params.reason)).toEqual(['IncidentEnded']);
    expect(find(actions, 'startAnalysis')).toEqual([]);
    expect(d.status).toMatchObject({
      machineState: 'release.running.stepPause',
      backgroundAnalysis: { name: run },
    });
    expect(d.status?.pause?.reason).toBe('Step');
    d.send(observe(T0 + 3000 + MIN, 'r2', { ready: true, gates: background(d, 'Running') }));
    expect(d.status).toMatchObject({ phase: 'Healthy', stableRevision: 'r2' });
    expect(d.status?.history?.at(-1)?.outcome).toBe('Promoted');
  });

  it('never promotes while held, and a failing look still rolls back', () => {
    const d = measuring();
    d.send(observe(T0 + 4000, 'r2', { gates: background(d, 'Running', INCIDENT) }));
    // The pause step's time runs out during the incident: still held.
    d.send(observe(T0 + 3000 + 2 * MIN, 'r2', { gates: background(d, 'Running', INCIDENT) }));
    expect(d.status).toMatchObject({ phase: 'Paused', stableRevision: 'r1' });
    const actions = d.send(observe(T0 + 3000 + 3 * MIN, 'r2', { gates: background(d, 'Failed') }));
    expect(find(actions, 'markAborted')).toHaveLength(1);
    expect(trafficOf(d.writes)[0]).toEqual({ type: 'setWeight', weight: 0 });
    expect(d.status?.phase).toBe('Degraded');
  });

  it('a release already held by a person stays theirs; a pause during the hold makes it theirs', () => {
    const d = measuring();
    d.send({ type: 'PAUSE', now: T0 + 4000 });
    d.send(observe(T0 + 4000, 'r2', { gates: background(d, 'Running', INCIDENT) }));
    expect(d.status?.pause?.reason).toBe('Manual');
    const e = measuring();
    e.send(observe(T0 + 4000, 'r2', { gates: background(e, 'Running', INCIDENT) }));
    e.send({ type: 'PAUSE', now: T0 + 5000 });
    e.send(observe(T0 + 6000, 'r2', { gates: background(e, 'Running') }));
    expect(e.status).toMatchObject({ machineState: 'release.paused.held', pause: { reason: 'Manual' } });
  });

  it('a step gate in an incident holds too, and the step goes on with the same run', () => {
    const d = established(canarySpec([{ setWeight: 20 }, { analysis: gate }, { setWeight: 60 }]));
    d.send(observe(T0 + 1000, 'r2'));
    d.send(observe(T0 + 2000, 'r2', { ready: true }));
    const run = d.analysis;
    d.send(
      observe(T0 + 3000, 'r2', {
        gates: { step: { name: run, phase: 'Running', sharedIncident: INCIDENT } },
      }),
    );
    expect(d.status).toMatchObject({ machineState: 'release.paused.incident', canary: { weight: 20 } });
    const actions = d.send(
      observe(T0 + 4000, 'r2', { ready: true, gates: { step: { name: run, phase: 'Running' } } }),
    );
    expect(find(actions, 'startAnalysis')).toEqual([]);
    expect(d.status).toMatchObject({ machineState: 'release.running.stepAnalysis', analysis: { name: run } });
    const after = d.send(
      observe(T0 + 5000, 'r2', { ready: true, gates: { step: { name: run, phase: 'Successful' } } }),
    );
    expect(find(after, 'stopAnalysis')).toHaveLength(1);
    expect(d.status).toMatchObject({ phase: 'Healthy', stableRevision: 'r2' });
    // Through the 60% step to promotion in one pass: the stable Service moves before the weight falls.
    expect(trafficOf(d.writes)).toEqual([
      { type: 'pointService', service: 's', revision: 'r2' },
      { type: 'setWeight', weight: 0 },
    ]);
  });

  it('is restored from status as the same hold (restart-safe)', () => {
    const d = measuring();
    d.send(observe(T0 + 4000, 'r2', { gates: background(d, 'Running', INCIDENT) }));
    const s = fromStatus(ROLLOUT, spec, d.status);
    expect(statePath(s.value)).toBe('release.paused.incident');
    expect(s.context.pause).toMatchObject({ reason: 'SharedIncident', message: INCIDENT });
  });
});

describe('blue-green: a post-promotion incident resumes at the post-promotion gate', () => {
  it('holds after the switch and goes back to postAnalysis, never to the preview', () => {
    const d = established(blueGreenSpec({ postPromotionAnalysis: gate }));
    d.send(observe(T0 + 1000, 'r2'));
    d.send(observe(T0 + 2000, 'r2', { ready: true }));
    expect(d.status?.machineState).toBe('release.running.postAnalysis');
    const run = d.analysis;
    d.send(
      observe(T0 + 3000, 'r2', {
        gates: { postPromotion: { name: run, phase: 'Running', sharedIncident: INCIDENT } },
      }),
    );
    expect(d.status).toMatchObject({
      machineState: 'release.paused.incident',
      pause: { reason: 'SharedIncident' },
    });
    const actions = d.send(
      observe(T0 + 4000, 'r2', { gates: { postPromotion: { name: run, phase: 'Running' } } }),
    );
    expect(find(actions, 'emitEvent').map((e) => e.params.reason)).toEqual(['IncidentEnded']);
    expect(d.writes).toEqual([]); // the new revision stays active
    expect(d.status?.machineState).toBe('release.running.postAnalysis');
    d.send(observe(T0 + 5000, 'r2', { gates: { postPromotion: { name: run, phase: 'Successful' } } }));
    expect(d.status).toMatchObject({ phase: 'Healthy', stableRevision: 'r2' });
  });
});
