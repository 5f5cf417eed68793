import { setTimeout as wait } from 'node:timers/promises';
import { resourcePath } from '../../controller/kube/client.ts';
import { GROUP, VERSION } from '../../crds/common.ts';
import { gatherStatus, getRollout } from '../api.ts';
import type { OutputFormat } from '../args.ts';
import { CliError, RolloutNotFound } from '../errors.ts';
import { type Io, paintOf } from '../io.ts';
import type { Kube } from '../kube.ts';
import { ROLLOUT_LABEL, type Rollout, type StatusView } from '../model.ts';
import { formatObject, formatStreamed, withoutManagedFields } from '../render/output.ts';
import { paintPhase } from '../render/paint.ts';
import { renderStatus } from '../render/status.ts';
import { type Settled, settled, settledLine } from '../settled.ts';
import { aborted, keepWatching, stopOn } from '../watch.ts';

/** `get rollout NAME [-w] [-o json|yaml]`: the tree (or the object), once or on every change. */
export async function runGetRollout(
  kube: Kube,
  io: Io,
  name: string,
  watch: boolean,
  output?: OutputFormat,
): Promise<number> {
  if (!watch) {
    const view = await gatherStatus(kube, name);
    io.out(output ? formatObject(output, viewObject(view)) : renderStatus(view, io.now(), paintOf(io)));
    return 0;
  }
  return watchStatus(kube, io, name, output);
}

/** What `get rollout -o` prints: what the tree is drawn from, the Rollout without managedFields. */
export function viewObject(view: StatusView): StatusView {
  return { ...view, rollout: withoutManagedFields(view.rollout) };
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
  opts: { watch: boolean; timeoutMs?: number; output?: OutputFormat },
): Promise<number> {
  const deadline = opts.timeoutMs === undefined ? undefined : Date.now() + opts.timeoutMs;
  const paint = paintOf(io);
  // With -o the lines are for the person watching; stdout holds the one object scripts read.
  const say = opts.output ? io.err : io.out;
  const end = (rollout: Rollout, state: Settled, code: number, timedOut = false): number => {
    if (opts.output) io.out(formatObject(opts.output, statusObject(rollout, state, timedOut)));
    return code;
  };
  let shown = '';
  for (;;) {
    const rollout = await getRollout(kube, name);
    const state = settled(rollout);
    const line = settledLine(state);
    if (line !== shown) say(settledLine(state, (s) => paintPhase(paint, s)));
    shown = line;
    if (state.done) return end(rollout, state, state.code);
    if (!opts.watch) return end(rollout, state, 0);
    const left = deadline === undefined ? POLL_MS : deadline - Date.now();
    if (left <= 0) {
      io.err(`error: timed out waiting for rollout "${name}" to finish: ${line}`);
      return end(rollout, state, 1, true);
    }
    if (await stopped(Math.min(POLL_MS, left), io.signal)) return 130;
  }
}

/** What `status -o` prints at the end: where the release stands, and the Rollout's status it read. */
export function statusObject(rollout: Rollout, state: Settled, timedOut: boolean): object {
  return {
    name: rollout.metadata.name,
    namespace: rollout.metadata.namespace,
    state: state.state,
    ...(state.message ? { message: state.message } : {}),
    done: state.done,
    ...(timedOut ? { timedOut } : {}),
    status: rollout.status ?? {},
  };
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
export async function watchStatus(kube: Kube, io: Io, name: string, output?: OutputFormat): Promise<number> {
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

  const paint = paintOf(io);
  const draw = () => {
    if (!view) return;
    // With -o, each new state of the objects, never a redraw: the clock alone changes nothing.
    const text = output ? formatStreamed(output, viewObject(view)) : renderStatus(view, io.now(), paint);
    if (text === shown) return;
    shown = text;
    io.out(io.isTTY && !output ? `${REDRAW}${text}` : `${text}\n`);
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
