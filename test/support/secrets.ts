// One check for "no credential ever reaches anything Sluice emits", shared by every test that
// hands the controller a secret (a basic-auth Prometheus now, a token-bearing git URL later).
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onTestFinished } from 'vitest';
import { requestJson } from '../../controller/kube/client.ts';
import type { ControllerProcess } from '../harness/controller.ts';
import { sandbox } from '../harness/env.ts';
import { kube } from '../harness/kube.ts';

/** Somewhere the controller's words end up: its output, objects it wrote, Events. */
export interface LeakSource {
  name: string;
  read(): string | Promise<string>;
}

/** The forms a secret takes on the way out: as is, URL-encoded, JSON-escaped, base64 (an Authorization header). */
function disguises(secret: string): string[] {
  return [
    secret,
    encodeURIComponent(secret),
    JSON.stringify(secret).slice(1, -1),
    Buffer.from(secret).toString('base64'),
  ];
}

/**
 * Fails naming every source that holds any of the secrets (in any of the forms above), with
 * the surrounding text, so a leak is found where it happened rather than only that it did.
 */
export async function assertNoSecretLeaks(secrets: string[], sources: LeakSource[]): Promise<void> {
  const found: string[] = [];
  let read = 0;
  for (const source of sources) {
    const text = await source.read();
    read += text.length;
    for (const secret of secrets) {
      for (const form of new Set(disguises(secret))) {
        const at = text.indexOf(form);
        if (at >= 0)
          found.push(`${source.name}: …${text.slice(Math.max(0, at - 80), at + form.length + 20)}…`);
      }
    }
  }
  if (found.length > 0) throw new Error(`secret found in what the controller emitted:\n${found.join('\n')}`);
  // Grepping nothing proves nothing.
  if (read === 0) throw new Error('assertNoSecretLeaks read no text from its sources');
}

/** Everything the controller process wrote to stdout and stderr. */
export const controllerOutput = (controller: ControllerProcess): LeakSource => ({
  name: `controller output (${controller.logFile})`,
  read: () => readFileSync(controller.logFile, 'utf8'),
});

/** A namespace's Sluice objects (spec and status) and its Events, as JSON. */
export function namespaceObjects(namespace: string): LeakSource[] {
  const list = (path: string) => async () =>
    JSON.stringify(await requestJson<{ items: unknown[] }>(kube().kc, { method: 'GET', path }));
  return [
    {
      name: `Rollouts in ${namespace}`,
      read: list(`/apis/sluice.dev/v1alpha1/namespaces/${namespace}/rollouts`),
    },
    {
      name: `AnalysisRuns in ${namespace}`,
      read: list(`/apis/sluice.dev/v1alpha1/namespaces/${namespace}/analysisruns`),
    },
    { name: `Events in ${namespace}`, read: list(`/apis/events.k8s.io/v1/namespaces/${namespace}/events`) },
  ];
}

/**
 * Basic auth in front of the sandbox's Prometheus. The sandbox's Prometheus has no auth of its
 * own (Debian's 2.42 would need a web config file and a restart shared by every test), so this
 * small proxy stands in for the gateway a real installation puts there.
 */
export async function basicAuthPrometheus(user: string, password: string) {
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
