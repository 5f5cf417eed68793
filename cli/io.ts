import { COLOURS, type Paint, PLAIN } from './render/paint.ts';

/** Where a command writes and how it learns to stop; tests pass their own, main() passes the process's. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  now(): Date;
  /** Aborted to end `status --watch` (the process's Ctrl-C does it when not given). */
  signal?: AbortSignal;
  /** Whether stdout is a terminal: `--watch` redraws in place only there. */
  isTTY: boolean;
  /** Colours wanted: main() sets it from isTTY, --no-color and NO_COLOR. */
  color?: boolean;
  /** What `-f -` reads (the process's stdin when not given). */
  stdin?: AsyncIterable<Buffer | string>;
}

/**
 * Colour only for a person at a terminal: not through a pipe or into a file, not with --no-color,
 * not with NO_COLOR set to anything but the empty string (https://no-color.org).
 */
export function colorWanted(isTTY: boolean, noColor: boolean, env: NodeJS.ProcessEnv): boolean {
  return isTTY && !noColor && !env.NO_COLOR;
}

/** The colours `io` wants. */
export const paintOf = (io: Io): Paint => (io.color ? COLOURS : PLAIN);

export const processIo: Io = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  now: () => new Date(),
  isTTY: process.stdout.isTTY === true,
};
