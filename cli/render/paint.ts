// Colours for people at a terminal: phases, verdicts and pod marks, as Argo's plugin colours
// them. Renderers take a Paint and stay pure; PLAIN (the default) leaves text as it is, which is
// what a pipe, a file, NO_COLOR or --no-color gets.

export interface Paint {
  /** Healthy, Successful, a ready pod. */
  ok(text: string): string;
  /** Degraded, Failed, Error, Stalled, a pod not ready. */
  bad(text: string): string;
  /** Paused, Inconclusive, a Warning Event. */
  warn(text: string): string;
  /** Progressing, Running, Pending: under way. */
  busy(text: string): string;
}

const sgr =
  (code: number) =>
  (text: string): string =>
    text === '' ? text : `\x1b[${code}m${text}\x1b[39m`;

export const PLAIN: Paint = { ok: (t) => t, bad: (t) => t, warn: (t) => t, busy: (t) => t };
export const COLOURS: Paint = { ok: sgr(32), bad: sgr(31), warn: sgr(33), busy: sgr(36) };

const TONE: Record<string, keyof Paint> = {
  Healthy: 'ok',
  Successful: 'ok',
  Promoted: 'ok',
  Degraded: 'bad',
  Failed: 'bad',
  Error: 'bad',
  Stalled: 'bad',
  RolledBack: 'bad',
  Aborted: 'bad',
  Paused: 'warn',
  Inconclusive: 'warn',
  Progressing: 'busy',
  Running: 'busy',
  Pending: 'busy',
};

/** A phase (of a Rollout, a run or a metric) or an outcome in its colour; other words as they are. */
export function paintPhase(paint: Paint, phase: string): string {
  const tone = Object.hasOwn(TONE, phase) ? TONE[phase] : undefined;
  return tone === undefined ? phase : paint[tone](phase);
}

/** The text without its colours. */
export function stripColours(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the escape sequences are what is removed
  return text.replace(/\x1b\[[0-9;]*m/g, '');
}

/** The width a terminal shows: colour sequences take none. */
export const visibleLength = (text: string): number => stripColours(text).length;
