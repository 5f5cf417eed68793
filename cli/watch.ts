// The watches behind `get rollout -w` and `list -w`: one stream kept open until the command
// stops, re-opened when the server ends it (watches end by design, after minutes), refused for
// good on a 4xx (RBAC, a bad path), which would be refused again.
import { Watch } from '@kubernetes/client-node';
import type { CliError } from './errors.ts';
import { explainFailure } from './errors.ts';
import type { Kube } from './kube.ts';

/** Back-off before re-opening a watch the server ended. */
const REWATCH_MS = 1_000;

export interface WatchSpec {
  path: string;
  /** Read at each (re)open: a list's watch continues from the resourceVersion of its latest list. */
  query: () => Record<string, string | undefined>;
  /** The resource and namespace a refusal names. */
  resource: string;
  namespace?: string;
  /** Each ADDED, MODIFIED or DELETED event (an ERROR event, such as 410 Gone, re-opens the watch). */
  onEvent: (type: string, object: unknown) => void;
  /** Before re-opening: re-read what the gap may have hidden. A rejection ends the watch (onFailure). */
  onReopen?: () => Promise<void> | void;
  /** The watch cannot go on: the caller reports it and stops. */
  onFailure: (err: unknown) => void;
}

/** Keeps `spec`'s watch open until `stop` aborts. */
export function keepWatching(kube: Kube, stop: AbortSignal, spec: WatchSpec): void {
  const watcher = new Watch(kube.kc);
  const open = (): void => {
    if (stop.aborted) return;
    let ended = false;
    let stream: AbortController | undefined;
    let timer: NodeJS.Timeout | undefined;
    const cancel = () => {
      stream?.abort();
      clearTimeout(timer);
    };
    stop.addEventListener('abort', cancel, { once: true });
    const finish = () => {
      ended = true;
      stream?.abort();
      stop.removeEventListener('abort', cancel);
    };
    const reopen = () => {
      if (ended) return;
      finish();
      if (stop.aborted) return;
      stop.addEventListener('abort', cancel, { once: true });
      timer = setTimeout(async () => {
        stop.removeEventListener('abort', cancel);
        try {
          await spec.onReopen?.();
        } catch (err) {
          spec.onFailure(err);
          return;
        }
        open();
      }, REWATCH_MS);
    };
    watcher
      .watch(
        spec.path,
        spec.query(),
        (type, object) => {
          if (ended || stop.aborted) return;
          if (type === 'ERROR') reopen();
          else spec.onEvent(type, object);
        },
        (err: unknown) => {
          const code = (err as { statusCode?: unknown } | null)?.statusCode;
          if (typeof code === 'number' && code >= 400 && code < 500 && !stop.aborted && !ended) {
            finish();
            spec.onFailure(refused(kube, spec, code));
            return;
          }
          reopen();
        },
      )
      .then((controller) => {
        stream = controller;
        if (ended || stop.aborted) controller.abort();
      })
      .catch(() => reopen());
  };
  open();
}

function refused(kube: Kube, spec: WatchSpec, code: number): CliError {
  return explainFailure(
    { code },
    { command: kube.command, verb: 'watch', resource: spec.resource, namespace: spec.namespace },
    kube.identity,
  );
}

/** Resolves when `signal` aborts (at once if it already has). */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/**
 * An AbortController that `io.signal` (a test) or else the process' Ctrl-C aborts; `release`
 * detaches it again.
 */
export function stopOn(signal: AbortSignal | undefined): { stop: AbortController; release: () => void } {
  const stop = new AbortController();
  const onStop = () => stop.abort();
  if (signal) {
    if (signal.aborted) stop.abort();
    signal.addEventListener('abort', onStop, { once: true });
    return { stop, release: () => signal.removeEventListener('abort', onStop) };
  }
  process.once('SIGINT', onStop);
  return { stop, release: () => process.off('SIGINT', onStop) };
}
