import { getRollout, patchRolloutStatus } from '../api.ts';
import type { SignalCommand } from '../args.ts';
import { CliError } from '../errors.ts';
import type { Io } from '../io.ts';
import type { Kube } from '../kube.ts';
import type { Rollout } from '../model.ts';

type Status = NonNullable<Rollout['status']>;

/** A release is under way: moving or held, or a new revision not yet stable (e.g. between steps). */
export function releaseInProgress(status: Status | undefined): boolean {
  if (!status) return false;
  if (status.phase === 'Progressing' || status.phase === 'Paused') return true;
  return (
    status.currentRevision !== undefined &&
    status.stableRevision !== undefined &&
    status.currentRevision !== status.stableRevision &&
    status.abort !== true
  );
}

function phaseOf(status: Status | undefined): string {
  return status?.phase ?? 'unknown: the controller has not reported on it yet';
}

/**
 * Why a signal makes no sense for the Rollout as it stands, or undefined when it may be sent. The
 * controller re-checks on its side; this only spares people a request that would silently do nothing.
 */
export function signalRefusal(command: SignalCommand, rollout: Rollout): string | undefined {
  const name = rollout.metadata.name ?? '';
  const status = rollout.status;
  const phase = phaseOf(status);
  switch (command) {
    case 'promote':
      if (status?.phase === 'Healthy' && !releaseInProgress(status)) {
        return `nothing to promote: rollout "${name}" is Healthy with no release in progress`;
      }
      return undefined;
    case 'abort':
      if (status?.abort === true) {
        return `rollout "${name}" is already aborted (kubectl sluice retry ${name} starts the release again)`;
      }
      if (!releaseInProgress(status)) {
        return `nothing to abort: rollout "${name}" has no release in progress (phase: ${phase})`;
      }
      return undefined;
    case 'retry':
      if (status?.abort !== true)
        return `nothing to retry: rollout "${name}" is not aborted (phase: ${phase})`;
      return undefined;
    case 'pause':
      if (status?.phase === 'Paused' && status.pause?.reason === 'Manual') {
        return `rollout "${name}" is already paused (kubectl sluice resume ${name} lets it continue)`;
      }
      return undefined;
    case 'resume':
      if (status?.phase !== 'Paused') return `rollout "${name}" is not paused (phase: ${phase})`;
      return undefined;
    case 'restart':
      // Any time, as Argo's: a restart asked during a release replaces the canary's pods too.
      return undefined;
  }
}

/** The merge patch for the status subresource: only the one signal, so nothing else in status is touched. */
export function signalPatch(command: SignalCommand, requestedAt: Date, by: string, full = false): object {
  const signal: Record<string, unknown> = { requestedAt: requestedAt.toISOString(), by };
  if (command === 'promote' && full) signal.full = true;
  return { status: { signals: { [command]: signal } } };
}

export async function runSignal(
  kube: Kube,
  io: Io,
  command: SignalCommand,
  name: string,
  full = false,
): Promise<number> {
  const rollout = await getRollout(kube, name);
  const refusal = signalRefusal(command, rollout);
  if (refusal !== undefined) throw new CliError(refusal);
  await patchRolloutStatus(kube, name, signalPatch(command, io.now(), kube.identity.user, full));
  const what = command === 'promote' && full ? 'full promotion' : command;
  io.out(
    command === 'restart'
      ? `rollout "${name}": restart requested; the controller replaces its pods created before now, one at a time`
      : `rollout "${name}": ${what} requested; the controller acts on it at its next reconcile`,
  );
  return 0;
}
