import type { KubernetesObject } from '@kubernetes/client-node';
import { onTestFinished } from 'vitest';
import { kubeSource, ResilientInformer } from '../../controller/kube/informer.ts';
import { FIELD_MANAGER } from '../../controller/writer.ts';
import { kube } from '../harness/kube.ts';

export interface Write {
  identity: string;
  /** managedFields time: the API server's clock, whole seconds. */
  at: number;
  object: string;
}

export interface Tenure {
  identity: string;
  /** The Lease's acquireTime for this holder. */
  from: number;
  /** When it stopped leading (killed), or undefined while it leads. */
  to?: number;
}

const PREFIX = `${FIELD_MANAGER}/`;

/**
 * Every write a replica makes, read back from the objects' managedFields: each replica writes as
 * `sluice/<identity>`, and the API server stamps an entry's time whenever that manager changes
 * the object. Watches every kind the controller writes in the namespace.
 */
export class WriteAudit {
  readonly writes: Write[] = [];
  private readonly seen = new Map<string, string>();
  private readonly informers: ResilientInformer<KubernetesObject>[] = [];

  constructor(private readonly namespace: string) {}

  async start(): Promise<void> {
    const ns = this.namespace;
    for (const path of [
      `/apis/sluice.dev/v1alpha1/namespaces/${ns}/rollouts`,
      `/apis/sluice.dev/v1alpha1/namespaces/${ns}/analysisruns`,
      `/apis/networking.istio.io/v1/namespaces/${ns}/virtualservices`,
      `/apis/apps/v1/namespaces/${ns}/replicasets`,
      `/api/v1/namespaces/${ns}/services`,
    ]) {
      const inf = new ResilientInformer<KubernetesObject>(kubeSource(kube().kc, path), {
        name: `audit ${path}`,
        untrimmed: true,
      });
      inf.onChange((o, type) => type !== 'delete' && this.record(o));
      this.informers.push(inf);
      inf.start();
    }
    await Promise.all(this.informers.map((i) => i.waitForSync()));
    onTestFinished(() => Promise.all(this.informers.map((i) => i.stop())).then(() => undefined));
  }

  private record(o: KubernetesObject): void {
    const object = `${o.kind ?? ''}/${o.metadata?.name}`;
    for (const f of o.metadata?.managedFields ?? []) {
      if (!f.manager?.startsWith(PREFIX) || !f.time) continue;
      const key = `${o.metadata?.uid}/${f.manager}/${f.subresource ?? ''}`;
      const time = String(f.time);
      if (this.seen.get(key) === time) continue;
      this.seen.set(key, time);
      this.writes.push({ identity: f.manager.slice(PREFIX.length), at: Date.parse(time), object });
    }
  }
}

/**
 * Writes made outside their replica's leadership. managedFields time has whole seconds, so a
 * write counts as inside a tenure within a second of its ends.
 */
export function writesOutsideLeadership(writes: Write[], tenures: Tenure[], now = Date.now()): Write[] {
  const slack = 1000;
  return writes.filter(
    (w) =>
      !tenures.some(
        (t) => t.identity === w.identity && w.at >= t.from - slack && w.at <= (t.to ?? now) + slack,
      ),
  );
}
