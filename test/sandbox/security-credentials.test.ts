import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { sandbox } from '../harness/env.ts';
import { analysisRuns, stepAnalysisRelease } from '../support/analysis.ts';
import { waitForRollout } from '../support/apps.ts';
import { assertNoSecretLeaks, controllerOutput, namespaceObjects } from '../support/secrets.ts';

/**
 * Basic auth in front of the sandbox's Prometheus. The sandbox's Prometheus has no auth of its
 * own (Debian's 2.42 would need a web config file and a restart shared by every test), so this
 * small proxy stands in for the gateway a real installation puts there.
 */
async function basicAuthPrometheus(user: string, password: string) {
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const seen = { authorized: 0, refused: 0 };
  const server: Server = createServer(async (req, res) => {
    if (req.headers.authorization !== expected) {
      seen.refused++;
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="prometheus"', 'Content-Type': 'text/plain' });
      res.end('Unauthorized\n');
      return;
    }
    seen.authorized++;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const upstream = await fetch(`${sandbox().PROMETHEUS_URL}${req.url}`, {
      method: req.method,
      headers: { 'Content-Type': req.headers['content-type'] ?? 'application/x-www-form-urlencoded' },
      ...(req.method === 'POST' ? { body: Buffer.concat(chunks) } : {}),
    });
    res.writeHead(upstream.status, {
      'Content-Type': upstream.headers.get('content-type') ?? 'application/json',
    });
    res.end(Buffer.from(await upstream.arrayBuffer()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  return { url: (pw: string) => `http://${user}:${encodeURIComponent(pw)}@127.0.0.1:${port}`, port, seen };
}

/** A metric measured through the controller's --prometheus-url (from the environment, as the README advises). */
const probe = {
  name: 'always-one',
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
