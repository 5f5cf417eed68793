import type { V1ReplicaSet, V1Service } from '@kubernetes/client-node';
import type { EventInfo } from '../../controller/kube/events.ts';
import { FINALIZER, type ReconcileDeps, reconcile } from '../../controller/reconcile.ts';
import { REVISION_LABEL } from '../../controller/revision.ts';
import type { VirtualService } from '../../controller/traffic/virtual-service.ts';
import type { World } from '../../controller/world.ts';
import type { Writer } from '../../controller/writer.ts';
import type { AnalysisRun, Rollout } from '../../crds/index.ts';

// The reconcile against an in-memory world: every write the Writer would send is applied to it
// and logged in order, and ReplicaSets become ready at once. A fake, on purpose: these tests
// pin down which writes a pass makes and in what order, in milliseconds; the sandbox suites run
// the same passes against a real API server and Istio's CRDs.
export const NS = 'shop';
export const UID = 'uid-web';
export const NOW = Date.parse('2026-12-06T12:00:00Z');

export function rolloutOf(image: string, canary: Record<string, unknown> = {}): Rollout {
  return {
    apiVersion: 'sluice.dev/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'web', namespace: NS, uid: UID, generation: 1, finalizers: [FINALIZER] },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image }] } },
      strategy: {
        canary: {
          stableService: 'web-stable',
          canaryService: 'web-canary',
          steps: [{ setWeight: 20 }, { analysis: { templates: [{ templateName: 'probe' }] } }, { pause: {} }],
          ...canary,
        },
      },
    },
  } as Rollout;
}

export const ROUTED = { trafficRouting: { istio: { virtualService: { name: 'web' } } } };

const service = (name: string, selector: Record<string, string>): V1Service => ({
  metadata: { name, namespace: NS },
  spec: { selector },
});

const virtualService = (): VirtualService => ({
  metadata: { name: 'web', namespace: NS, resourceVersion: '1' },
  spec: {
    hosts: ['web'],
    http: [
      {
        name: 'primary',
        route: [
          { destination: { host: 'web-stable' }, weight: 100 },
          { destination: { host: 'web-canary' }, weight: 0 },
        ],
      },
    ],
  },
});

export class Sim {
  services = new Map<string, V1Service>([
    ['web-stable', service('web-stable', { app: 'web' })],
    ['web-canary', service('web-canary', { app: 'web' })],
    ['web-baseline', service('web-baseline', { app: 'web' })],
    ['payments', service('payments', { app: 'payments' })],
  ]);
  replicaSets = new Map<string, V1ReplicaSet>();
  runs = new Map<string, AnalysisRun>();
  vs: VirtualService | undefined = virtualService();
  notes: EventInfo[] = [];
  /** ReplicaSets (by name) whose pods never become available. */
  podsHeld = new Set<string>();
  /** Every write, in the order the reconcile sent it. */
  writes: string[] = [];
  now = NOW;

  constructor(public rollout: Rollout) {}

  world: World = {
    rollout: () => this.rollout,
    replicaSets: () =>
      [...this.replicaSets.values()].filter((rs) => rs.metadata?.ownerReferences?.[0]?.uid === UID),
    service: (_, name) => this.services.get(name),
    virtualService: (_, name) => (name === this.vs?.metadata.name ? this.vs : undefined),
    analysisRuns: (_, rollout) => [...this.runs.values()].filter((r) => r.spec.rollout === rollout),
    analysisRun: (_, name) => this.runs.get(name),
    // No workloadRef in these scenarios: the sandbox tests Deployments for real.
    deployment: () => undefined,
    // Subset routing is tested against the real API server (test/sandbox/controller-subsets.test.ts).
    destinationRule: () => undefined,
    // Gateway API routes are tested against the real API server (test/sandbox/controller-gateway-api.test.ts).
    gatewayRoute: () => undefined,
  };

  writer = {
    ensureReplicaSet: async (rs: V1ReplicaSet) => {
      const name = rs.metadata?.name ?? '';
      this.writes.push(`ensure ${name}`);
      const existing = this.replicaSets.get(name);
      if (existing) return existing;
      const replicas = rs.spec?.replicas ?? 0;
      const up = this.podsHeld.has(name) ? 0 : replicas;
      this.replicaSets.set(name, {
        ...rs,
        metadata: { ...rs.metadata, uid: `uid-${name}` },
        status: { replicas, availableReplicas: up, readyReplicas: up },
      });
      return undefined;
    },
    deleteReplicaSet: async (_: string, name: string) => {
      this.writes.push(`delete ${name}`);
      this.replicaSets.delete(name);
    },
    scaleReplicaSet: async (_: string, name: string, replicas: number) => {
      this.writes.push(`scale ${name} ${replicas}`);
      const rs = this.replicaSets.get(name);
      if (rs)
        this.replicaSets.set(name, {
          ...rs,
          spec: { ...rs.spec, replicas } as never,
          status: { replicas, availableReplicas: replicas, readyReplicas: replicas },
        });
    },
    pointService: async (_: string, name: string, revision: string) => {
      this.writes.push(`point ${name} ${revision}`);
      const s = this.services.get(name);
      if (s) s.spec = { ...s.spec, selector: { ...s.spec?.selector, [REVISION_LABEL]: revision } };
    },
    // Only VirtualServices in these scenarios: Gateway API routes are tested on the sandbox.
    patchRoute: async (
      kind: string,
      _: string,
      name: string,
      ops: { op: string; path: string; value?: unknown }[],
    ) => {
      if (kind !== 'VirtualService') throw new Error(`the simulated world has no ${kind}`);
      const canary = ops.find((o) => o.path.endsWith('/route/1/weight'));
      const whole = ops.find((o) => o.path.endsWith('/route'));
      const weights = (whole?.value as { weight?: number }[] | undefined)?.map((d) => d.weight).join('/');
      this.writes.push(whole ? `route ${name} ${weights}` : `weight ${name} ${canary?.value ?? '?'}`);
      for (const op of ops) {
        const [, , , http, , route] = op.path.split('/');
        const routed = this.vs?.spec.http?.[Number(http)];
        if (op.op !== 'test' && routed && route === undefined)
          routed.route = structuredClone(op.value) as never;
        if (op.op === 'test' || http === undefined || route === undefined) continue;
        const slot = this.vs?.spec.http?.[Number(http)]?.route?.[Number(route)];
        if (slot) slot.weight = op.value as number;
      }
      if (this.vs) this.vs.metadata.resourceVersion = String(Number(this.vs.metadata.resourceVersion) + 1);
    },
    createAnalysisRun: async (run: AnalysisRun) => {
      this.writes.push(`create run ${run.metadata.name}`);
      if (!this.runs.has(run.metadata.name ?? '')) this.runs.set(run.metadata.name ?? '', run);
    },
    terminateAnalysisRun: async (_: string, name: string) => {
      this.writes.push(`terminate ${name}`);
    },
    writeStatus: async (rollout: Rollout, status: Rollout['status']) => {
      this.rollout = { ...rollout, status };
      return this.rollout;
    },
    setFinalizers: async (rollout: Rollout, finalizers: string[]) => {
      this.writes.push(`finalizers [${finalizers.join(',')}]`);
      this.rollout = { ...rollout, metadata: { ...rollout.metadata, finalizers } };
    },
  };

  /** The canary weight the VirtualService gives now. */
  weight(): number | undefined {
    return this.vs?.spec.http?.[0]?.route?.[1]?.weight;
  }

  deps(): ReconcileDeps {
    return {
      world: this.world,
      writer: this.writer as unknown as Writer,
      events: { record: async (_: unknown, info: EventInfo) => void this.notes.push(info) } as never,
      now: () => this.now,
    };
  }

  /** One pass. */
  pass() {
    return reconcile(this.deps(), this.rollout);
  }

  /** Reconciles until nothing changes (or `limit` passes), as the work queue would. */
  async settle(limit = 20) {
    let outcome = await this.pass();
    for (let i = 1; i < limit && (outcome.wroteStatus || outcome.actions.length > 0); i++)
      outcome = await this.pass();
    return outcome;
  }

  release(image: string, canary: Record<string, unknown> = {}) {
    this.rollout = { ...this.rollout, spec: rolloutOf(image, canary).spec };
  }

  /** Sets the phase of an AnalysisRun as the analysis runner would. */
  finishRun(name: string, phase: NonNullable<AnalysisRun['status']>['phase']) {
    const run = this.runs.get(name);
    if (run) this.runs.set(name, { ...run, status: { ...run.status, phase } as never });
  }
}
