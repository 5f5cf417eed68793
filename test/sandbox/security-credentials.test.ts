import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { analysisRuns, stepAnalysisRelease } from '../support/analysis.ts';
import { waitForRollout } from '../support/apps.ts';
import {
  assertNoSecretLeaks,
  basicAuthPrometheus,
  controllerOutput,
  namespaceObjects,
} from '../support/secrets.ts';

/** A metric measured through the controller's --prometheus-url (from the environment, as docs/operating.md advises). */
const probe = {
  name: 'always-one',
  // An errored query is retried, not counted as a measurement: the wrong password ends the
  // gate through consecutiveErrorLimit, so keep that quick.
  interval: '2s',
  consecutiveErrorLimit: 1,
  successCondition: 'result == 1.0',
  provider: { prometheus: { query: 'vector(1)' } },
};

describe('credentials for Prometheus', () => {
  it('a basic-auth Prometheus is measured through, and the password never appears in anything Sluice emits', async () => {
    const password = `pw-${randomBytes(12).toString('hex')}`;
    const wrong = `wrong-${randomBytes(12).toString('hex')}`;
    const prom = await basicAuthPrometheus('sluice', password);

    // Right password: the gate measures through the proxy and the release moves on to the pause.
    const good = await stepAnalysisRelease('cred-ok', probe, { SLUICE_PROMETHEUS_URL: prom.url(password) });
    const passed = await waitForRollout(
      good.ns,
      (r) => r.status?.phase === 'Paused' && r.status.currentStepIndex === 2,
      'the analysis step to pass through the authenticated Prometheus',
    );
    expect(passed.status?.pause?.reason).not.toBe('AnalysisError');
    expect(prom.seen.authorized).toBeGreaterThan(0);
    expect((await analysisRuns(good.ns)).map((r) => r.status?.phase)).toContain('Successful');

    // Wrong password: the release pauses saying the credentials were refused, at an address without them.
    const bad = await stepAnalysisRelease('cred-bad', probe, { SLUICE_PROMETHEUS_URL: prom.url(wrong) });
    const paused = await waitForRollout(
      bad.ns,
      (r) => r.status?.phase === 'Paused' && r.status.pause?.reason === 'AnalysisError',
      'the release to pause on refused credentials',
    );
    expect(prom.seen.refused).toBeGreaterThan(0);
    const runs = await analysisRuns(bad.ns);
    const measured = JSON.stringify(runs.map((r) => r.status));
    expect(measured).toContain(
      `Prometheus at http://127.0.0.1:${prom.port} refused the credentials (HTTP 401)`,
    );
    expect(paused.status?.message ?? '').not.toBe('');

    const secrets = [password, wrong, `sluice:${password}`, `sluice:${wrong}`];
    await assertNoSecretLeaks(secrets, [
      controllerOutput(good.controller),
      controllerOutput(bad.controller),
      ...namespaceObjects(good.ns),
      ...namespaceObjects(bad.ns),
    ]);
  });
});
