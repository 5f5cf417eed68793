import { setTimeout as wait } from 'node:timers/promises';
import { resourcePath } from '../../controller/kube/client.ts';
import { GROUP, VERSION } from '../../crds/common.ts';
import { gatherStatus, getRollout } from '../api.ts';
import { CliError, RolloutNotFound } from '../errors.ts';
import type { Io } from '../io.ts';
import type { Kube } from '../kube.ts';
import { ROLLOUT_LABEL, type StatusView } from '../model.ts';
import { renderStatus } from '../render/status.ts';
import { settled } from '../settled.ts';
import { aborted, keepWatching, stopOn } from '../watch.ts';

/** `get rollout NAME [-w]`: the tree, once or redrawn on every change. */
export async function runGetRollout(kube: Kube, io: Io, name: string, watch: boolean): Promise<number> {
  if (!watch) {
    io.out(renderStatus(await gatherStatus(kube, name), io.now()));
    return 0;
  }
  return watchStatus(kube, io, name);
}

/** How often `status` reads the Rollout while it waits: one GET a second costs the server nothing. */
const POLL_MS = 1_000;

/**
 * `status NAME`: waits for the release to end, as a pipeline waits on `kubectl argo rollouts
 * status`, printing a line whenever where it stands changes. 0 Healthy; 1 Degraded, Stalled or
 * timed out; with `watch` false, the line once and 1 only for Degraded or Stalled.
 */
export async function runStatus(
  kube: Kube,
  io: Io,
  name: string,
  opts: { watch: boolean; timeoutMs?: number },
): Promise<number> {
  const deadline = opts.timeoutMs === undefined ? undefined : Date.now() + opts.timeoutMs;
  let shown = '';
  for (;;) {
    const state = settled(await getRollout(kube, name));
    if (state.line !== shown) io.out(state.line);
    shown = state.line;
    if (state.done) return state.code;
    if (!opts.watch) return 0;
    const left = deadline === undefined ? POLL_MS : deadline - Date.now();
    if (left <= 0) {
      io.err(`error: timed out waiting for rollout "${name}" to finish: ${state.line}`);
      return 1;
    }
    if (await stopped(Math.min(POLL_MS, left), io.signal)) return 130;
  }
}

/** Waits `ms`; true when `signal` (a person's Ctrl-C, a test) ended the wait first. */
const stopped = (ms: number, signal: AbortSignal | undefined): Promise<boolean> =>
  wait(ms, undefined, signal ? { signal } : {}).then(
    () => false,
    () => true,
  );

/** Home the cursor and clear the screen: a full redraw that stays correct when the tree grows or shrinks. */
const REDRAW = '\x1b[H\x1b[2J';

/** How often the tree is re-rendered from what is known (pause countdowns, ages). */
const TICK_MS = 1_000;
/** How often everything is re-read regardless of watch events: pods and Events are not watched, and a
 * client-node 1.4 watch can go silent without ending. */
const REFRESH_MS = 10_000;

/**
 * `get rollout -w`: watches the Rollout and its ReplicaSets, re-reads and redraws on every change, and
 * ends when `io.signal` (or Ctrl-C) fires. Returns 0 on a requested stop, 1 when the Rollout goes away.
 */
export async function watchStatus(kube: Kube, io: Io, name: string): Promise<number> {
  const { stop, release } = stopOn(io.signal);

  let view: StatusView | undefined;
  let shown = '';
  let failure: CliError | undefined;
  let fetching: Promise<void> | undefined;
  let again = false;
  const deletedError = () => new CliError(`rollout "${name}" was deleted from namespace "${kube.namespace}"`);
  const fail = (err: unknown) => {
    failure ??= err instanceof CliError ? err : new CliError(String(err));
    stop.abort();
  };

  const draw = () => {
    if (!view) return;
    const text = renderStatus(view, io.now());
    if (text === shown) return;
    shown = text;
    io.out(io.isTTY ? `${REDRAW}${text}` : `${text}\n`);
  };

  // One read at a time; a change that arrives mid-read schedules exactly one more.
  const refresh = (): void => {
    if (stop.signal.aborted) return;
    if (fetching) {
      again = true;
      return;
    }
    fetching = gatherStatus(kube, name)
      .then((next) => {
        view = next;
        draw();
      })
      // It was drawn, so it existed: a refresh that no longer finds it (the poll, or the
      // ReplicaSets' watch, can come before the Rollouts' DELETED event) saw it deleted.
      .catch((err: unknown) => fail(err instanceof RolloutNotFound ? deletedError() : err))
      .finally(() => {
        fetching = undefined;
        if (again) {
          again = false;
          refresh();
        }
      });
  };

  const ns = kube.namespace;
  try {
    // The first read fails fast (unknown Rollout, RBAC) before anything is drawn.
    view = await gatherStatus(kube, name);
    draw();
    keepWatching(kube, stop.signal, {
      path: resourcePath({ group: GROUP, version: VERSION, plural: 'rollouts', namespace: ns }),
      query: () => ({ fieldSelector: `metadata.name=${name}` }),
      resource: 'rollouts',
      namespace: ns,
      onEvent: (type) => (type === 'DELETED' ? fail(deletedError()) : refresh()),
      onReopen: refresh,
      onFailure: fail,
    });
    keepWatching(kube, stop.signal, {
      path: resourcePath({ group: 'apps', version: 'v1', plural: 'replicasets', namespace: ns }),
      query: () => ({ labelSelector: `${ROLLOUT_LABEL}=${name}` }),
      resource: 'replicasets',
      namespace: ns,
      onEvent: refresh,
      onReopen: refresh,
      onFailure: fail,
    });
    const tick = setInterval(draw, TICK_MS);
    const poll = setInterval(refresh, REFRESH_MS);
    await aborted(stop.signal);
    clearInterval(tick);
    clearInterval(poll);
  } finally {
    stop.abort();
    release();
    await fetching;
  }
  if (failure) throw failure;
  return 0;
}
