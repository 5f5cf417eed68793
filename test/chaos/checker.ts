import type { KubernetesObject } from '@kubernetes/client-node';
import { onTestFinished } from 'vitest';
import { kubeSource, ResilientInformer } from '../../controller/kube/informer.ts';
import type { VirtualService } from '../../controller/traffic/virtual-service.ts';
import type { AnalysisRun, HistoryEntry, Rollout } from '../../crds/index.ts';
import { kube } from '../harness/kube.ts';
import { waitFor } from '../harness/wait.ts';
import { getRollout, getVirtualService } from '../support/apps.ts';

/**
 * What a Rollout's release must end in. `promote`: Healthy on the new revision. `abort`: the new
 * revision is bad; Degraded, canary at weight 0, never promoted, never above `maxCanaryWeight`.
 * `manual`: held at a manual pause; neither promoted nor above `maxCanaryWeight` until
 * `allowPromotion`, then Healthy on the new revision.
 */
export type Outcome = 'promote' | 'abort' | 'manual';

interface Tracked {
  outcome: Outcome;
  stableBefore: string;
  maxCanaryWeight: number;
  promotionAllowed: boolean;
  history: HistoryEntry[];
}

export interface Breach {
  at: string;
  rollout: string;
  rule: string;
  detail: string;
}

export interface CheckerFigures {
  rolloutUpdates: number;
  virtualServiceUpdates: number;
  analysisRuns: number;
  breaches: Breach[];
}

const HISTORY_LIMIT = 10;
const TERMINAL_RUN = new Set(['Successful', 'Failed', 'Inconclusive', 'Error']);

type Watched<T> = T & KubernetesObject;

/**
 * Watches every Rollout, VirtualService and AnalysisRun of a namespace for the whole scenario
 * and records each breach of the release promises the moment it is visible, so a violation that
 * a later reconcile papers over is still caught. `settle` then checks every release's end.
 */
export class ReleaseChecker {
  private readonly tracked = new Map<string, Tracked>();
  private readonly breaches: Breach[] = [];
  private readonly liveRuns = new Map<string, string>();
  private readonly informers: ResilientInformer<KubernetesObject>[] = [];
  private rolloutUpdates = 0;
  private virtualServiceUpdates = 0;
  private readonly runsSeen = new Set<string>();

  constructor(readonly namespace: string) {}

  async start(): Promise<void> {
    const base = (group: string, plural: string) => `/apis/${group}/namespaces/${this.namespace}/${plural}`;
    const rollouts = this.informer<Rollout>(base('sluice.dev/v1alpha1', 'rollouts'), 'chaos-rollouts');
    rollouts.onChange((r, type) => type !== 'delete' && this.onRollout(r));
    const vss = this.informer<VirtualService>(
      base('networking.istio.io/v1', 'virtualservices'),
      'chaos-virtualservices',
    );
    vss.onChange((vs, type) => type !== 'delete' && this.onVirtualService(vs));
    const runs = this.informer<AnalysisRun>(base('sluice.dev/v1alpha1', 'analysisruns'), 'chaos-runs');
    runs.onChange((run, type) => this.onRun(run, type === 'delete'));
    for (const inf of this.informers) inf.start();
    await Promise.all(this.informers.map((inf) => inf.waitForSync()));
    onTestFinished(() => this.stop());
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers.map((inf) => inf.stop()));
  }

  /** Starts holding `name` to `outcome`; call before its new revision is set. */
  expect(name: string, outcome: Outcome, opts: { stableBefore: string; maxCanaryWeight: number }): void {
    this.tracked.set(name, { outcome, promotionAllowed: outcome === 'promote', history: [], ...opts });
  }

  /** A person promoted a `manual` release: from now on promotion is what should happen. */
  allowPromotion(name: string): void {
    const t = this.tracked.get(name);
    if (t) t.promotionAllowed = true;
  }

  figures(): CheckerFigures {
    return {
      rolloutUpdates: this.rolloutUpdates,
      virtualServiceUpdates: this.virtualServiceUpdates,
      analysisRuns: this.runsSeen.size,
      breaches: [...this.breaches],
    };
  }

  /**
   * Waits until every tracked release has reached its end (a release that has not by `timeout`
   * is a breach: stuck), then checks each end against the API server's current objects.
   */
  async settle(timeout: number): Promise<Breach[]> {
    const pending = new Set(this.tracked.keys());
    try {
      await waitFor(
        async () => {
          for (const name of pending) if (await this.ended(name)) pending.delete(name);
          return pending.size === 0 ? true : undefined;
        },
        { description: `every release in ${this.namespace} to end`, timeout, interval: 1000 },
      );
    } catch {
      for (const name of pending) {
        const r = await getRollout(this.namespace, name);
        const { phase, message, currentStepIndex, pause } = r.status ?? {};
        this.breach(name, 'stuck', JSON.stringify({ phase, message, step: currentStepIndex, pause }));
      }
    }
    for (const name of this.tracked.keys()) if (!pending.has(name)) await this.checkEnd(name);
    return [...this.breaches];
  }

  private async ended(name: string): Promise<boolean> {
    const t = this.tracked.get(name) as Tracked;
    const s = (await getRollout(this.namespace, name)).status;
    if (t.outcome === 'abort') return s?.phase === 'Degraded' && s.abort === true;
    return s?.phase === 'Healthy' && s.stableRevision !== t.stableBefore;
  }

  private async checkEnd(name: string): Promise<void> {
    const t = this.tracked.get(name) as Tracked;
    const r = await getRollout(this.namespace, name);
    const weight = canaryWeightOf(await getVirtualService(this.namespace, name));
    const s = r.status;
    if (weight !== 0) this.breach(name, 'end: canary weight', `weight ${weight} after the release ended`);
    if (t.outcome === 'abort') {
      if (s?.stableRevision !== t.stableBefore)
        this.breach(name, 'end: aborted on the old revision', `stable ${s?.stableRevision}`);
      if (s?.history?.at(-1)?.outcome !== 'Aborted')
        this.breach(name, 'end: history', `last entry ${JSON.stringify(s?.history?.at(-1))}`);
    } else {
      if (s?.stableRevision !== s?.currentRevision)
        this.breach(name, 'end: healthy on the new revision', JSON.stringify(s));
      if (s?.history?.at(-1)?.outcome !== 'Promoted')
        this.breach(name, 'end: history', `last entry ${JSON.stringify(s?.history?.at(-1))}`);
    }
  }

  private informer<T>(path: string, name: string): ResilientInformer<Watched<T>> {
    const inf = new ResilientInformer<Watched<T>>(kubeSource(kube().kc, path), { name });
    this.informers.push(inf as unknown as ResilientInformer<KubernetesObject>);
    return inf;
  }

  private onRollout(r: Rollout): void {
    this.rolloutUpdates++;
    const name = r.metadata.name ?? '';
    const t = this.tracked.get(name);
    if (!t || !r.status) return;
    const s = r.status;
    if (s.stableRevision !== t.stableBefore && !t.promotionAllowed)
      this.breach(name, 'never promoted', `stable moved to ${s.stableRevision} (${s.message})`);
    const history = s.history ?? [];
    const problem = historyProblem(t.history, history);
    if (problem) this.breach(name, 'history intact', problem);
    t.history = history;
  }

  private onVirtualService(vs: VirtualService): void {
    this.virtualServiceUpdates++;
    const name = vs.metadata?.name ?? '';
    const t = this.tracked.get(name);
    if (!t || t.promotionAllowed) return;
    const weight = canaryWeightOf(vs);
    if (weight > t.maxCanaryWeight)
      this.breach(name, 'canary within its step', `weight ${weight} > ${t.maxCanaryWeight}`);
  }

  private onRun(run: AnalysisRun, deleted: boolean): void {
    const name = run.metadata.name ?? '';
    this.runsSeen.add(name);
    const { rollout, revision, gate, stepIndex } = run.spec;
    const key = [rollout, revision, gate, stepIndex ?? ''].join('/');
    const live = !deleted && run.spec.terminate !== true && !TERMINAL_RUN.has(run.status?.phase ?? '');
    const other = this.liveRuns.get(key);
    if (live) {
      if (other && other !== name)
        this.breach(rollout, 'no duplicate AnalysisRuns', `${other} and ${name} both running for ${key}`);
      this.liveRuns.set(key, name);
    } else if (other === name) {
      this.liveRuns.delete(key);
    }
  }

  private breach(rollout: string, rule: string, detail: string): void {
    this.breaches.push({ at: new Date().toISOString(), rollout, rule, detail });
  }
}

export function canaryWeightOf(vs: VirtualService): number {
  return vs.spec.http?.[0]?.route?.[1]?.weight ?? 0;
}

const same = (a: HistoryEntry, b: HistoryEntry | undefined) => JSON.stringify(a) === JSON.stringify(b);

/**
 * History is append-only: the next list keeps the previous one as its prefix, except that the
 * oldest entries drop off once the limit is reached, never more than were added. A release is
 * closed once: no two entries share a revision and start.
 */
export function historyProblem(prev: HistoryEntry[], next: HistoryEntry[]): string | undefined {
  const keys = next.map((h) => `${h.revision}@${h.startedAt}`);
  if (new Set(keys).size !== keys.length) return `a release closed twice: ${JSON.stringify(next)}`;
  for (let dropped = 0; dropped <= prev.length; dropped++) {
    const kept = prev.slice(dropped);
    const added = next.length - kept.length;
    const prefix = kept.every((h, i) => same(h, next[i]));
    if (prefix && added >= dropped && (dropped === 0 || next.length === HISTORY_LIMIT)) return undefined;
  }
  return `rewritten: ${JSON.stringify(prev)} -> ${JSON.stringify(next)}`;
}
