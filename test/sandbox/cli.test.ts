import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiextensionsV1Api, RbacAuthorizationV1Api, type RbacV1Subject } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { Io } from '../../cli/io.ts';
import { MERGE_PATCH } from '../../cli/kube.ts';
import { main } from '../../cli/kubectl-sluice-main.ts';
import type { Rollout } from '../../cli/model.ts';
import { templateOf } from '../../crds/spec.ts';
import { applyYaml } from '../harness/apply.ts';
import { serviceAccountKubeconfig } from '../harness/controller.ts';
import { sandbox } from '../harness/env.ts';
import { kube } from '../harness/kube.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { waitFor } from '../harness/wait.ts';
import { ROOT } from '../support/fixtures.ts';

const GROUP = { group: 'sluice.dev', version: 'v1alpha1', plural: 'rollouts' };
type Status = NonNullable<Rollout['status']>;

interface Run {
  code: number;
  out: string;
  err: string;
}

function captureIo(signal?: AbortSignal): { io: Io; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    now: () => new Date(),
    isTTY: false,
    signal,
  };
  return { io, out, err };
}

/** Runs the plugin as `kubectl sluice …` would, against the sandbox unless a kubeconfig is given. */
async function sluice(argv: string[], kubeconfig = sandbox().KUBECONFIG): Promise<Run> {
  const { io, out, err } = captureIo();
  const code = await main([...argv, '--kubeconfig', kubeconfig], io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

async function getRollout(namespace: string, name: string): Promise<Rollout> {
  return (await kube().custom.getNamespacedCustomObject({ ...GROUP, namespace, name })) as Rollout;
}

async function setStatus(namespace: string, name: string, status: Status): Promise<Rollout> {
  return (await kube().custom.patchNamespacedCustomObjectStatus(
    { ...GROUP, namespace, name, body: { status } },
    MERGE_PATCH,
  )) as Rollout;
}

/** A canary Rollout as git would hold it, with the status a controller would have written. */
async function createRollout(namespace: string, name: string, status?: Status): Promise<Rollout> {
  await kube().custom.createNamespacedCustomObject({
    ...GROUP,
    namespace,
    body: {
      apiVersion: 'sluice.dev/v1alpha1',
      kind: 'Rollout',
      metadata: { name, labels: { 'app.kubernetes.io/managed-by': 'git' } },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: {
            containers: [
              { name: 'app', image: `shop/${name}:1.0.0` },
              { name: 'proxy', image: 'envoy:1.30' },
            ],
          },
        },
        strategy: {
          canary: {
            stableService: `${name}-stable`,
            canaryService: `${name}-canary`,
            trafficRouting: { istio: { virtualService: { name } } },
            steps: [{ setWeight: 20 }, { pause: {} }, { setWeight: 100 }],
          },
        },
      },
    },
  });
  return status ? setStatus(namespace, name, status) : getRollout(namespace, name);
}

const PAUSED: Status = {
  phase: 'Paused',
  message: 'waiting for promotion',
  currentRevision: 'rev2hash',
  stableRevision: 'rev1hash',
  currentStepIndex: 1,
  canary: { weight: 20 },
  pause: { reason: 'AwaitingPromotion', startTime: new Date().toISOString() },
};
const HEALTHY: Status = {
  phase: 'Healthy',
  currentRevision: 'rev1hash',
  stableRevision: 'rev1hash',
  currentStepIndex: 3,
};

/** A ReplicaSet as the controller makes one: `<rollout>-<n>`, revision label and number annotation. */
async function createRevision(
  namespace: string,
  rollout: string,
  number: number,
  hash: string,
  image: string,
) {
  await kube().apps.createNamespacedReplicaSet({
    namespace,
    body: {
      metadata: {
        name: `${rollout}-${number}`,
        labels: { 'sluice.dev/rollout': rollout, 'sluice.dev/revision': hash },
        annotations: { 'sluice.dev/revision-number': String(number) },
      },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: rollout, 'sluice.dev/revision': hash } },
        template: {
          metadata: {
            labels: { app: rollout, 'sluice.dev/revision': hash },
            annotations: { rev: String(number) },
          },
          spec: { containers: [{ name: 'app', image }] },
        },
      },
    },
  });
}

beforeAll(async () => {
  const ext = kube().kc.makeApiClient(ApiextensionsV1Api);
  const present = await ext
    .readCustomResourceDefinition({ name: 'rollouts.sluice.dev' })
    .then(() => true)
    .catch(() => false);
  if (!present) await applyYaml(readFileSync(join(ROOT, 'crds/rollouts.yaml'), 'utf8'));
  await waitFor(
    async () => {
      await kube().custom.listClusterCustomObject({ ...GROUP });
      return true;
    },
    { description: 'the Rollout API to be served', timeout: 30_000 },
  );
});

describe('kubectl sluice list and status', () => {
  it('lists Rollouts in a namespace and across namespaces', async () => {
    const ns = await freshNamespace('cli');
    await createRollout(ns, 'checkout', PAUSED);
    await createRollout(ns, 'api', HEALTHY);

    const listed = await sluice(['list', '-n', ns]);
    expect(listed).toMatchObject({ code: 0, err: '' });
    const lines = listed.out.split('\n');
    expect(lines[0]).toMatch(/^NAME\s+PHASE\s+STRATEGY\s+WEIGHT\s+STEP\s+CURRENT\s+STABLE\s+AGE$/);
    expect(lines[1]).toMatch(/^api\s+Healthy\s+Canary\s+-\s+3\/3\s+rev1hash\s+rev1hash\s+\d+s$/);
    expect(lines[2]).toMatch(/^checkout\s+Paused\s+Canary\s+20\s+2\/3\s+rev2hash\s+rev1hash\s+\d+s$/);

    const all = await sluice(['list', '-A']);
    expect(all.code).toBe(0);
    expect(all.out.split('\n')[0]).toMatch(/^NAMESPACE\s+NAME\s+PHASE/);
    expect(all.out).toMatch(new RegExp(`^${ns}\\s+checkout\\s+Paused`, 'm'));

    const empty = await sluice(['list', '-n', await freshNamespace('cli')]);
    expect(empty).toMatchObject({ code: 0, out: '' });
    expect(empty.err).toMatch(/^No resources found in cli-[0-9a-f]+ namespace\.$/);
  });

  it("lists AnalysisRuns with their Rollout, gate, phase and each metric's verdict", async () => {
    const ns = await freshNamespace('cli');
    await createRollout(ns, 'checkout', PAUSED);
    const runs = { group: 'sluice.dev', version: 'v1alpha1', plural: 'analysisruns' };
    const metric = { provider: { prometheus: { query: 'vector(1)' } } };
    for (const [name, gate, stepIndex] of [
      ['checkout-rev2hash-bg', 'background', undefined],
      ['checkout-rev2hash-step3', 'step', 2],
    ] as const) {
      await kube().custom.createNamespacedCustomObject({
        ...runs,
        namespace: ns,
        body: {
          apiVersion: 'sluice.dev/v1alpha1',
          kind: 'AnalysisRun',
          metadata: { name },
          spec: {
            rollout: 'checkout',
            revision: 'rev2hash',
            gate,
            ...(stepIndex === undefined ? {} : { stepIndex }),
            metrics: [
              { name: 'successRate', ...metric },
              { name: 'errorBudget', ...metric },
            ],
          },
        },
      });
    }
    const tally = { count: 3, consecutiveError: 0, inconclusive: 0, error: 0, measurements: [] };
    await kube().custom.patchNamespacedCustomObjectStatus(
      {
        ...runs,
        namespace: ns,
        name: 'checkout-rev2hash-bg',
        body: {
          status: {
            phase: 'Failed',
            metricResults: [
              { name: 'successRate', phase: 'Successful', successful: 3, failed: 0, ...tally },
              { name: 'errorBudget', phase: 'Failed', successful: 1, failed: 2, ...tally },
            ],
          },
        },
      },
      MERGE_PATCH,
    );

    const listed = await sluice(['list', 'analysisruns', '-n', ns]);
    expect(listed).toMatchObject({ code: 0, err: '' });
    const lines = listed.out.split('\n');
    expect(lines[0]).toMatch(/^NAME\s+ROLLOUT\s+GATE\s+PHASE\s+METRICS\s+AGE$/);
    expect(lines[1]).toMatch(
      /^checkout-rev2hash-bg\s+checkout\s+background\s+Failed\s+successRate: Successful \(✔3\), errorBudget: Failed \(✔1 ✖2\)\s+\d+s$/,
    );
    expect(lines[2]).toMatch(
      /^checkout-rev2hash-step3\s+checkout\s+step 3\s+-\s+successRate: Pending, errorBudget: Pending\s+\d+s$/,
    );
    const all = await sluice(['list', 'ar', '-A']);
    expect(all.out).toMatch(new RegExp(`^${ns}\\s+checkout-rev2hash-bg\\s+checkout`, 'm'));
  });

  it('list -w prints the table, then a row for each change, until stopped', async () => {
    const ns = await freshNamespace('cli');
    await createRollout(ns, 'checkout', PAUSED);
    const stop = new AbortController();
    const { io, out, err } = captureIo(stop.signal);
    const done = main(['list', '-w', '-n', ns, '--kubeconfig', sandbox().KUBECONFIG], io);
    await waitFor(() => out.length > 0, { description: 'the table' });
    expect(out[0]).toMatch(/^NAME\s+PHASE[^\n]*\ncheckout\s+Paused\s+Canary\s+20\s+2\/3/);

    await setStatus(ns, 'checkout', { phase: 'Progressing', message: 'moving on', canary: { weight: 50 } });
    await waitFor(() => out.some((l) => /^checkout\s+Progressing\s+Canary\s+50\s/.test(l)), {
      description: 'a row for the changed Rollout',
    });
    await createRollout(ns, 'api', HEALTHY);
    await waitFor(() => out.some((l) => /^api\s+Healthy/.test(l)), {
      description: 'a row for the new Rollout',
    });
    // The table's columns hold for the rows after it.
    const header = out[0]!.split('\n')[0]!;
    expect(out.at(-1)!.indexOf('Healthy')).toBe(header.indexOf('PHASE'));
    const rowsBefore = out.length;
    // A write that changes nothing a row shows prints nothing.
    await kube().custom.patchNamespacedCustomObject(
      { ...GROUP, namespace: ns, name: 'api', body: { metadata: { labels: { touched: 'yes' } } } },
      MERGE_PATCH,
    );
    await kube().custom.deleteNamespacedCustomObject({ ...GROUP, namespace: ns, name: 'checkout' });
    await waitFor(() => out.length > rowsBefore, { description: 'a row for the deleted Rollout' });
    expect(out.slice(rowsBefore)).toEqual([expect.stringMatching(/^checkout\s+Progressing/)]);

    stop.abort();
    await expect(done).resolves.toBe(0);
    expect(err).toEqual([]);
  });

  it('prints objects with -o json|yaml, and colours only at a terminal without --no-color', async () => {
    const ns = await freshNamespace('cli');
    await createRollout(ns, 'checkout', PAUSED);
    await createRollout(ns, 'api', { ...HEALTHY, observedGeneration: 1 });
    await createRevision(ns, 'checkout', 1, 'rev1hash', 'shop/checkout:1.0.0');

    const got = await sluice(['get', 'rollout', 'checkout', '-n', ns, '-o', 'json']);
    expect(got).toMatchObject({ code: 0, err: '' });
    const view = JSON.parse(got.out);
    expect(view.rollout).toMatchObject({ kind: 'Rollout', metadata: { name: 'checkout', namespace: ns } });
    expect(view.rollout.metadata.managedFields).toBeUndefined();
    expect(view.rollout.status.phase).toBe('Paused');
    expect(view.revisions).toEqual([
      expect.objectContaining({ name: 'checkout-1', hash: 'rev1hash', number: 1 }),
    ]);
    expect(Array.isArray(view.pods) && Array.isArray(view.events)).toBe(true);

    const listed = await sluice(['list', '-n', ns, '-o', 'yaml']);
    const list = parseYaml(listed.out);
    expect(list).toMatchObject({ apiVersion: 'v1', kind: 'List' });
    expect(list.items.map((r: Rollout) => r.metadata.name)).toEqual(['api', 'checkout']);

    // status -o: the lines for the person on stderr, one object on stdout.
    const done = await sluice(['status', 'api', '-n', ns, '-o', 'json']);
    expect(done).toMatchObject({ code: 0, err: 'Healthy' });
    expect(JSON.parse(done.out)).toMatchObject({
      name: 'api',
      namespace: ns,
      state: 'Healthy',
      done: true,
      status: { phase: 'Healthy' },
    });
    const once = await sluice(['status', 'checkout', '-n', ns, '--watch=false', '-o', 'yaml']);
    expect(once.code).toBe(0);
    expect(parseYaml(once.out)).toMatchObject({ state: 'Progressing', done: false });

    const atTerminal = async (...flags: string[]) => {
      const out: string[] = [];
      const io: Io = { out: (t) => out.push(t), err: () => {}, now: () => new Date(), isTTY: true };
      await main(['list', '-n', ns, '--kubeconfig', sandbox().KUBECONFIG, ...flags], io);
      return out.join('\n');
    };
    expect(await atTerminal()).toContain('\x1b[32mHealthy\x1b[39m');
    expect(await atTerminal('--no-color')).not.toContain('\x1b');
    expect((await sluice(['list', '-n', ns])).out).not.toContain('\x1b');
  });

  it('shows revisions, pods with readiness, the last five Events about the Rollout, and history', async () => {
    const ns = await freshNamespace('cli');
    const rollout = await createRollout(ns, 'checkout', {
      ...PAUSED,
      backgroundAnalysis: { name: 'checkout-rev2hash-bg', phase: 'Running', message: 'success rate 100%' },
      history: [{ revision: 'rev1hash', outcome: 'Promoted', finishedAt: new Date().toISOString() }],
    });
    await createRevision(ns, 'checkout', 1, 'rev1hash', 'shop/checkout:1.0.0');
    await createRevision(ns, 'checkout', 2, 'rev2hash', 'shop/checkout:1.1.0');

    // Created as wire JSON: client-node 1.4 serialises a Date eventTime with milliseconds, and the API
    // server insists on MicroTime's six fractional digits.
    const micro = (ms: number) => new Date(ms).toISOString().replace(/Z$/, '000Z');
    const createEvent = (body: object) =>
      kube().custom.createNamespacedCustomObject({
        group: 'events.k8s.io',
        version: 'v1',
        plural: 'events',
        namespace: ns,
        body: { apiVersion: 'events.k8s.io/v1', kind: 'Event', ...body },
      });
    const base = Date.now() - 60_000;
    const regarding = { apiVersion: 'sluice.dev/v1alpha1', kind: 'Rollout', namespace: ns, name: 'checkout' };
    for (let i = 1; i <= 6; i++) {
      await createEvent({
        metadata: { name: `checkout.${i}` },
        eventTime: micro(base + i * 1000),
        reportingController: 'sluice.dev/controller',
        reportingInstance: 'test',
        action: 'Release',
        reason: `Reason${i}`,
        note: `note number ${i}`,
        type: i === 6 ? 'Warning' : 'Normal',
        regarding: { ...regarding, uid: rollout.metadata.uid },
      });
    }
    // Same name, other kind: not about the Rollout.
    await createEvent({
      metadata: { name: 'other' },
      eventTime: micro(Date.now()),
      reportingController: 'x',
      reportingInstance: 'x',
      action: 'x',
      reason: 'NotMine',
      type: 'Normal',
      regarding: { apiVersion: 'v1', kind: 'Service', namespace: ns, name: 'checkout' },
    });

    const shown = await waitFor(
      async () => {
        const run = await sluice(['get', 'rollout', 'checkout', '-n', ns]);
        return (run.out.match(/✔ pod checkout-/g) ?? []).length === 2 ? run : false;
      },
      { description: 'status to show both revisions with one ready pod each', timeout: 60_000 },
    );
    expect(shown.code).toBe(0);
    const text = shown.out;
    expect(text).toContain(`Rollout checkout (namespace ${ns})`);
    expect(text).toContain('Phase: Paused — waiting for promotion');
    expect(text).toContain('Step: 2/3 pause until promoted');
    expect(text).toContain('Canary weight: 20%');
    expect(text).toContain('Paused: AwaitingPromotion, since');
    expect(text).toContain('Background analysis: checkout-rev2hash-bg Running — success rate 100%');
    expect(text).toMatch(
      /revision 2 \(canary\): ReplicaSet checkout-2, rev2hash, 1\/1 ready, shop\/checkout:1\.1\.0/,
    );
    expect(text).toMatch(
      /revision 1 \(stable\): ReplicaSet checkout-1, rev1hash, 1\/1 ready, shop\/checkout:1\.0\.0/,
    );
    expect(text).toMatch(/│ {2}│ {2}└─ ✔ pod checkout-2-[a-z0-9]+ Running 1\/1 ready/);
    expect(text).toContain('Events (last 5)');
    expect(text).not.toContain('Reason1');
    for (let i = 2; i <= 6; i++) expect(text).toContain(`Reason${i}: note number ${i}`);
    expect(text).toContain('Warning Reason6');
    expect(text).not.toContain('NotMine');
    expect(text.indexOf('Reason2')).toBeLessThan(text.indexOf('Reason6'));
    expect(text).toMatch(/History \(newest first\)\n {3}└─ rev1hash Promoted \d+s ago/);
  });

  it('--watch redraws when the Rollout or its ReplicaSets change and stops when asked', async () => {
    const ns = await freshNamespace('cli');
    await createRollout(ns, 'checkout', { ...PAUSED, phase: 'Progressing', pause: undefined });
    const stop = new AbortController();
    const { io, out } = captureIo(stop.signal);
    const done = main(
      ['get', 'rollout', 'checkout', '--watch', '-n', ns, '--kubeconfig', sandbox().KUBECONFIG],
      io,
    );
    const last = () => out.at(-1) ?? '';

    await waitFor(() => last().includes('Phase: Progressing'), { description: 'the first drawing' });
    await setStatus(ns, 'checkout', { phase: 'Paused', message: 'held for the watch test' });
    await waitFor(() => last().includes('Phase: Paused — held for the watch test'), {
      description: 'a redraw after the status changed',
    });
    await createRevision(ns, 'checkout', 2, 'rev2hash', 'shop/checkout:1.1.0');
    await waitFor(() => last().includes('revision 2 (canary): ReplicaSet checkout-2'), {
      description: 'a redraw after a ReplicaSet appeared',
    });

    stop.abort();
    await expect(done).resolves.toBe(0);
  });

  it('--watch ends with an error when the Rollout is deleted', async () => {
    const ns = await freshNamespace('cli');
    await createRollout(ns, 'checkout', PAUSED);
    const { io, out, err } = captureIo(new AbortController().signal);
    const done = main(
      ['get', 'rollout', 'checkout', '-w', '-n', ns, '--kubeconfig', sandbox().KUBECONFIG],
      io,
    );
    await waitFor(() => out.length > 0, { description: 'the first drawing' });
    await kube().custom.deleteNamespacedCustomObject({ ...GROUP, namespace: ns, name: 'checkout' });
    await expect(done).resolves.toBe(1);
    expect(err).toEqual([`error: rollout "checkout" was deleted from namespace "${ns}"`]);
  });
});

describe('kubectl sluice status, as a pipeline waits on it', () => {
  const waitOn = (ns: string, ...flags: string[]) => {
    const { io, out, err } = captureIo(new AbortController().signal);
    const done = main(['status', 'checkout', '-n', ns, '--kubeconfig', sandbox().KUBECONFIG, ...flags], io);
    return { done, out, err };
  };

  it('waits for the release to end: exit 0 when Healthy, 1 when Degraded, a line at each change', async () => {
    const good = await freshNamespace('cli');
    await createRollout(good, 'checkout', { ...PAUSED, observedGeneration: 1 });
    const promoted = waitOn(good);
    await waitFor(() => promoted.out.includes('Paused - waiting for promotion'), {
      description: 'the first line',
    });
    await setStatus(good, 'checkout', { ...HEALTHY, observedGeneration: 1 });
    await expect(promoted.done).resolves.toBe(0);
    expect(promoted.out).toEqual(['Paused - waiting for promotion', 'Healthy']);

    const bad = await freshNamespace('cli');
    await createRollout(bad, 'checkout', { ...PAUSED, observedGeneration: 1 });
    const rolledBack = waitOn(bad);
    await waitFor(() => rolledBack.out.length > 0, { description: 'the first line' });
    await setStatus(bad, 'checkout', { phase: 'Degraded', message: 'rolled back: success rate 71% < 95%' });
    await expect(rolledBack.done).resolves.toBe(1);
    expect(rolledBack.out.at(-1)).toBe('Degraded - rolled back: success rate 71% < 95%');
  });

  it('never ends on a status older than the spec, and says when it timed out', async () => {
    const ns = await freshNamespace('cli');
    // Healthy, but observed at generation 0: the controller has not read this spec yet.
    await createRollout(ns, 'checkout', { ...HEALTHY, observedGeneration: 0 });
    const run = waitOn(ns, '--timeout', '3s');
    await expect(run.done).resolves.toBe(1);
    expect(run.out).toEqual(['Progressing - waiting for the controller to observe generation 1']);
    expect(run.err).toEqual([
      'error: timed out waiting for rollout "checkout" to finish: Progressing - waiting for the controller to observe generation 1',
    ]);
    expect(await sluice(['status', 'checkout', '--watch=false', '-n', ns])).toEqual({
      code: 0,
      out: 'Progressing - waiting for the controller to observe generation 1',
      err: '',
    });
  });
});

describe('kubectl sluice signals', () => {
  it('writes each signal to the status subresource only, never to spec or metadata', async () => {
    const ns = await freshNamespace('cli');
    const before = await createRollout(ns, 'checkout', PAUSED);
    const started = Date.now();

    const promoted = await sluice(['promote', 'checkout', '--full', '-n', ns]);
    expect(promoted).toMatchObject({ code: 0, err: '' });
    expect(promoted.out).toBe(
      'rollout "checkout": full promotion requested; the controller acts on it at its next reconcile',
    );
    for (const command of ['pause', 'abort', 'resume']) {
      expect(await sluice([command, 'checkout', '-n', ns])).toMatchObject({ code: 0 });
    }

    const after = await getRollout(ns, 'checkout');
    const signals = after.status?.signals ?? {};
    expect(signals.promote).toEqual({ requestedAt: expect.any(String), by: 'kwok-sluice', full: true });
    for (const s of [signals.promote, signals.pause, signals.abort, signals.resume]) {
      expect(Date.parse(s?.requestedAt ?? '')).toBeGreaterThanOrEqual(started - 1000);
      expect(s?.by).toBe('kwok-sluice');
    }
    expect(signals.pause).not.toHaveProperty('full');
    // Everything git owns is untouched, and so is the rest of status.
    expect(after.spec).toEqual(before.spec);
    expect(after.metadata.generation).toBe(before.metadata.generation);
    expect(after.metadata.labels).toEqual(before.metadata.labels);
    expect(after.metadata.annotations).toEqual(before.metadata.annotations);
    expect({ ...after.status, signals: undefined }).toEqual({ ...before.status, signals: undefined });
  });

  it('a signal racing the controller is not lost: stale controller writes conflict, signals never do', async () => {
    const ns = await freshNamespace('cli');
    await createRollout(ns, 'checkout', PAUSED);

    // The controller read the Rollout, then a person promoted before the controller wrote.
    const seen = await getRollout(ns, 'checkout');
    expect((await sluice(['promote', 'checkout', '-n', ns])).code).toBe(0);
    const staleWrite = kube().custom.replaceNamespacedCustomObjectStatus({
      ...GROUP,
      namespace: ns,
      name: 'checkout',
      body: { ...seen, status: { ...seen.status, message: 'stale write that would drop the signal' } },
    });
    await expect(staleWrite).rejects.toMatchObject({ code: 409 });
    expect((await getRollout(ns, 'checkout')).status?.signals?.promote).toBeDefined();

    // Many controller writes (read, modify, resourceVersion-checked replace, retry on conflict) while a
    // person pauses: the signal lands whatever the interleaving, and the controller's writes keep it.
    let writes = 0;
    const controller = (async () => {
      while (writes < 30) {
        const current = await getRollout(ns, 'checkout');
        try {
          await kube().custom.replaceNamespacedCustomObjectStatus({
            ...GROUP,
            namespace: ns,
            name: 'checkout',
            body: { ...current, status: { ...current.status, message: `controller write ${writes}` } },
          });
          writes++;
        } catch (err) {
          if ((err as { code?: number }).code !== 409) throw err;
        }
      }
    })();
    const paused = await sluice(['pause', 'checkout', '-n', ns]);
    await controller;
    expect(paused.code).toBe(0);
    const final = await getRollout(ns, 'checkout');
    expect(final.status?.signals?.pause?.by).toBe('kwok-sluice');
    expect(final.status?.message).toBe('controller write 29');
  });

  it.each([
    ['resume', HEALTHY, 'error: rollout "checkout" is not paused (phase: Healthy)'],
    ['retry', PAUSED, 'error: nothing to retry: rollout "checkout" is not aborted (phase: Paused)'],
    [
      'promote',
      HEALTHY,
      'error: nothing to promote: rollout "checkout" is Healthy with no release in progress',
    ],
    [
      'abort',
      HEALTHY,
      'error: nothing to abort: rollout "checkout" has no release in progress (phase: Healthy)',
    ],
  ] as const)('refuses %s in a state where it means nothing', async (command, status, message) => {
    const ns = await freshNamespace('cli');
    await createRollout(ns, 'checkout', status);
    expect(await sluice([command, 'checkout', '-n', ns])).toEqual({ code: 1, out: '', err: message });
    expect((await getRollout(ns, 'checkout')).status?.signals).toBeUndefined();
  });

  it('names an unknown Rollout and its namespace', async () => {
    const ns = await freshNamespace('cli');
    for (const argv of [
      ['promote', 'nope'],
      ['status', 'nope'],
      ['get', 'rollout', 'nope'],
      ['undo', 'nope'],
      ['set', 'image', 'nope', 'a=b'],
    ]) {
      expect(await sluice([...argv, '-n', ns])).toEqual({
        code: 1,
        out: '',
        err: `error: rollout "nope" not found in namespace "${ns}"`,
      });
    }
  });
});

/** ServiceAccount `name` in `ns`, bound there (a RoleBinding) to the built-in ClusterRole `role`. */
async function personWith(role: 'view' | 'edit', ns: string, name: string): Promise<string> {
  await kube().core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name } } });
  await kube()
    .kc.makeApiClient(RbacAuthorizationV1Api)
    .createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: `${name}-${role}` },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
        subjects: [{ kind: 'ServiceAccount', name, namespace: ns }],
      },
    });
  return serviceAccountKubeconfig(ns, name);
}

describe('roles for people (deploy/rbac-people.yaml, aggregated into view, edit and admin)', () => {
  it('lets an editor steer releases in its namespace only, and a viewer read but not steer', async () => {
    await applyYaml(readFileSync(join(ROOT, 'deploy/rbac-people.yaml'), 'utf8'));
    const rbac = kube().kc.makeApiClient(RbacAuthorizationV1Api);
    // kube-controller-manager's aggregation copies the rules into the built-in roles.
    const aggregated = async (role: string, resource: string, verb: string) =>
      ((await rbac.readClusterRole({ name: role })).rules ?? []).some(
        (r) =>
          r.apiGroups?.includes('sluice.dev') && r.resources?.includes(resource) && r.verbs.includes(verb),
      );
    await waitFor(
      async () =>
        (await aggregated('edit', 'rollouts/status', 'patch')) &&
        (await aggregated('admin', 'rollouts/status', 'patch')) &&
        (await aggregated('view', 'rollouts', 'watch')),
      { description: 'the Sluice rules aggregated into view, edit and admin', timeout: 60_000 },
    );
    const [mine, theirs] = [await freshNamespace('people'), await freshNamespace('people')];
    await createRollout(mine, 'checkout', PAUSED);
    await createRollout(theirs, 'checkout', PAUSED);
    const editor = await personWith('edit', mine, 'dev');
    const viewer = await personWith('view', mine, 'watcher');

    expect(await sluice(['promote', 'checkout'], editor)).toMatchObject({ code: 0 });
    expect((await getRollout(mine, 'checkout')).status?.signals?.promote).toBeDefined();
    expect(await sluice(['abort', 'checkout'], editor)).toMatchObject({ code: 0 });
    expect(await sluice(['set', 'image', 'checkout', 'app=x:2'], editor)).toMatchObject({ code: 0 });
    const elsewhere = await sluice(['promote', 'checkout', '-n', theirs], editor);
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.err).toContain(
      `forbidden: user "system:serviceaccount:${mine}:dev" cannot get rollouts in namespace "${theirs}"`,
    );
    expect((await getRollout(theirs, 'checkout')).status?.signals).toBeUndefined();

    const listed = await sluice(['list'], viewer);
    expect(listed).toMatchObject({ code: 0 });
    expect(listed.out).toMatch(/^checkout\s+Paused/m);
    expect(await sluice(['get', 'rollout', 'checkout'], viewer)).toMatchObject({ code: 0 });
    expect(await sluice(['list', 'analysisruns'], viewer)).toMatchObject({
      code: 0,
      err: `No resources found in ${mine} namespace.`,
    });
    expect(await sluice(['status', 'checkout', '--watch=false'], viewer)).toMatchObject({ code: 0, err: '' });
    expect(await sluice(['promote', 'checkout'], viewer)).toEqual({
      code: 1,
      out: '',
      err:
        `error: forbidden: user "system:serviceaccount:${mine}:watcher" cannot patch rollouts/status in namespace "${mine}" ` +
        '(kubectl sluice promote needs: get rollouts, patch rollouts/status)',
    });
  });
});

/** A Role in `ns` that may get and list Rollouts, bound to `subject` (a ServiceAccount, a Group). */
async function mayReadRollouts(ns: string, subject: RbacV1Subject): Promise<void> {
  const rbac = kube().kc.makeApiClient(RbacAuthorizationV1Api);
  await rbac.createNamespacedRole({
    namespace: ns,
    body: {
      metadata: { name: 'rollout-reader' },
      rules: [{ apiGroups: ['sluice.dev'], resources: ['rollouts'], verbs: ['get', 'list'] }],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace: ns,
    body: {
      metadata: { name: 'reads-rollouts' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'rollout-reader' },
      subjects: [subject],
    },
  });
}

describe('kubectl sluice RBAC', () => {
  it('tells a read-only user which verb on which resource is denied and what the command needs', async () => {
    const ns = await freshNamespace('cli');
    await createRollout(ns, 'checkout', PAUSED);
    await kube().core.createNamespacedServiceAccount({
      namespace: ns,
      body: { metadata: { name: 'viewer' } },
    });
    await mayReadRollouts(ns, { kind: 'ServiceAccount', name: 'viewer', namespace: ns });
    const kubeconfig = await serviceAccountKubeconfig(ns, 'viewer');

    // Reading is allowed (the namespace comes from the context)…
    const listed = await sluice(['list'], kubeconfig);
    expect(listed.code).toBe(0);
    expect(listed.out).toMatch(/^checkout\s+Paused/m);

    // …steering is not.
    const user = `system:serviceaccount:${ns}:viewer`;
    expect(await sluice(['promote', 'checkout'], kubeconfig)).toEqual({
      code: 1,
      out: '',
      err:
        `error: forbidden: user "${user}" cannot patch rollouts/status in namespace "${ns}" ` +
        '(kubectl sluice promote needs: get rollouts, patch rollouts/status)',
    });
    expect(await sluice(['set', 'image', 'checkout', 'app=x:2'], kubeconfig)).toMatchObject({
      code: 1,
      err: `error: forbidden: user "${user}" cannot patch rollouts in namespace "${ns}" (kubectl sluice set image needs: get rollouts, patch rollouts)`,
    });
    expect((await sluice(['get', 'rollout', 'checkout'], kubeconfig)).err).toBe(
      `error: forbidden: user "${user}" cannot list replicasets in namespace "${ns}" ` +
        '(kubectl sluice get rollout needs: get rollouts, list rollouts, watch rollouts, list replicasets, watch replicasets, list pods, list events, get analysisruns)',
    );
    expect((await getRollout(ns, 'checkout')).status?.signals).toBeUndefined();
  });
});

describe("kubectl's connection flags on the real API server", () => {
  it("--as impersonates: a user with no rights is told the verb it lacks; --as-group adds a group's", async () => {
    const ns = await freshNamespace('cli');
    await createRollout(ns, 'checkout', PAUSED);
    expect(await sluice(['status', 'checkout', '-n', ns, '--watch=false', '--as', 'nobody'])).toEqual({
      code: 1,
      out: '',
      err: `error: forbidden: user "nobody" cannot get rollouts in namespace "${ns}" (kubectl sluice status needs: get rollouts)`,
    });
    expect((await sluice(['promote', 'checkout', '-n', ns, '--as', 'nobody'])).err).toBe(
      `error: forbidden: user "nobody" cannot get rollouts in namespace "${ns}" ` +
        '(kubectl sluice promote needs: get rollouts, patch rollouts/status)',
    );

    // A group allowed to read Rollouts there: reading works, steering is still refused.
    await mayReadRollouts(ns, {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Group',
      name: 'release-watchers',
    });
    const asWatcher = ['-n', ns, '--as', 'nobody', '--as-group', 'others', '--as-group', 'release-watchers'];
    expect(await sluice(['status', 'checkout', '--watch=false', ...asWatcher])).toMatchObject({ code: 0 });
    expect(await sluice(['list', ...asWatcher])).toMatchObject({ code: 0 });
    expect((await sluice(['abort', 'checkout', ...asWatcher])).err).toBe(
      `error: forbidden: user "nobody" cannot patch rollouts/status in namespace "${ns}" ` +
        '(kubectl sluice abort needs: get rollouts, patch rollouts/status)',
    );
    expect((await getRollout(ns, 'checkout')).status?.signals).toBeUndefined();
  });

  it('--token and --server sign in as someone else against the address given', async () => {
    const ns = await freshNamespace('cli');
    await createRollout(ns, 'checkout', PAUSED);
    await kube().core.createNamespacedServiceAccount({
      namespace: ns,
      body: { metadata: { name: 'pipeline' } },
    });
    const token = (
      await kube().core.createNamespacedServiceAccountToken({
        name: 'pipeline',
        namespace: ns,
        body: { spec: { expirationSeconds: 600, audiences: [] } },
      })
    ).status!.token;
    const server = kube().kc.getCurrentCluster()!.server;
    // The admin kubeconfig's client certificate is not sent along: the token is who asks.
    expect((await sluice(['status', 'checkout', '-n', ns, '--token', token])).err).toBe(
      `error: forbidden: user "system:serviceaccount:${ns}:pipeline" cannot get rollouts in namespace "${ns}" ` +
        '(kubectl sluice status needs: get rollouts)',
    );
    // Refused the impersonation itself: said in the server's words (Kubernetes 1.36 names the
    // constrained-impersonation verb, impersonate-on:user-info:get), not as the command's missing verb.
    expect((await sluice(['status', 'checkout', '-n', ns, '--token', token, '--as', 'alice'])).err).toMatch(
      new RegExp(`^error: forbidden: .* User "system:serviceaccount:${ns}:pipeline" cannot impersonate`),
    );
    // No kubeconfig at all: the flags are the whole connection, as with kubectl.
    const bare = [
      'status',
      'checkout',
      '-n',
      ns,
      '--token',
      token,
      '--server',
      server,
      '--insecure-skip-tls-verify',
    ];
    const run = await sluice(bare, '/dev/null');
    expect(run.err).toContain(`user "system:serviceaccount:${ns}:pipeline" cannot get rollouts`);
    expect((await sluice([...bare.slice(0, -1), '--request-timeout', '5s'], '/dev/null')).err).toMatch(
      /^error: cannot reach the API server at https:\/\/127\.0\.0\.1:\d+: .*certificate/,
    );
  });
});

describe('kubectl sluice set image and undo', () => {
  it('sets a container image in spec.template and warns that git will revert it', async () => {
    const ns = await freshNamespace('cli');
    const before = await createRollout(ns, 'checkout', PAUSED);
    const run = await sluice(['set', 'image', 'checkout', 'proxy=envoy:1.31', '-n', ns]);
    expect(run.code).toBe(0);
    expect(run.out).toBe('rollout "checkout": container "proxy" image set to envoy:1.31');
    expect(run.err).toMatch(/^warning: set image changes spec\.template .* the next GitOps sync reverts it/);
    const after = await getRollout(ns, 'checkout');
    expect(templateOf(after.spec).spec.containers.map((c) => c.image)).toEqual([
      'shop/checkout:1.0.0',
      'envoy:1.31',
    ]);
    expect(after.metadata.generation).toBe((before.metadata.generation ?? 0) + 1);
    expect(after.status).toEqual(before.status);

    expect(await sluice(['set', 'image', 'checkout', 'web=x:1', '-n', ns])).toEqual({
      code: 1,
      out: '',
      err: 'error: container "web" not found in rollout "checkout" (containers: app, proxy)',
    });
  });

  it('puts the previous revision (or the one asked for) back into spec.template', async () => {
    const ns = await freshNamespace('cli');
    await createRollout(ns, 'checkout', {
      ...PAUSED,
      currentRevision: 'rev3hash',
      stableRevision: 'rev2hash',
    });
    await createRevision(ns, 'checkout', 1, 'rev1hash', 'shop/checkout:1.0.0');
    await createRevision(ns, 'checkout', 2, 'rev2hash', 'shop/checkout:1.1.0');
    await createRevision(ns, 'checkout', 3, 'rev3hash', 'shop/checkout:1.2.0');

    const undo = await sluice(['undo', 'checkout', '-n', ns]);
    expect(undo.code).toBe(0);
    expect(undo.out).toBe('rollout "checkout": template rolled back to revision 2 (shop/checkout:1.1.0)');
    expect(undo.err).toMatch(/^warning: undo changes spec\.template of rollout "checkout", which git owns/);
    let template = templateOf((await getRollout(ns, 'checkout')).spec);
    expect(template.metadata).toEqual({ labels: { app: 'checkout' }, annotations: { rev: '2' } });
    expect(template.spec.containers).toEqual([
      expect.objectContaining({ name: 'app', image: 'shop/checkout:1.1.0' }),
    ]);

    expect((await sluice(['undo', 'checkout', '--to-revision', '1', '-n', ns])).code).toBe(0);
    template = templateOf((await getRollout(ns, 'checkout')).spec);
    expect(template.metadata?.annotations).toEqual({ rev: '1' });
    expect(template.spec.containers[0]?.image).toBe('shop/checkout:1.0.0');

    expect(await sluice(['undo', 'checkout', '--to-revision', '9', '-n', ns])).toEqual({
      code: 1,
      out: '',
      err: 'error: revision 9 not found for rollout "checkout" (revisions: 1, 2, 3)',
    });
  });
});
