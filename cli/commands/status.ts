import { setTimeout as wait } from 'node:timers/promises';
import { Watch } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../../crds/common.ts';
import { gatherStatus, getRollout } from '../api.ts';
import { CliError, explainFailure, RolloutNotFound } from '../errors.ts';
import type { Io } from '../io.ts';
import type { Kube } from '../kube.ts';
import { ROLLOUT_LABEL, type StatusView } from '../model.ts';
import { renderStatus } from '../render/status.ts';
import { settled } from '../settled.ts';

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
/** Back-off before re-opening a watch the server ended. */
const REWATCH_MS = 1_000;

/**
 * `status --watch`: watches the Rollout and its ReplicaSets, re-reads and redraws on every change, and
 * ends when `io.signal` (or Ctrl-C) fires. Returns 0 on a requested stop, 1 when the Rollout goes away.
 */
export async function watchStatus(kube: Kube, io: Io, name: string): Promise<number> {
  const stop = new AbortController();
  const onSigint = () => stop.abort();
  if (io.signal) {
    if (io.signal.aborted) stop.abort();
    io.signal.addEventListener('abort', onSigint, { once: true });
  } else {
    process.once('SIGINT', onSigint);
  }

  let view: StatusView | undefined;
  let shown = '';
  let failure: CliError | undefined;
  let fetching: Promise<void> | undefined;
  let again = false;
  const deletedError = () => new CliError(`rollout "${name}" was deleted from namespace "${kube.namespace}"`);

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
      .catch((err: unknown) => {
        // It was drawn, so it existed: a refresh that no longer finds it (the poll, or the
        // ReplicaSets' watch, can come before the Rollouts' DELETED event) saw it deleted.
        failure =
          err instanceof RolloutNotFound
            ? deletedError()
            : err instanceof CliError
              ? err
              : new CliError(String(err));
        stop.abort();
      })
      .finally(() => {
        fetching = undefined;
        if (again) {
          again = false;
          refresh();
        }
      });
  };

  const watcher = new Watch(kube.kc);
  const ns = kube.namespace;
  const streams = [
    {
      path: `/apis/${GROUP}/${VERSION}/namespaces/${ns}/rollouts`,
      query: { fieldSelector: `metadata.name=${name}` },
    },
    {
      path: `/apis/apps/v1/namespaces/${ns}/replicasets`,
      query: { labelSelector: `${ROLLOUT_LABEL}=${name}` },
    },
  ];
  const open = new Set<AbortController>();
  const timers = new Set<NodeJS.Timeout>();

  const startWatch = (stream: (typeof streams)[number]): void => {
    if (stop.signal.aborted) return;
    let ended = false;
    const restart = () => {
      if (ended) return;
      ended = true;
      if (stop.signal.aborted) return;
      const timer = setTimeout(() => {
        timers.delete(timer);
        refresh();
        startWatch(stream);
      }, REWATCH_MS);
      timers.add(timer);
    };
    watcher
      .watch(
        stream.path,
        stream.query,
        (type) => {
          if (type === 'DELETED' && stream === streams[0]) {
            failure = deletedError();
            stop.abort();
            return;
          }
          refresh();
        },
        (err: unknown) => {
          const code = (err as { statusCode?: unknown } | null)?.statusCode;
          if (typeof code === 'number' && code >= 400 && code < 500 && !stop.signal.aborted) {
            // A refused watch (RBAC, bad path) will be refused again: report it instead of retrying forever.
            const resource = stream === streams[0] ? 'rollouts' : 'replicasets';
            failure = explainFailure(
              { code },
              { command: kube.command, verb: 'watch', resource, namespace: ns },
              kube.identity,
            );
            stop.abort();
            return;
          }
          restart();
        },
      )
      .then((controller) => {
        open.add(controller);
        if (stop.signal.aborted) controller.abort();
      })
      .catch(() => restart());
  };

  try {
    // The first read fails fast (unknown Rollout, RBAC) before anything is drawn.
    view = await gatherStatus(kube, name);
    draw();
    for (const stream of streams) startWatch(stream);
    const tick = setInterval(draw, TICK_MS);
    const poll = setInterval(refresh, REFRESH_MS);
    await new Promise<void>((resolve) => {
      if (stop.signal.aborted) resolve();
      else stop.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    clearInterval(tick);
    clearInterval(poll);
  } finally {
    stop.abort();
    for (const controller of open) controller.abort();
    for (const timer of timers) clearTimeout(timer);
    if (io.signal) io.signal.removeEventListener('abort', onSigint);
    else process.off('SIGINT', onSigint);
    await fetching;
  }
  if (failure) throw failure;
  return 0;
}
