import { readFileSync } from 'node:fs';
import type { KubernetesObject, V1ReplicaSet } from '@kubernetes/client-node';
import fc from 'fast-check';
import { describe, expect, it, onTestFinished } from 'vitest';
import { main } from '../../cli/kubectl-sluice-main.ts';
import { requestJson, statusCode } from '../../controller/kube/client.ts';
import type { Rollout } from '../../crds/index.ts';
import { type ControllerProcess, startController } from '../harness/controller.ts';
import { sandbox } from '../harness/env.ts';
import { kube } from '../harness/kube.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { waitFor } from '../harness/wait.ts';
import { apply, type CliRun, canaryApp, condition, recordWeights } from '../support/apps.ts';
import {
  cliArgv,
  example,
  FUZZ_PROFILE,
  FUZZ_SEED,
  fieldsNamed,
  type JsonObject,
  type Mutation,
  mutated,
  namesField,
  randomSpec,
  wrongValue,
} from '../support/fuzz.ts';

// Random and mutated input against the real API server and a controller running under
// deploy/'s ServiceAccount. Replay a failure with SLUICE_FUZZ_SEED=<seed printed below>.
const COUNTS = {
  ci: { rollouts: 360, templates: 160, cli: 150 },
  full: { rollouts: 3500, templates: 1600, cli: 1000 },
}[FUZZ_PROFILE];
const BATCH = 30;
const GROUP = 'sluice.dev/v1alpha1';

interface Case {
  object: JsonObject;
  mutations: Mutation[];
}

const collection = (ns: string, kind: string) =>
  kind === 'ClusterAnalysisTemplate'
    ? `/apis/${GROUP}/clusteranalysistemplates`
    : `/apis/${GROUP}/namespaces/${ns}/${kind.toLowerCase()}s`;

/** Creates (never applies: SSA type errors are 500s before validation, see docs/FIELD-NOTES.md). */
async function submit(
  ns: string,
  obj: JsonObject,
): Promise<{ ok: true } | { ok: false; code?: number; message: string }> {
  try {
    await requestJson(kube().kc, { method: 'POST', path: collection(ns, obj.kind as string), body: obj });
    return { ok: true };
  } catch (err) {
    const body = (err as { body?: { message?: string } }).body;
    return { ok: false, code: statusCode(err), message: body?.message ?? String(err) };
  }
}

/** A refusal names a changed field; a made-up spec's refusal names some field. */
function namesChangedField(message: string, c: Case): boolean {
  if (c.mutations.length === 0) return fieldsNamed(message).length > 0;
  return c.mutations.some((m) => namesField(message, m.path));
}

/** Resident memory of a process in MiB, from /proc (Linux). */
function rssMiB(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined; // the process is gone: expectAlive reports that
  }
}

function watchMemory(controller: ControllerProcess) {
  const samples: number[] = [];
  const timer = setInterval(() => {
    const rss = controller.proc.pid ? rssMiB(controller.proc.pid) : undefined;
    if (rss !== undefined) samples.push(rss);
  }, 1000);
  onTestFinished(() => clearInterval(timer));
  return { samples, stop: () => clearInterval(timer) };
}

function expectAlive(controller: ControllerProcess) {
  expect(
    { exitCode: controller.proc.exitCode, signal: controller.proc.signalCode },
    `controller exited (log: ${controller.logFile})`,
  ).toEqual({ exitCode: null, signal: null });
}

/** As kubectlSluice, with a signal that ends `status --watch` the way Ctrl-C would. */
async function cli(ns: string, argv: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['-n', ns, '--kubeconfig', sandbox().KUBECONFIG, ...argv], {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    now: () => new Date(),
    isTTY: false,
    signal: AbortSignal.timeout(1500),
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

function retarget(obj: JsonObject, ns: string): JsonObject {
  const copy = structuredClone(obj);
  (copy.metadata as JsonObject).namespace = ns;
  return copy;
}

describe(`bad input: fuzz (profile ${FUZZ_PROFILE}, seed ${FUZZ_SEED})`, () => {
  it(
    'every generated Rollout and template is refused naming its field, or handled without crash or traffic change',
    async () => {
      console.log(
        `fuzz: profile=${FUZZ_PROFILE} seed=${FUZZ_SEED}; replay with SLUICE_FUZZ_SEED=${FUZZ_SEED}`,
      );
      const ns = await freshNamespace('fuzz');
      // A valid Rollout may ask for 2^31 replicas: the quota keeps it from flooding the shared sandbox.
      await kube().core.createNamespacedResourceQuota({
        namespace: ns,
        body: { metadata: { name: 'fuzz' }, spec: { hard: { pods: '12' } } },
      });
      const canaryRollout = retarget(example('examples/canary/rollout.yaml'), ns);
      const blueGreen = retarget(example('examples/blue-green/rollout.yaml'), ns);
      const template = retarget(example('examples/canary/analysis-template.yaml'), ns);
      const clusterTemplate = example('examples/cluster-analysis-template.yaml');
      // Each Service selects its example's pods, as Sluice requires of a Service it takes over:
      // a fuzzed Rollout then gets past that check to the rest of the controller.
      const service = (name: string) => ({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name, namespace: ns },
        spec: { selector: { app: name.split('-')[0] as string }, ports: [{ port: 80 }] },
      });
      const vs = canaryApp(ns, { name: 'checkout' }).find(
        (o) => o.kind === 'VirtualService',
      ) as KubernetesObject;
      await apply([
        ...['checkout-stable', 'checkout-canary', 'payments-active', 'payments-preview'].map(service),
        vs,
        template as KubernetesObject,
      ]);
      const weights = await recordWeights(ns, 'checkout');
      const controller = await startController(ns);
      const memory = watchMemory(controller);

      const rolloutCases = fc.sample(
        fc.oneof(
          { weight: 6, arbitrary: mutated(canaryRollout, ['spec']) },
          { weight: 3, arbitrary: mutated(blueGreen, ['spec']) },
          {
            weight: 1,
            arbitrary: fc
              .oneof(wrongValue, fc.constant('a'.repeat(253)), fc.constant('b'.repeat(254)))
              .map((name) => ({
                object: { ...structuredClone(canaryRollout), metadata: { name, namespace: ns } },
                mutations: [{ op: 'replace', path: ['metadata', 'name'], value: name } as Mutation],
              })),
          },
          {
            weight: 1,
            arbitrary: randomSpec.map((spec) => ({
              object: { apiVersion: GROUP, kind: 'Rollout', metadata: { name: 'x', namespace: ns }, spec },
              mutations: [],
            })),
          },
        ),
        { seed: FUZZ_SEED, numRuns: COUNTS.rollouts },
      ) as Case[];
      const templateCases = fc.sample(
        fc.oneof(
          { weight: 5, arbitrary: mutated(template, ['spec']) },
          { weight: 3, arbitrary: mutated(clusterTemplate, ['spec']) },
          {
            weight: 1,
            arbitrary: randomSpec.map((spec) => ({
              object: {
                apiVersion: GROUP,
                kind: 'AnalysisTemplate',
                metadata: { name: 'x', namespace: ns },
                spec,
              },
              mutations: [],
            })),
          },
        ),
        { seed: FUZZ_SEED + 1, numRuns: COUNTS.templates },
      ) as Case[];

      const tally = { rejected: 0, stalled: 0, progressing: 0, templatesAccepted: 0 };
      const refusedBadly: string[] = [];
      let submitted = 0;

      // Templates first: the API server's answer is the whole story for them (the controller
      // reads a template only when a run starts; invalid ones stall a release: analysis tests).
      const clusterNames: string[] = [];
      for (const [i, c] of templateCases.entries()) {
        const obj = structuredClone(c.object);
        const meta = obj.metadata as JsonObject;
        meta.name = `${ns}-t${i}`;
        if (obj.kind === 'ClusterAnalysisTemplate') clusterNames.push(meta.name);
        else meta.namespace = ns;
        const result = await submit(ns, obj);
        submitted++;
        if (result.ok) {
          tally.templatesAccepted++;
          continue;
        }
        tally.rejected++;
        if (!(result.code === 422 || result.code === 400) || !namesChangedField(result.message, c))
          refusedBadly.push(
            `template #${i} (${result.code}): ${result.message}\n  mutations: ${JSON.stringify(c.mutations)}`,
          );
      }
      for (const name of clusterNames) {
        await requestJson(kube().kc, {
          method: 'DELETE',
          path: `/apis/${GROUP}/clusteranalysistemplates/${name}`,
        }).catch(() => undefined);
      }

      const misbehaved: string[] = [];
      const afterBatch: number[] = []; // RSS once each batch is handled and deleted: by work done, not by clock
      for (let start = 0; start < rolloutCases.length; start += BATCH) {
        const accepted: string[] = [];
        for (const [j, c] of rolloutCases.slice(start, start + BATCH).entries()) {
          const i = start + j;
          const obj = structuredClone(c.object);
          const meta = obj.metadata as JsonObject;
          const renames = c.mutations.some((m) => m.path[0] === 'metadata');
          if (!renames) meta.name = `r${i}`;
          // The long-name cases repeat: keep them distinct so a 409 never stands in for an answer.
          else if (typeof meta.name === 'string' && meta.name.length > 200)
            meta.name = `${meta.name.slice(0, -8)}${String(i).padStart(8, '0')}`;
          meta.namespace = ns;
          const result = await submit(ns, obj);
          submitted++;
          if (result.ok) {
            accepted.push(meta.name as string);
            continue;
          }
          tally.rejected++;
          if (!(result.code === 422 || result.code === 400) || !namesChangedField(result.message, c))
            refusedBadly.push(
              `rollout #${i} (${result.code}): ${result.message}\n  mutations: ${JSON.stringify(c.mutations)}`,
            );
        }
        // Every accepted Rollout is looked at by the controller: a status for this generation.
        const handled = await waitFor(
          async () => {
            const list = await requestJson<{ items: Rollout[] }>(kube().kc, {
              method: 'GET',
              path: collection(ns, 'Rollout'),
            });
            const mine = list.items.filter((r) => accepted.includes(r.metadata.name as string));
            const pending = mine.filter(
              (r) => (r.status?.observedGeneration ?? 0) < (r.metadata.generation ?? 1),
            );
            if (pending.length > 0)
              throw new Error(`not yet handled: ${pending.map((r) => r.metadata.name).join(', ')}`);
            return mine;
          },
          {
            description: `the controller to handle batch ${start / BATCH} (${accepted.length} accepted)`,
            timeout: 90_000,
          },
        );
        const rs = await kube().apps.listNamespacedReplicaSet({ namespace: ns });
        for (const r of handled) {
          const stalled = condition(r, 'Stalled');
          if (stalled?.status === 'True') {
            tally.stalled++;
            const owned = rs.items.filter((x: V1ReplicaSet) =>
              x.metadata?.ownerReferences?.some((o) => o.uid === r.metadata.uid),
            );
            // A stall says what to fix (a field or the object it names) and has touched nothing.
            if (!/spec\.|Service|VirtualService|route|[Tt]emplate|Rollout name/.test(stalled.message ?? ''))
              misbehaved.push(`${r.metadata.name}: Stalled without naming what to fix: ${stalled.message}`);
            if (owned.length > 0 && !/^Progress|deadline/i.test(stalled.reason ?? ''))
              misbehaved.push(
                `${r.metadata.name}: Stalled (${stalled.reason}) but created ${owned.length} ReplicaSets`,
              );
          } else {
            tally.progressing++;
            if (!r.status?.phase)
              misbehaved.push(`${r.metadata.name}: handled but no phase: ${JSON.stringify(r.status)}`);
          }
        }
        expectAlive(controller);
        // Deleting is input too: the finalizer must come off bad and good Rollouts alike.
        for (const name of accepted) {
          await requestJson(kube().kc, {
            method: 'DELETE',
            path: `${collection(ns, 'Rollout')}/${name}`,
          }).catch(() => undefined);
        }
        await waitFor(
          async () => {
            const list = await requestJson<{ items: Rollout[] }>(kube().kc, {
              method: 'GET',
              path: collection(ns, 'Rollout'),
            });
            return list.items.length === 0 || undefined;
          },
          {
            description: `batch ${start / BATCH}'s Rollouts to be deleted (finalizers removed)`,
            timeout: 90_000,
          },
        );
        const rss = controller.proc.pid ? rssMiB(controller.proc.pid) : undefined;
        if (rss !== undefined) afterBatch.push(rss);
      }
      memory.stop();
      console.log(
        `fuzz: ${submitted} objects: ${tally.rejected} rejected, ${tally.templatesAccepted} templates accepted, ` +
          `${tally.stalled} Rollouts Stalled, ${tally.progressing} progressing; ` +
          `controller RSS MiB first/median/last/max: ${memory.samples[0]?.toFixed(0)}/${median(memory.samples).toFixed(0)}/` +
          `${memory.samples.at(-1)?.toFixed(0)}/${Math.max(...memory.samples).toFixed(0)}; ` +
          `after each batch: ${afterBatch.map((x) => x.toFixed(0)).join(' ')}`,
      );

      expect(submitted).toBeGreaterThanOrEqual(FUZZ_PROFILE === 'full' ? 5000 : 500);
      expect(refusedBadly, 'rejections that are not a 4xx naming the changed field').toEqual([]);
      expect(misbehaved, 'accepted objects the controller handled badly').toEqual([]);
      expectAlive(controller);
      // No fuzzed Rollout is a release of an existing one: traffic never moved.
      expect(weights()).toEqual([0]);
      // Memory is flat: after two batches of warm-up (informers filled, code loaded) the controller
      // holds no more at the end than it did early on, with room for GC. Sampled per batch, so a
      // loaded machine that slows the warm-up cannot pass for growth.
      const warm = afterBatch.slice(2);
      const third = Math.max(1, Math.floor(warm.length / 3));
      const early = median(warm.slice(0, third));
      const late = median(warm.slice(-third));
      expect(late, `RSS grew from ${early.toFixed(0)} MiB to ${late.toFixed(0)} MiB`).toBeLessThan(
        early * 1.5 + 40,
      );
      const fatal = controller
        .lines()
        .filter((l) => Number(l.level) >= 60 || /uncaught|unhandled/i.test(String(l.msg)));
      expect(fatal).toEqual([]);
    },
    FUZZ_PROFILE === 'full' ? 3_600_000 : 420_000,
  );

  it('kubectl sluice answers any argv with an exit code and one clear line, never a stack trace', async () => {
    const ns = await freshNamespace('fuzzcli');
    await apply(canaryApp(ns, { steps: [{ setWeight: 20 }, { pause: {} }], replicas: 1 }));
    await startController(ns);
    const argvs = fc.sample(cliArgv(['web', 'nope']), { seed: FUZZ_SEED + 2, numRuns: COUNTS.cli });
    const bad: string[] = [];
    const codes = [0, 0, 0];
    for (const argv of argvs) {
      const run = await cli(ns, argv);
      const problems = [
        ![0, 1, 2].includes(run.code) && `exit ${run.code}`,
        run.code !== 0 && !/^(error: |kubectl sluice: )/.test(run.err) && 'no leading "error:" line',
        /\n\s+at .+:\d+:\d+/.test(run.err) && 'stack trace',
        /TypeError|ReferenceError|Cannot read properties|is not a function/.test(run.err) && 'internal error',
      ].filter(Boolean);
      codes[run.code] = (codes[run.code] ?? 0) + 1;
      if (problems.length) bad.push(`${JSON.stringify(argv)} → ${problems.join(', ')}: ${run.err}`);
    }
    console.log(`fuzz cli: ${argvs.length} argv: exit 0 ×${codes[0]}, 1 ×${codes[1]}, 2 ×${codes[2]}`);
    expect(bad).toEqual([]);
  });
});
