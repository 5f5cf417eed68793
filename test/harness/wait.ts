import { logHint } from './env.ts';

export interface WaitOptions {
  timeout?: number;
  interval?: number;
  /** What is being waited for, in words: it leads the timeout message. */
  description: string;
}

/**
 * Polls `fn` until it returns something other than false/undefined (or stops throwing), and
 * returns that. On timeout the error carries the last value or error seen, so a failure says
 * how close the system got rather than only that it did not get there.
 */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  opts: WaitOptions,
): Promise<Exclude<T, false | undefined>> {
  const timeout = opts.timeout ?? 30_000;
  const interval = opts.interval ?? 250;
  const deadline = Date.now() + timeout;
  let last: unknown = '(never evaluated)';
  for (;;) {
    try {
      const v = await fn();
      if (v !== false && v !== undefined) return v as Exclude<T, false | undefined>;
      last = v;
    } catch (err) {
      last = err instanceof Error ? `${err.name}: ${err.message}` : err;
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, interval));
  }
  throw new Error(
    `timed out after ${timeout / 1000}s waiting for ${opts.description}; last observed: ${describe(last)}${logHint()}`,
  );
}

function describe(v: unknown): string {
  if (typeof v === 'string') return v;
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}
