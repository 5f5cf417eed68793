import { DURATION_PATTERN } from './common.ts';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /([0-9]+)(ms|s|m|h)/g;
const WHOLE = new RegExp(DURATION_PATTERN);

/** Milliseconds in a Sluice duration (`1m30s` → 90000). Throws on anything the CRD pattern rejects. */
export function parseDuration(text: string): number {
  if (!WHOLE.test(text)) throw new Error(`invalid duration '${text}': expected e.g. 30s, 5m, 1h or 1m30s`);
  let total = 0;
  for (const [, amount, unit] of text.matchAll(PART))
    total += Number(amount) * (UNIT_MS[unit as string] as number);
  return total;
}
