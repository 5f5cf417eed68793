// Controller speed on the real sandbox API server:
//   1. first weight: from the canary ReplicaSet being ready to the VirtualService's first
//      canary weight (target: under 1 s);
//   2. per step: controller CPU time per canary step, over a 10-step canary whose pauses are
//      1 ms (so each step is its own reconcile) with ready pods (target: under 50 ms).
// Usage: npx tsx bench/controller-steps.ts [releases=5]   (brings the sandbox up if needed)
import { randomBytes } from 'node:crypto';
import type { KubernetesObject, V1ReplicaSet } from '@kubernetes/client-node';
import { applyPatch, loadKubeConfig, requestJson } from '../controller/kube/client.ts';
import { kubeSource, ResilientInformer } from '../controller/kube/informer.ts';
import { createLogger } from '../controller/log.ts';
import { runController } from '../controller/main.ts';
import { sluiceMetrics } from '../controller/server.ts';
import type { VirtualService } from '../controller/traffic/virtual-service.ts';
import { canaryApp, objectPath } from '../sandbox/apps.ts';
import { sandboxEnv, sandboxHealthy, up } from '../sandbox/lifecycle.ts';
import { percentile } from './stats.ts';

const releases = Number(process.argv[2] ?? 5);

async function main() {
  const env = (await sandboxHealthy()) ? sandboxEnv() : await up();
  const kc = loadKubeConfig({ kubeconfig: env.KUBECONFIG });
  const ns = `bench-${randomBytes(3).toString('hex')}`;
  await requestJson(kc, { method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name: ns } } });
  const steps = Array.from({ length: 10 }, (_, i) => [
    { setWeight: (i + 1) * 10 },
    { pause: { duration: '1ms' } },
  ]).flat();
  for (const obj of canaryApp(ns, { steps })) {
    await applyPatch(kc, objectPath(obj), obj, { fieldManager: 'bench', force: true });
  }

  // Watches see what the cluster saw: canary readiness and every weight, with arrival times.
  const weights: { at: number; weight: number }[] = [];
  const vsInformer = new ResilientInformer<VirtualService & KubernetesObject>(
    kubeSource(kc, `/apis/networking.istio.io/v1/namespaces/${ns}/virtualservices`),
  );
  vsInformer.onChange((vs) => {
    const w = vs.spec.http?.[0]?.route?.[1]?.weight ?? 0;
    if (weights.at(-1)?.weight !== w) weights.push({ at: performance.now(), weight: w });
  });
  const readyAt = new Map<string, number>();
  const rsInformer = new ResilientInformer<V1ReplicaSet>(
    kubeSource(kc, `/apis/apps/v1/namespaces/${ns}/replicasets`),
  );
  rsInformer.onChange((rs) => {
    const name = rs.metadata?.name ?? '';
    if (
      !readyAt.has(name) &&
      (rs.status?.availableReplicas ?? 0) >= (rs.spec?.replicas ?? 1) &&
      (rs.spec?.replicas ?? 0) > 0
    ) {
      readyAt.set(name, performance.now());
    }
  });
  vsInformer.start();
  rsInformer.start();
  await Promise.all([vsInformer.waitForSync(), rsInformer.waitForSync()]);

  const controller = await runController({
    kubeconfig: env.KUBECONFIG,
    namespace: ns,
    metricsAddr: '127.0.0.1:0',
    healthAddr: '127.0.0.1:0',
    workers: 2,
    logger: createLogger({ level: 'warn' }),
  });
  const rollout = () =>
    requestJson<{ status?: { phase?: string; stableRevision?: string; currentRevision?: string } }>(kc, {
      method: 'GET',
      path: `/apis/sluice.dev/v1alpha1/namespaces/${ns}/rollouts/web`,
    });
  const until = async (check: () => Promise<boolean>, what: string) => {
    const deadline = Date.now() + 120_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await until(async () => (await rollout()).status?.phase === 'Healthy', 'the first revision');

  const firstWeight: number[] = [];
  const cpuPerStep: number[] = [];
  const reconcilePerStep: number[] = [];
  for (let i = 0; i < releases; i++) {
    const before = (await rollout()).status?.stableRevision;
    weights.length = 0;
    const cpu0 = process.cpuUsage();
    const hist0 = await reconcileSeconds();
    await requestJson(kc, {
      method: 'PATCH',
      path: `/apis/sluice.dev/v1alpha1/namespaces/${ns}/rollouts/web`,
      contentType: 'application/json-patch+json',
      body: [
        {
          op: 'replace',
          path: '/spec/template/spec/containers/0/image',
          value: `web:bench-${i}-${Date.now()}`,
        },
      ],
    });
    await until(
      async () => {
        const s = (await rollout()).status;
        return s?.phase === 'Healthy' && s.stableRevision !== before;
      },
      `release ${i + 1}`,
    );
    const cpu = process.cpuUsage(cpu0);
    const hist = await reconcileSeconds();
    const current = (await rollout()).status?.currentRevision ?? '';
    const ready = readyAt.get(`web-${current}`);
    const first = weights.find((w) => w.weight > 0);
    if (ready !== undefined && first) firstWeight.push(first.at - ready);
    // In-process, so CPU includes the bench's own two watches: an upper bound on the controller's.
    cpuPerStep.push((cpu.user + cpu.system) / 1000 / 10);
    reconcilePerStep.push(((hist - hist0) * 1000) / 10);
    const seen = weights.filter((w) => w.weight > 0).map((w) => w.weight);
    if (seen.length !== 10) console.warn(`release ${i + 1}: VirtualService showed weights ${seen.join(',')}`);
  }
  await controller.stop();
  await vsInformer.stop();
  await rsInformer.stop();
  await requestJson(kc, { method: 'DELETE', path: `/api/v1/namespaces/${ns}` });

  const row = (name: string, xs: number[], target: string) =>
    `| ${name} | ${percentile(xs, 50).toFixed(1)} ms | ${percentile(xs, 100).toFixed(1)} ms | ${target} |`;
  console.log(`releases: ${releases} (10 steps each)\n`);
  console.log('| measure | median | max | target |\n| --- | --- | --- | --- |');
  console.log(row('canary ready → first weight on the VirtualService', firstWeight, '< 1000 ms'));
  console.log(row('controller CPU per step (process CPU / steps)', cpuPerStep, '< 50 ms'));
  console.log(row('reconcile wall time per step (histogram sum / steps)', reconcilePerStep, '< 50 ms'));
}

async function reconcileSeconds(): Promise<number> {
  const metric = await sluiceMetrics.reconcileDuration.get();
  return metric.values.find((v) => v.metricName === 'sluice_reconcile_duration_seconds_sum')?.value ?? 0;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
