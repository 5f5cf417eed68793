import { describe, expect, it, onTestFinished } from 'vitest';
import { requestJson } from '../../controller/kube/client.ts';
import { type ControllerProcess, startController } from '../harness/controller.ts';
import { sandbox } from '../harness/env.ts';
import { kube } from '../harness/kube.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { waitFor } from '../harness/wait.ts';
import { ReleaseChecker } from './checker.ts';
import { deployFleet, firstRevisions, promoteManuals, releaseFleet } from './fleet.ts';
import { COUNTS, recordFigures } from './profile.ts';
import { type Tenure, WriteAudit, writesOutsideLeadership } from './writes.ts';

const LEASE_NAMESPACE = 'sluice-system';
/** The controller's default lease duration (controller/kube/leader.ts). */
const LEASE_MS = 15_000;

interface Lease {
  spec?: { holderIdentity?: string; acquireTime?: string };
}

const leasePath = (name: string) =>
  `/apis/coordination.k8s.io/v1/namespaces/${LEASE_NAMESPACE}/leases/${name}`;

async function lease(name: string): Promise<Lease['spec'] | undefined> {
  try {
    return (await requestJson<Lease>(kube().kc, { method: 'GET', path: leasePath(name) })).spec;
  } catch {
    return undefined;
  }
}

describe('two replicas with leader election, the leader killed again and again', () => {
  it(`a standby takes over within the lease duration + 2 s, ${COUNTS.leaderKills} times; only the leader writes`, async () => {
    const ns = await freshNamespace('chaos-leader');
    const leaseName = `sluice-${ns}`;
    onTestFinished(async () => {
      await requestJson(kube().kc, { method: 'DELETE', path: leasePath(leaseName) }).catch(() => undefined);
    });
    const checker = new ReleaseChecker(ns);
    await checker.start();
    const audit = new WriteAudit(ns);
    await audit.start();
    // Long holds keep releases in flight across several takeovers.
    const members = await deployFleet(ns, {
      promote: 3,
      abort: 2,
      manual: 2,
      gate: 'background',
      holdSeconds: 30,
    });
    const args = [
      '--leader-elect',
      '--leader-election-namespace',
      LEASE_NAMESPACE,
      '--lease-name',
      leaseName,
      '--prometheus-url',
      sandbox().PROMETHEUS_URL,
    ];
    const replicas = new Map<string, ControllerProcess>();
    let started = 0;
    const startReplica = async (identity: string) => {
      const c = await startController(ns, { args, identity, name: `${identity}-${++started}` });
      replicas.set(identity, c);
      await c.healthPort();
    };
    const ids = [`${ns}-a`, `${ns}-b`];
    for (const id of ids) await startReplica(id);

    const tenures: Tenure[] = [];
    const holderNow = async () => {
      const spec = await lease(leaseName);
      const holder = spec?.holderIdentity;
      if (holder && tenures.at(-1)?.identity !== holder) {
        const last = tenures.at(-1);
        if (last && last.to === undefined) last.to = Date.now();
        tenures.push({ identity: holder, from: Date.parse(spec.acquireTime ?? '') || Date.now() });
      }
      return holder;
    };
    await waitFor(holderNow, { description: `a holder of Lease ${leaseName}` });

    const stable = await firstRevisions(ns, members);
    await releaseFleet(ns, members, stable, checker);
    const promoted = promoteManuals(ns, members, stable, checker).then(
      () => undefined,
      (err: unknown) => err,
    );

    const takeoversMs: number[] = [];
    for (let i = 0; i < COUNTS.leaderKills; i++) {
      const leaderId = (await holderNow()) as string;
      const standby = ids.find((id) => id !== leaderId) as string;
      const killedAt = Date.now();
      await replicas.get(leaderId)?.kill('SIGKILL');
      const last = tenures.at(-1);
      if (last) last.to = killedAt;
      await waitFor(async () => (await holderNow()) === standby, {
        description: `${standby} to take Lease ${leaseName} (kill ${i + 1})`,
        timeout: 60_000,
        interval: 100,
      });
      takeoversMs.push(Date.now() - killedAt);
      // The killed replica comes back under its own name, as a restarted pod would, as standby.
      await startReplica(leaderId);
    }

    const promoteError = await promoted;
    if (promoteError) throw promoteError;
    const breaches = await checker.settle(240_000);
    await holderNow();
    const outside = writesOutsideLeadership(audit.writes, tenures);
    recordFigures('leader-failover', {
      leaderKills: takeoversMs.length,
      takeoversMs,
      maxTakeoverMs: Math.max(...takeoversMs),
      writesAudited: audit.writes.length,
      writesOutsideLeadership: outside.length,
      tenures: tenures.length,
      ...checker.figures(),
    });
    expect(breaches).toEqual([]);
    expect(outside).toEqual([]);
    // Both identities wrote at some point: the audit sees every replica that led.
    expect(new Set(audit.writes.map((w) => w.identity))).toEqual(new Set(ids));
    for (const ms of takeoversMs) expect(ms).toBeLessThanOrEqual(LEASE_MS + 2_000);
    expect(takeoversMs).toHaveLength(COUNTS.leaderKills);
  });
});
