import { execFileSync } from 'node:child_process';
import { describe, expect, it, onTestFinished } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { requestJson } from '../../controller/kube/client.ts';
import type { Rollout } from '../../crds/index.ts';
import { type ControllerProcess, startController } from '../harness/controller.ts';
import { sandbox } from '../harness/env.ts';
import { kube } from '../harness/kube.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { waitFor } from '../harness/wait.ts';
import {
  apply,
  canaryApp,
  canaryWeight,
  events,
  getRollout,
  kubectlSluice,
  setImage,
  waitForRollout,
} from '../support/apps.ts';
import { ROOT } from '../support/fixtures.ts';

const CONTROLLER_NAMESPACE = 'sluice-system';

function kubectl(...args: string[]): string {
  const env = sandbox();
  return execFileSync(env.KUBECTL, args, {
    cwd: ROOT,
    env: { ...process.env, KUBECONFIG: env.KUBECONFIG },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

interface Lease {
  spec?: { holderIdentity?: string; leaseTransitions?: number };
}

const leasePath = (name: string) =>
  `/apis/coordination.k8s.io/v1/namespaces/${CONTROLLER_NAMESPACE}/leases/${name}`;

async function holder(lease: string): Promise<string | undefined> {
  try {
    return (await requestJson<Lease>(kube().kc, { method: 'GET', path: leasePath(lease) })).spec
      ?.holderIdentity;
  } catch {
    return undefined;
  }
}

/** Status writes a replica logged: the reconcile log line carries the phase it wrote or acted in. */
const reconcileLines = (c: ControllerProcess) => c.lines().filter((l) => 'actions' in l && 'phase' in l);

describe('the controller survives crashes and runs as several replicas', () => {
  it('resumes a timed pause after SIGKILL and honours only the time that was left', async () => {
    const ns = await freshNamespace('crash');
    const pauseSeconds = 20;
    const steps = [
      { setWeight: 20 },
      { pause: { duration: `${pauseSeconds}s` } },
      { setWeight: 50 },
      { pause: {} },
    ];
    await apply(canaryApp(ns, { steps }));
    const first = await startController(ns, { name: 'first' });
    const stable = (await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision'))
      .status?.stableRevision;
    await setImage(ns, 'web:2');
    const paused = await waitForRollout(
      ns,
      (r) =>
        r.status?.pause?.reason === 'Step' &&
        r.status.canary?.weight === 20 &&
        r.status.currentRevision !== stable,
      'the timed pause at weight 20',
    );
    const pauseStart = Date.parse(paused.status?.pause?.startTime ?? '');
    const pauseEnd = pauseStart + pauseSeconds * 1000;
    expect(Date.parse(paused.status?.pause?.resumeAt ?? '')).toBe(pauseEnd);

    // A quarter of the way into the pause the controller dies without a chance to clean up.
    await waitFor(() => Date.now() >= pauseStart + 5_000, { description: '5 s of the pause to pass' });
    await first.kill('SIGKILL');
    const second = await startController(ns, { name: 'second' });
    await second.healthPort();

    const moved = await waitForRollout(
      ns,
      (r) => r.status?.canary?.weight === 50,
      'the release to move past the pause to weight 50',
      { timeout: 60_000 },
    );
    const movedAt = Date.parse(moved.status?.stepStartedAt ?? '');
    // The pause kept its original start: promotion came when it was due, not a full pause later.
    expect(movedAt).toBeGreaterThanOrEqual(pauseEnd);
    expect(movedAt).toBeLessThan(pauseEnd + 5_000);
    expect(Date.now()).toBeLessThan(pauseEnd + pauseSeconds * 1000);
    expect(await canaryWeight(ns)).toBe(50);
    expect(moved.status?.releaseStartedAt).toBe(paused.status?.releaseStartedAt);
    // The restarted controller decided from a complete world: nothing it reads was ever
    // reported missing (a reconcile before its informers synced would say so).
    const missing = (await events(ns)).filter((e) => /NotFound$/.test(e.reason ?? ''));
    expect(missing).toEqual([]);
  });

  it('lets only the leader write; when the leader dies the other replica takes over and finishes', async () => {
    const ns = await freshNamespace('leader');
    const lease = `sluice-${ns}`;
    onTestFinished(async () => {
      await requestJson(kube().kc, { method: 'DELETE', path: leasePath(lease) }).catch(() => undefined);
    });
    await apply(canaryApp(ns, { steps: [{ setWeight: 20 }, { pause: {} }] }));
    const args = [
      '--leader-elect',
      '--leader-election-namespace',
      CONTROLLER_NAMESPACE,
      '--lease-name',
      lease,
    ];
    const replicas = new Map<string, ControllerProcess>();
    for (const id of [`${ns}-a`, `${ns}-b`]) {
      replicas.set(id, await startController(ns, { args, identity: id, name: id }));
    }
    const leaderId = await waitFor(() => holder(lease), { description: `a holder of Lease ${lease}` });
    const followerId = [...replicas.keys()].find((id) => id !== leaderId) as string;
    const leader = replicas.get(leaderId) as ControllerProcess;
    const follower = replicas.get(followerId) as ControllerProcess;

    const first = await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');
    await setImage(ns, 'web:2');
    const paused = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Paused' && r.status.currentRevision !== first.status?.stableRevision,
      'the release to pause at weight 20',
    );
    const canary = paused.status?.currentRevision as string;

    // Readiness does not depend on leadership: both replicas serve /readyz.
    for (const c of [leader, follower]) {
      const res = await fetch(`http://127.0.0.1:${await c.healthPort()}/readyz`);
      expect(res.status).toBe(200);
    }
    // Every Event came from the leader; the follower reconciled nothing and never led.
    const fromRollout = (await events(ns)).filter((e) => e.regarding?.kind === 'Rollout');
    expect(fromRollout.length).toBeGreaterThan(0);
    // The release's progress is told as it happens: the step done and the weight it set.
    const told = async () =>
      (await events(ns)).filter((e) => e.regarding?.kind === 'Rollout').map((e) => `${e.reason}: ${e.note}`);
    await waitFor(
      async () =>
        (await told()).includes('WeightChanged: Canary weight 0% → 20% after step 1 of 2.') &&
        (await told()).includes(`StepCompleted: Step 1 of 2 (setWeight 20) completed for ${canary}.`),
      { description: 'WeightChanged and StepCompleted Events for the first step', timeout: 30_000 },
    );
    expect(new Set(fromRollout.map((e) => e.reportingInstance))).toEqual(new Set([leaderId]));
    expect(reconcileLines(leader).length).toBeGreaterThan(0);
    expect(reconcileLines(follower)).toEqual([]);
    expect(follower.lines().some((l) => l.msg === 'became leader')).toBe(false);
    // Each replica writes as field manager sluice/<identity>: only the leader's appears.
    const fields = ((await getRollout(ns)).metadata.managedFields ?? []) as { manager?: string }[];
    const managers = fields.map((f) => f.manager);
    expect(managers).toContain(`sluice/${leaderId}`);
    expect(managers).not.toContain(`sluice/${followerId}`);

    // The leader dies without releasing the Lease; the follower takes it when it expires.
    await leader.kill('SIGKILL');
    await waitFor(async () => (await holder(lease)) === followerId, {
      description: `${followerId} to take Lease ${lease}`,
      timeout: 60_000,
    });
    const run = await kubectlSluice(ns, 'promote', 'web');
    expect(run, run.err).toMatchObject({ code: 0 });
    const done: Rollout = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy' && r.status.stableRevision === canary,
      'the new leader to finish the release',
      { timeout: 60_000 },
    );
    expect(done.status?.history?.at(-1)).toMatchObject({ revision: canary, outcome: 'Promoted' });
    expect(reconcileLines(follower).length).toBeGreaterThan(0);
    const promoted = (await events(ns)).find((e) => e.reason === 'ReleasePromoted');
    expect(promoted?.reportingInstance).toBe(followerId);
  });

  it('hands the Lease over at once on SIGTERM: the leader stops gracefully and releases it', async () => {
    const ns = await freshNamespace('handover');
    const lease = `sluice-${ns}`;
    onTestFinished(async () => {
      await requestJson(kube().kc, { method: 'DELETE', path: leasePath(lease) }).catch(() => undefined);
    });
    await apply(canaryApp(ns, { steps: [{ setWeight: 20 }, { pause: {} }] }));
    const args = [
      '--leader-elect',
      '--leader-election-namespace',
      CONTROLLER_NAMESPACE,
      '--lease-name',
      lease,
    ];
    const a = await startController(ns, { args, identity: `${ns}-a`, name: 'a' });
    const leaderId = await waitFor(
      async () => ((await holder(lease)) === `${ns}-a` ? `${ns}-a` : undefined),
      {
        description: `replica a to take Lease ${lease}`,
      },
    );
    await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');
    const b = await startController(ns, { args, identity: `${ns}-b`, name: 'b' });
    await b.healthPort();
    expect(await holder(lease)).toBe(leaderId);

    const stoppedAt = Date.now();
    expect(await a.kill('SIGTERM')).toBe(0);
    // Released, so the successor need not wait out the 15 s lease.
    await waitFor(async () => (await holder(lease)) === `${ns}-b`, {
      description: `replica b to take Lease ${lease}`,
      timeout: 30_000,
    });
    expect(Date.now() - stoppedAt).toBeLessThan(10_000);
    await setImage(ns, 'web:2');
    await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Paused',
      'replica b to run the release to its pause',
    );
    expect(reconcileLines(b).length).toBeGreaterThan(0);
  });

  it('installs with `kubectl apply -k deploy/`, least privilege and no wildcards', () => {
    const out = kubectl('apply', '-k', 'deploy/', '--dry-run=server');
    for (const kind of [
      'customresourcedefinition.apiextensions.k8s.io/rollouts.sluice.dev',
      'serviceaccount/sluice',
      'clusterrole.rbac.authorization.k8s.io/sluice-controller',
      'clusterrolebinding.rbac.authorization.k8s.io/sluice-controller',
      'deployment.apps/sluice-controller',
    ]) {
      expect(out).toContain(kind);
    }
    const docs = parseAllDocuments(kubectl('kustomize', 'deploy/')).map((d) => d.toJS());
    const roles = docs.filter((d) => d.kind === 'ClusterRole' || d.kind === 'Role');
    expect(roles.length).toBeGreaterThan(0);
    for (const role of roles) {
      for (const rule of role.rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[]) {
        expect([...rule.apiGroups, ...rule.resources, ...rule.verbs]).not.toContain('*');
      }
    }
    const deployment = docs.find((d) => d.kind === 'Deployment');
    expect(deployment.metadata.namespace).toBe(CONTROLLER_NAMESPACE);
    expect(deployment.spec.template.spec.serviceAccountName).toBe('sluice');
  });
});
