import { restartOwed } from '../../machines/restart.ts';
import type { PodView, RevisionView, Rollout, StatusView } from '../model.ts';
import { age, describeStep, humanDuration, stepProgress, strategyOf } from './format.ts';
import { type Paint, PLAIN, paintPhase } from './paint.ts';
import { renderTree, type TreeNode } from './tree.ts';

type RolloutStatus = NonNullable<Rollout['status']>;
type AnalysisRef = NonNullable<RolloutStatus['analysis']>;

const SIGNAL_NAMES = ['promote', 'abort', 'retry', 'pause', 'resume', 'restart'] as const;

/** The `get rollout` tree: a pure function of the gathered objects, the clock and the colours. */
export function renderStatus(view: StatusView, now: Date, paint: Paint = PLAIN): string {
  const { rollout } = view;
  const name = rollout.metadata.name ?? '';
  const status = rollout.status;
  const children: TreeNode[] = [phaseNode(status, paint), strategyNode(rollout)];
  if (status?.pause) children.push(pauseNode(name, status.pause, now));
  if (status?.analysis) children.push(analysisNode('Analysis', status.analysis, view.detectability, paint));
  if (status?.backgroundAnalysis)
    children.push(analysisNode('Background analysis', status.backgroundAnalysis, view.detectability, paint));
  const signals = signalsNode(status, now);
  if (signals) children.push(signals);
  const restart = restartNode(rollout, now);
  if (restart) children.push(restart);
  children.push(revisionsNode(view, now, paint));
  children.push(eventsNode(view, now, paint));
  if (status?.history?.length) children.push(historyNode(status, now, paint));
  return renderTree({ label: `Rollout ${name} (namespace ${rollout.metadata.namespace ?? '?'})`, children });
}

function phaseNode(status: RolloutStatus | undefined, paint: Paint): TreeNode {
  if (!status?.phase)
    return { label: 'Phase: unknown (the controller has not reported on this Rollout yet)' };
  const aborted = status.abort ? ' (aborted)' : '';
  const message = status.message ? ` — ${status.message}` : '';
  return { label: `Phase: ${paintPhase(paint, status.phase)}${aborted}${message}` };
}

function strategyNode(rollout: Rollout): TreeNode {
  const status = rollout.status;
  const strategy = strategyOf(rollout);
  const children: TreeNode[] = [];
  const canary = rollout.spec?.strategy?.canary;
  const blueGreen = rollout.spec?.strategy?.blueGreen;
  if (canary) {
    const progress = stepProgress(rollout);
    const steps = canary.steps ?? [];
    const index = status?.currentStepIndex;
    if (progress === undefined) {
      children.push({ label: 'Step: none (promotes as soon as the new revision is ready)' });
    } else {
      const step = index === undefined ? undefined : steps[index];
      const what = step
        ? describeStep(step)
        : index !== undefined && index >= steps.length
          ? 'all steps done'
          : '';
      children.push({ label: `Step: ${progress}${what ? ` ${what}` : ''}` });
    }
    const weight = status?.canary?.weight;
    children.push({ label: `Canary weight: ${weight === undefined ? '-' : `${weight}%`}` });
  }
  if (blueGreen) {
    children.push({ label: `Active revision: ${status?.blueGreen?.activeRevision ?? '-'}` });
    children.push({ label: `Preview revision: ${status?.blueGreen?.previewRevision ?? '-'}` });
    const auto = blueGreen.autoPromotionEnabled ?? true;
    const after =
      blueGreen.autoPromotionSeconds === undefined ? '' : ` after ${blueGreen.autoPromotionSeconds}s`;
    children.push({ label: `Auto-promotion: ${auto ? `on${after}` : 'off (promote by hand)'}` });
  }
  return { label: `Strategy: ${strategy}`, children };
}

function pauseNode(name: string, pause: NonNullable<RolloutStatus['pause']>, now: Date): TreeNode {
  let until: string;
  if (pause.resumeAt !== undefined) {
    const left = Date.parse(pause.resumeAt) - now.getTime();
    until = Number.isNaN(left)
      ? `until ${pause.resumeAt}`
      : left > 0
        ? `${humanDuration(left)} remaining`
        : 'due now';
  } else if (pause.reason === 'Manual') {
    until = `until \`kubectl sluice resume ${name}\``;
  } else if (pause.reason === 'SharedIncident') {
    until = 'until the shared incident ends (resumes by itself)';
  } else {
    until = `until \`kubectl sluice promote ${name}\``;
  }
  const message = pause.message ? ` — ${pause.message}` : '';
  return { label: `Paused: ${pause.reason}, since ${age(pause.startTime, now)} ago, ${until}${message}` };
}

function analysisNode(
  title: string,
  ref: AnalysisRef,
  seen: StatusView['detectability'],
  paint: Paint,
): TreeNode {
  const label = `${title}: ${ref.name} ${paintPhase(paint, ref.phase)}${ref.message ? ` — ${ref.message}` : ''}`;
  const d = seen?.[ref.name];
  if (!d) return { label };
  const children: TreeNode[] = [{ label: `What it can see: ${d.message}` }];
  if (d.basis) children.push({ label: `Assuming ${d.basis}` });
  return { label, children };
}

/** A restart owed (spec.restartAt or `kubectl sluice restart`), or the last one done. */
function restartNode(rollout: Rollout, now: Date): TreeNode | undefined {
  const status = rollout.status;
  const owed = restartOwed({
    restartAt: rollout.spec?.restartAt,
    requestedAt: status?.restartRequestedAt,
    restartedAt: status?.restartedAt,
  });
  if (owed !== undefined) {
    const at = Date.parse(owed);
    return {
      label:
        at > now.getTime()
          ? `Restart: due in ${humanDuration(at - now.getTime())} (${owed})`
          : `Restart: replacing the pods created before ${owed}, one at a time`,
    };
  }
  return status?.restartedAt
    ? { label: `Restarted: every pod created after ${status.restartedAt}` }
    : undefined;
}

function signalsNode(status: RolloutStatus | undefined, now: Date): TreeNode | undefined {
  const signals = status?.signals;
  if (!signals) return undefined;
  const children = SIGNAL_NAMES.flatMap((kind) => {
    const s = signals[kind];
    if (!s) return [];
    const full = kind === 'promote' && signals.promote?.full ? ' --full' : '';
    const by = s.by ? ` by ${s.by}` : '';
    return [{ label: `${kind}${full}: requested ${age(s.requestedAt, now)} ago${by}` }];
  });
  return children.length > 0
    ? { label: 'Pending requests (not yet taken up by the controller)', children }
    : undefined;
}

function roleOf(rev: RevisionView, status: RolloutStatus | undefined): string | undefined {
  if (!rev.hash || !status) return undefined;
  const roles: string[] = [];
  if (status.blueGreen) {
    if (rev.hash === status.blueGreen.activeRevision) roles.push('active');
    if (rev.hash === status.blueGreen.previewRevision && rev.hash !== status.blueGreen.activeRevision) {
      roles.push('preview');
    }
  } else {
    if (rev.hash === status.stableRevision) roles.push('stable');
    if (rev.hash === status.currentRevision && rev.hash !== status.stableRevision) roles.push('canary');
  }
  const scaleDown = status.scaleDown?.find((s) => s.revision === rev.hash);
  if (scaleDown) roles.push(`scale-down at ${scaleDown.at}`);
  return roles.length > 0 ? roles.join(', ') : undefined;
}

function podsOf(rev: RevisionView, pods: PodView[]): PodView[] {
  const owned = pods.filter((p) => rev.uid !== undefined && p.ownerUid === rev.uid);
  if (owned.length > 0) return owned;
  return pods.filter((p) => p.ownerUid === undefined && rev.hash !== undefined && p.hash === rev.hash);
}

function podNode(pod: PodView, paint: Paint): TreeNode {
  const mark = pod.ready ? paint.ok('✔') : paint.bad('✖');
  const phase = pod.terminating ? 'Terminating' : pod.phase;
  const ready = pod.ready ? 'ready' : 'not ready';
  const restarts = pod.restarts > 0 ? `, ${pod.restarts} restarts` : '';
  return { label: `${mark} pod ${pod.name} ${phase} ${pod.containers} ${ready}${restarts}` };
}

function revisionsNode(view: StatusView, now: Date, paint: Paint): TreeNode {
  const status = view.rollout.status;
  if (view.revisions.length === 0) return { label: 'Revisions: none yet' };
  const children = view.revisions.map((rev) => {
    const role = roleOf(rev, status);
    const number = rev.number === undefined ? '?' : String(rev.number);
    const label =
      `revision ${number}${role ? ` (${role})` : ''}: ReplicaSet ${rev.name}, ${rev.hash ?? 'no hash'}, ` +
      `${rev.ready}/${rev.desired} ready, ${rev.images.join(', ') || 'no images'}, age ${age(rev.createdAt, now)}`;
    return { label, children: podsOf(rev, view.pods).map((pod) => podNode(pod, paint)) };
  });
  return { label: 'Revisions', children };
}

function eventsNode(view: StatusView, now: Date, paint: Paint): TreeNode {
  if (view.events.length === 0) return { label: 'Events: none' };
  return {
    label: `Events (last ${view.events.length})`,
    children: view.events.map((e) => ({
      label:
        `${age(e.time, now)} ago ${e.type === 'Warning' ? paint.warn(e.type) : e.type} ${e.reason}${e.count > 1 ? ` (×${e.count})` : ''}` +
        `${e.note ? `: ${e.note}` : ''}`,
    })),
  };
}

function historyNode(status: RolloutStatus, now: Date, paint: Paint): TreeNode {
  // Newest first by when each release ended (or began); entries without times keep their reversed order.
  const when = (h: { finishedAt?: string; startedAt?: string }) => h.finishedAt ?? h.startedAt ?? '';
  const entries = [...(status.history ?? [])].reverse().sort((a, b) => when(b).localeCompare(when(a)));
  return {
    label: 'History (newest first)',
    children: entries.map((h) => {
      const when = h.finishedAt ?? h.startedAt;
      const ago = when ? ` ${age(when, now)} ago` : '';
      return {
        label: `${h.revision} ${paintPhase(paint, h.outcome)}${ago}${h.reason ? ` — ${h.reason}` : ''}`,
      };
    }),
  };
}
