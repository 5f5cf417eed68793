/** Where a command writes and how it learns to stop; tests pass their own, main() passes the process's. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  now(): Date;
  /** Aborted to end `status --watch` (the process's Ctrl-C does it when not given). */
  signal?: AbortSignal;
  /** Whether stdout is a terminal: `--watch` redraws in place only there. */
  isTTY: boolean;
  /** What `-f -` reads (the process's stdin when not given). */
  stdin?: AsyncIterable<Buffer | string>;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  now: () => new Date(),
  isTTY: process.stdout.isTTY === true,
};
