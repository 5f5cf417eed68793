// Widening the ranges of a PromQL query the user wrote. A range that cannot hold two scrapes
// finds no series on most looks, so a template's gate would end Inconclusive and pause every
// release; the shortest range that can hold them is what the user meant to measure.
//
// Only `[range]` and the range of a subquery `[range:step]` change. A `[` inside a string
// (a label value, a regex matcher) or a comment is text, not a selector: the scan skips them
// as Prometheus' lexer does, so `{path="/a[5s]"}` stays as written. `offset` and `@` move the
// window, they do not size it, and are left alone.
import { parsePromDuration } from './scrape-interval.ts';

export interface WidenedQuery {
  query: string;
  /** The ranges that were too short, as written and each once, in the order they appear. */
  widened: string[];
}

// At a `[` outside strings: the range, then an optional subquery step, up to the `]`.
const SELECTOR = /\[(\s*)([0-9][0-9a-zA-Z]*)(\s*)((?::[^\]]*)?)\]/y;

/** The query with every range shorter than `minMs` set to `to`; the rest byte for byte. */
export function widenRanges(query: string, minMs: number, to: string): WidenedQuery {
  const widened: string[] = [];
  let out = '';
  let i = 0;
  while (i < query.length) {
    const text = skipText(query, i);
    if (text !== undefined) {
      out += query.slice(i, text);
      i = text;
      continue;
    }
    SELECTOR.lastIndex = i;
    const m = query[i] === '[' ? SELECTOR.exec(query) : null;
    const [whole, before, range, after, step] = m ?? [];
    const ms = range === undefined ? undefined : parsePromDuration(range);
    if (whole === undefined || range === undefined || ms === undefined || ms >= minMs) {
      out += query[i];
      i++;
      continue;
    }
    if (!widened.includes(range)) widened.push(range);
    out += `[${before}${to}${after}${step}]`;
    i += whole.length;
  }
  return { query: out, widened };
}

/**
 * Where a string literal or comment starting at `i` ends (just past it); undefined when none
 * starts there. Double- and single-quoted strings take backslash escapes, backticks none.
 */
function skipText(query: string, i: number): number | undefined {
  const ch = query[i];
  if (ch === '#') {
    const eol = query.indexOf('\n', i);
    return eol === -1 ? query.length : eol;
  }
  if (ch === '`') {
    const close = query.indexOf('`', i + 1);
    return close === -1 ? query.length : close + 1;
  }
  if (ch !== '"' && ch !== "'") return undefined;
  let j = i + 1;
  while (j < query.length && query[j] !== ch) j += query[j] === '\\' ? 2 : 1;
  return Math.min(j + 1, query.length);
}
