// Write-back runs beside the reconciler, never inside it: git is slow and can hang, a release
// must not wait on it. The reconciler's informer changes feed this queue; each pass asks the pure
// `writeBackDue` whether there is work, does it at the edge (discover, credentials, clone, edit,
// push) and records the outcome in status.writeBack and an Event. The status record makes it
// happen once per failed revision, across restarts and replicas.
import type { KubeConfig, V1ReplicaSet } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { POD_TEMPLATE_ANNOTATION, type Rollout, type RolloutStatus } from '../../crds/index.ts';
import { type WriteBackDue, writeBackDue } from '../../machines/write-back.ts';
import type { EventRecorder } from '../kube/events.ts';
import { type QueueObserver, WorkQueue } from '../kube/workqueue.ts';
import { REVISION_LABEL, revisionOf } from '../revision.ts';
import { NotLeaderError } from '../writer.ts';
import { CredentialsError, readCredentials } from './credentials.ts';
import { DiscoveryError, discover, type Repository } from './discover.ts';
import { revertTemplate } from './edit.ts';
import { GitSetupError, GitTransportError, type PushOutcome, pushEdit } from './git.ts';
import { printable } from './git-run.ts';
import { commitMessage } from './message.ts';
import { DEFAULT_POLICY, policyRefusal, transportsOf, type WriteBackPolicy } from './policy.ts';
import { displayUrl, redact } from './redact.ts';
import { type FieldChange, templateDiff } from './template-diff.ts';

export type WriteBackStatus = NonNullable<RolloutStatus['writeBack']>;

export interface WriteBackOptions {
  /** client-go's workqueue metrics for this worker's queue. */
  queueObserver?: QueueObserver;
  kc: KubeConfig;
  store: {
    rollout(namespace: string, name: string): Rollout | undefined;
    replicaSets(namespace: string, name: string): V1ReplicaSet[];
  };
  writer: { writeWriteBack(namespace: string, name: string, w: WriteBackStatus): Promise<Rollout> };
  /** Told of each status write, so the reconciler's next pass reads it. */
  written?: (rollout: Rollout) => void;
  events: EventRecorder;
  logger: Logger;
  /** The controller's --write-back: on for Rollouts that do not say. */
  enabledByDefault: boolean;
  mayRun?: () => boolean;
  now?: () => number;
  /** Bound on one clone-edit-push. Default 60 s. */
  timeoutMs?: number;
  /** Passes a transport failure (network, auth) is retried before it is recorded as Failed. Default 3. */
  attempts?: number;
  argoNamespace?: string;
  /** What the admin allows tenants to point a write-back at. Default: DEFAULT_POLICY. */
  policy?: WriteBackPolicy;
}

export class WriteBackWorker {
  private readonly queue: WorkQueue;
  private readonly failures = new Map<string, number>();

  constructor(private readonly opts: WriteBackOptions) {
    this.queue = new WorkQueue((key) => this.process(key), {
      observer: opts.queueObserver,
      workers: 1,
      backoff: { baseMs: 1_000, capMs: 60_000 },
      onError: (key, err) => {
        if (!(err instanceof NotLeaderError))
          opts.logger.warn(
            { rollout: key, error: (err as Error).message },
            'write-back pass failed; will retry',
          );
      },
    });
  }

  /** Cheap enough for every Rollout change: the pure check decides whether git is touched. */
  consider(rollout: Rollout | undefined): void {
    const { namespace, name } = rollout?.metadata ?? {};
    if (!rollout?.spec || !namespace || !name) return;
    if (writeBackDue(rollout.spec, rollout.status, this.opts.enabledByDefault))
      this.queue.add(`${namespace}/${name}`);
  }

  shutdown(): Promise<void> {
    return this.queue.shutdown();
  }

  async process(key: string): Promise<void> {
    if (this.opts.mayRun && !this.opts.mayRun()) return;
    const [namespace, name] = key.split('/') as [string, string];
    const rollout = this.opts.store.rollout(namespace, name);
    const due = rollout && writeBackDue(rollout.spec, rollout.status, this.opts.enabledByDefault);
    if (!rollout || !due) return;
    // Git (or a person) already moved the template on: nothing of ours to revert.
    // A template that lives in a Deployment (workloadRef) is not in the Rollout's file to revert.
    if (!rollout.spec.template || revisionOf(rollout.spec.template) !== due.failedRevision) return;
    const attemptKey = `${key}@${due.failedRevision}`;
    let outcome: WriteBackStatus;
    try {
      outcome = await this.writeBack(rollout, due);
    } catch (err) {
      // No git or no temp dir: a fault of the controller's environment, said once in status.
      if (err instanceof GitSetupError) outcome = this.failed(due, err.message);
      else if (!(err instanceof GitTransportError)) throw err;
      else outcome = this.transportFailure(attemptKey, due, err);
    }
    this.failures.delete(attemptKey);
    await this.record(rollout, due, outcome);
  }

  /** Retried (by throwing) until attempts run out, then recorded; git's own words go to the log only. */
  private transportFailure(attemptKey: string, due: WriteBackDue, err: GitTransportError): WriteBackStatus {
    if (err.detail) this.opts.logger.warn({ rollout: attemptKey, git: err.detail }, err.message);
    const tries = (this.failures.get(attemptKey) ?? 0) + 1;
    this.failures.set(attemptKey, tries);
    if (tries < (this.opts.attempts ?? 3)) throw err;
    return this.failed(due, err.message);
  }

  private async writeBack(rollout: Rollout, due: WriteBackDue): Promise<WriteBackStatus> {
    const namespace = rollout.metadata.namespace ?? 'default';
    const name = rollout.metadata.name ?? '';
    const stable = stableTemplate(this.opts.store.replicaSets(namespace, name), due.stableRevision);
    if (!stable)
      return this.failed(
        due,
        `the template of stable revision ${due.stableRevision} is not known (its ReplicaSet is gone)`,
      );
    const changes = templateDiff(stable, rollout.spec.template);
    let repo: Repository;
    let auth: Awaited<ReturnType<typeof readCredentials>> | undefined;
    const policy = this.opts.policy ?? DEFAULT_POLICY;
    try {
      repo = await discover(this.opts.kc, rollout, { argoNamespace: this.opts.argoNamespace });
      // Before any Secret is read: a refused repository never gets credentials.
      const refused = policyRefusal({ ...repo, url: repo.url ?? '', path: repo.path ?? '' }, policy);
      if (refused) return this.failed(due, `write-back refused by policy: ${refused}`);
      auth = repo.secretRef ? await readCredentials(this.opts.kc, repo.secretRef, namespace) : undefined;
    } catch (err) {
      if (err instanceof DiscoveryError || err instanceof CredentialsError)
        return this.failed(due, err.message);
      throw err;
    }
    const url = repo.url as string;
    const path = repo.path ?? '';
    const result = await pushEdit({
      url,
      ...(repo.branch ? { branch: repo.branch } : {}),
      ...(auth ? { auth } : {}),
      timeoutMs: this.opts.timeoutMs ?? 60_000,
      transports: transportsOf(policy),
      message: commitMessage({ namespace, name, ...due, changes }),
      edit: async (read) => {
        const tree = await read(path);
        const edit = revertTemplate(tree.files, { namespace, name }, changes);
        if (edit.ok) return { ok: true, files: edit.files };
        const links = tree.skippedLinks.length
          ? ` (symbolic links are not followed: ${tree.skippedLinks.slice(0, 5).join(', ')})`
          : '';
        return { ok: false, reason: edit.reason, message: `${edit.message} under ${path || '/'}${links}` };
      },
    });
    return this.outcome(due, result, `${displayUrl(url)}${path ? ` ${path}` : ''}`, changes);
  }

  private outcome(due: WriteBackDue, r: PushOutcome, where: string, changes: FieldChange[]): WriteBackStatus {
    const at = new Date((this.opts.now ?? Date.now)()).toISOString();
    if (r.state === 'Failed') return this.failed(due, r.message);
    if (r.state === 'Skipped')
      return { revision: due.failedRevision, state: 'Skipped', message: r.message, at };
    return {
      revision: due.failedRevision,
      state: 'Committed',
      commit: r.commit,
      message: `Committed ${r.commit.slice(0, 12)} to ${where} (branch ${printable(r.branch)}): ${printable(r.files.join(', '), 400)} back to stable revision ${due.stableRevision} (${changes.length} field${changes.length === 1 ? '' : 's'}).`,
      at,
    };
  }

  /** File names from the repository can hold anything: one bounded line, control characters shown as `?`. */
  private failed(due: WriteBackDue, why: string): WriteBackStatus {
    return {
      revision: due.failedRevision,
      state: 'Failed',
      message: `${printable(redact(why), 800)}; nothing was pushed: git still holds the failed revision ${due.failedRevision}.`,
      at: new Date((this.opts.now ?? Date.now)()).toISOString(),
    };
  }

  private async record(rollout: Rollout, due: WriteBackDue, w: WriteBackStatus): Promise<void> {
    const namespace = rollout.metadata.namespace ?? 'default';
    const name = rollout.metadata.name ?? '';
    const written = await this.opts.writer.writeWriteBack(namespace, name, w);
    this.opts.written?.(written);
    const failed = w.state === 'Failed';
    this.opts.events.record(
      {
        apiVersion: rollout.apiVersion,
        kind: rollout.kind,
        name,
        namespace,
        uid: rollout.metadata.uid ?? '',
      },
      {
        type: failed ? 'Warning' : 'Normal',
        reason: `WriteBack${w.state}`,
        action: 'WriteBack',
        note: w.message,
      },
    );
    const log = { namespace, name, revision: due.failedRevision, state: w.state };
    if (failed) this.opts.logger.warn(log, w.message);
    else this.opts.logger.info(log, w.message);
  }
}

function stableTemplate(replicaSets: V1ReplicaSet[], revision: string): unknown {
  const rs = replicaSets.find((r) => r.metadata?.labels?.[REVISION_LABEL] === revision);
  const text = rs?.metadata?.annotations?.[POD_TEMPLATE_ANNOTATION];
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
