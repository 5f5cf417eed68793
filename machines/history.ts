import type { HistoryEntry } from '../crds/index.ts';
import { iso, type ReleaseContext } from './context.ts';
import type { Millis } from './events.ts';

export const HISTORY_LIMIT = 10;

/** Closes the current release in the history, newest last, keeping the schema's limit. */
export function closeRelease(
  ctx: ReleaseContext,
  outcome: HistoryEntry['outcome'],
  reason: string,
  now: Millis,
  revision = ctx.currentRevision ?? '',
): HistoryEntry[] {
  const started = ctx.releaseStartedAt === undefined ? {} : { startedAt: iso(ctx.releaseStartedAt) };
  const entry: HistoryEntry = { revision, outcome, reason, ...started, finishedAt: iso(now) };
  return [...ctx.history, entry].slice(-HISTORY_LIMIT);
}
