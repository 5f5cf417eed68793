import { describe, expect, it } from 'vitest';
import { sandbox } from '../harness/env.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { startAnalysisController } from '../support/analysis.ts';
import { ReleaseChecker } from './checker.ts';
import { killRepeatedly } from './faults.ts';
import { deployFleet, firstRevisions, promoteManuals, releaseFleet } from './fleet.ts';
import { COUNTS, chaosRng, recordFigures, SEED } from './profile.ts';

describe('the controller SIGKILLed at random moments', () => {
  it(`keeps every promise through ${COUNTS.controllerKills} kills while 30 Rollouts release (seed ${SEED})`, async () => {
    const ns = await freshNamespace('chaos-kill');
    const checker = new ReleaseChecker(ns);
    await checker.start();
    const members = await deployFleet(ns, { promote: 12, abort: 10, manual: 8 });
    const first = await startAnalysisController(ns);
    const stable = await firstRevisions(ns, members);
    await releaseFleet(ns, members, stable, checker);
    // The person promoting manual releases works on while the controller keeps dying.
    // Promotions happen while the kills go on: a full run kills for minutes.
    const promoteTimeout = 300_000 + COUNTS.controllerKills * 6_000;
    const promoted = promoteManuals(ns, members, stable, checker, promoteTimeout).then(
      () => undefined,
      (err: unknown) => err,
    );
    await first.kill('SIGKILL');
    const started = Date.now();
    const { figures } = await killRepeatedly(ns, {
      kills: COUNTS.controllerKills,
      rng: chaosRng(),
      start: { args: ['--prometheus-url', sandbox().PROMETHEUS_URL] },
    });
    const chaosMs = Date.now() - started;
    const promoteError = await promoted;
    if (promoteError) throw promoteError;
    const breaches = await checker.settle(300_000);
    recordFigures('controller-kills', {
      rollouts: members.length,
      chaosMs,
      settledMs: Date.now() - started,
      ...figures,
      ...checker.figures(),
    });
    expect(breaches).toEqual([]);
    expect(figures.kills).toBeGreaterThanOrEqual(COUNTS.controllerKills);
  });
});
