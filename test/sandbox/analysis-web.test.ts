// Argo's web metric provider, end to end: a Rollout's analysis step gates on an HTTP endpoint
// the test serves, its args read from the Rollout (valueFrom) by the controller running under
// deploy/'s RBAC on the sandbox's API server. The endpoint is the test's own HTTP server: the
// sandbox has no service of this kind, and what it answers is what the test controls.
import { createServer } from 'node:http';
import { describe, expect, it, onTestFinished } from 'vitest';
import { requestJson } from '../../controller/kube/client.ts';
import { startController } from '../harness/controller.ts';
import { kube } from '../harness/kube.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { analysisRuns, createObject } from '../support/analysis.ts';
import { apply, canaryApp, canaryWeight, setImage, waitForRollout } from '../support/apps.ts';

/** A measurement endpoint: answers the current rate, and records the query strings it was asked. */
async function endpoint() {
  const asked: URLSearchParams[] = [];
  let rate = 0.99;
  const server = createServer((req, res) => {
    asked.push(new URL(req.url ?? '/', 'http://x').searchParams);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ data: { rate, ok: rate >= 0.95 } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    asked,
    setRate: (r: number) => {
      rate = r;
    },
  };
}

const templates = (ns: string) => `/apis/sluice.dev/v1alpha1/namespaces/${ns}/analysistemplates`;

/** The AnalysisTemplate `web-check` with these args and metrics. */
const webCheck = (ns: string, spec: Record<string, unknown>) =>
  createObject(templates(ns), {
    apiVersion: 'sluice.dev/v1alpha1',
    kind: 'AnalysisTemplate',
    metadata: { name: 'web-check' },
    spec,
  });

describe('web metrics on the sandbox', () => {
  it('an analysis step gates on a web metric: promoted on good answers, rolled back on bad; args come from valueFrom', async () => {
    const ns = await freshNamespace('an-web');
    const web = await endpoint();
    await webCheck(ns, {
      args: [{ name: 'hash' }, { name: 'stable' }, { name: 'env' }],
      metrics: [
        {
          name: 'success-rate',
          interval: '1s',
          count: 2,
          successCondition: 'result >= 0.95',
          failureCondition: 'result < 0.95',
          provider: {
            web: {
              url: `${web.url}/check?hash={{args.hash}}&stable={{args.stable}}&env={{args.env}}`,
              jsonPath: '{$.data.rate}',
              timeoutSeconds: 5,
            },
          },
        },
      ],
    });
    const objects = canaryApp(ns, {
      image: `shop/${ns}:1`,
      replicas: 1,
      steps: [
        { setWeight: 50 },
        {
          analysis: {
            templates: [{ templateName: 'web-check' }],
            args: [
              { name: 'hash', valueFrom: { podTemplateHashValue: 'Latest' } },
              { name: 'stable', valueFrom: { podTemplateHashValue: 'Stable' } },
              { name: 'env', valueFrom: { fieldRef: { fieldPath: "metadata.labels['env']" } } },
            ],
          },
        },
        { setWeight: 100 },
      ] as never,
    });
    const rollout = objects.at(-1) as { metadata: { labels?: Record<string, string> } };
    rollout.metadata.labels = { env: 'staging' };
    await apply(objects);
    await startController(ns, { env: { SLUICE_PROMETHEUS_ALLOWED_URLS: `${web.url}/check` } });
    const first = await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');

    await setImage(ns, `shop/${ns}:2`);
    const promoted = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy' && r.status.stableRevision !== first.status?.stableRevision,
      'the web gate to pass and the release to finish',
      { timeout: 60_000 },
    );
    const passed = (await analysisRuns(ns)).find(
      (r) => r.spec.gate === 'step' && r.status?.phase === 'Successful',
    );
    expect(passed?.status?.metricResults?.[0]).toMatchObject({ count: 2, successful: 2 });
    expect(passed?.spec.args).toEqual([
      { name: 'hash', value: promoted.status?.stableRevision },
      { name: 'stable', value: first.status?.stableRevision },
      { name: 'env', value: 'staging' },
    ]);
    // What the endpoint was really asked: the tested revision's hash, the stable one's, the label.
    expect(web.asked.length).toBeGreaterThanOrEqual(2);
    expect(web.asked[0]?.get('hash')).toBe(promoted.status?.stableRevision);
    expect(web.asked[0]?.get('stable')).toBe(first.status?.stableRevision);
    expect(web.asked[0]?.get('env')).toBe('staging');

    web.setRate(0.5);
    await setImage(ns, `shop/${ns}:3`);
    const aborted = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Degraded' && r.status.abort === true,
      'the web gate to fail and roll back',
      { timeout: 60_000 },
    );
    expect(aborted.status?.stableRevision).toBe(promoted.status?.stableRevision);
    expect(aborted.status?.message).toMatch(
      /success-rate failed: value 0\.5 met failure condition "result < 0.95"/,
    );
    expect(await canaryWeight(ns)).toBe(0);
  });

  it('a web URL the admin did not allow: the run is invalid at once, naming the field and the flag; nothing is sent', async () => {
    const ns = await freshNamespace('an-web-deny');
    const web = await endpoint();
    await webCheck(ns, {
      metrics: [
        { name: 'probe', provider: { web: { url: `${web.url}/internal`, jsonPath: '$.data.rate' } } },
      ],
    });
    await apply(
      canaryApp(ns, {
        image: `shop/${ns}:1`,
        replicas: 1,
        steps: [{ setWeight: 50 }, { analysis: { templates: [{ templateName: 'web-check' }] } }] as never,
      }),
    );
    await startController(ns, { env: { SLUICE_PROMETHEUS_ALLOWED_URLS: `${web.url}/check` } });
    await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');
    await setImage(ns, `shop/${ns}:2`);
    const stalled = await waitForRollout(
      ns,
      (r) => r.status?.conditions?.some((c) => c.type === 'Stalled' && c.status === 'True') === true,
      'the release to stall on the refused address',
      { timeout: 60_000 },
    );
    expect(stalled.status?.conditions?.find((c) => c.type === 'Stalled')?.message).toMatch(
      /provider\.web\.url http:\/\/127\.0\.0\.1:\d+\/internal is not allowed: .*--prometheus-allowed-urls/,
    );
    expect(web.asked).toHaveLength(0);
  });

  it("the API server refuses a web provider Argo's rules forbid, naming the rule", async () => {
    const ns = await freshNamespace('an-web-schema');
    const refused = async (web: unknown) => {
      try {
        await requestJson(kube().kc, {
          method: 'POST',
          path: templates(ns),
          body: {
            apiVersion: 'sluice.dev/v1alpha1',
            kind: 'AnalysisTemplate',
            metadata: { name: `t${Math.random().toString(36).slice(2, 8)}` },
            spec: { metrics: [{ name: 'm', provider: web }] },
          },
        });
      } catch (err) {
        return String((err as Error).message);
      }
      return 'accepted';
    };
    expect(await refused({ web: { url: 'http://a/x', body: 'b' } })).toContain('a GET request has no body');
    expect(
      await refused({ web: { url: 'http://a/x', method: 'POST', body: 'b', jsonBody: { k: 1 } } }),
    ).toContain('body and jsonBody are exclusive');
    expect(await refused({ web: { url: 'http://a/x', headers: [{ key: 'Host', value: 'b' }] } })).toContain(
      'a header Sluice sets itself',
    );
    expect(await refused({ web: { url: 'http://a/x' }, prometheus: { query: 'up' } })).toContain(
      'exactly one of prometheus, web or job',
    );
    expect(await refused({ web: { url: 'http://a/x', method: 'POST', jsonBody: { k: { n: [1] } } } })).toBe(
      'accepted',
    );
  });
});
