// A bound on what one CEL condition may cost. @bufbuild/cel 0.6 has no cost tracking and runs
// on the event loop, where one slow expression stalls every reconcile. So a condition is held to
// a shape whose cost is known before it runs (checked when the run is built), and its cost over
// the actual result is estimated before each evaluation and refused above a limit.
//
// The shape: numbers, arithmetic, comparisons, logic, `size`, `int`/`double`/`uint`, indexing,
// `in`, and the macros all/exists/exists_one/map/filter over `result` itself, never nested. In a
// macro's body `result` may only be indexed or sized. Under these rules the cost is linear in
// the length of `result`: no quadratic `result.all(x, x in result)`, no nested loops, no regular
// expressions (`matches` could backtrack for ever on a string the expression builds).
import type { Expr } from '@bufbuild/cel-spec/cel/expr/syntax_pb.js';

/**
 * Evaluation steps one condition may take (a step is one node of the expression evaluated once).
 * Measured (@bufbuild/cel 0.6.1, Node 20, 2 shared cores; errors built without stack traces, see
 * conditions.ts): 0.03 µs a step for plain comparisons, up to ~0.6 µs when every step fails
 * (`x % 2.0` on doubles, `result[99999]`), map/filter ~0.6–2.2 µs (their lists are nested
 * concatenations, weighed 4 steps each). 80,000 lets the simplest per-series check
 * (`result.all(x, x < 1.0)`, 7 steps a value) run over as many series as a query may return
 * (MAX_SERIES, 10,000); at 40,000 such a gate over 6,000 pods was refused. The worst shapes the
 * checker admits take ~20–45 ms alone at this limit (`npm run bench:cel`, bench/RESULTS.md).
 */
export const CEL_COST_LIMIT = 80_000;

/** A map or filter step builds a concatenated list: measured ~4× a plain step. */
const LIST_MACRO_WEIGHT = 4;

const OPERATORS = new Set([
  '_+_',
  '_-_',
  '_*_',
  '_/_',
  '_%_',
  '-_',
  '!_',
  '_&&_',
  '_||_',
  '_?_:_',
  '_==_',
  '_!=_',
  '_<_',
  '_<=_',
  '_>_',
  '_>=_',
  '_[_]',
  '@in',
  '@not_strictly_false',
  'size',
  'int',
  'double',
  'uint',
]);

const RESULT = 'result';

const isResult = (e: Expr | undefined): boolean =>
  e?.exprKind.case === 'identExpr' && e.exprKind.value.name === RESULT;

/**
 * Where a `result` reference sits. At the top it may be used freely (a number compared, a list
 * searched: estimateCost charges what a list costs); in a list literal not at all (lists of
 * lists would make equality recursive); in a macro's body only indexed or sized.
 */
type Place = 'top' | 'list' | 'body';

/** Throws an Error saying what is not allowed; returns when the expression has the bounded shape. */
export function checkShape(expr: Expr): void {
  walk(expr, 'top', false);
}

/** `sized`: e is the operand of `size`, the one thing a map or filter's list may feed. */
function walk(e: Expr, place: Place, sized: boolean): void {
  const k = e.exprKind;
  switch (k.case) {
    case 'constExpr':
      // Strings have no use in a numeric condition, and comparing one with a number fails
      // with the slowest error the library builds.
      if (k.value.constantKind.case === 'stringValue' || k.value.constantKind.case === 'bytesValue') {
        throw new Error('strings are not allowed in a condition: `result` is a number or a list of numbers');
      }
      return;
    case 'identExpr':
      if (k.value.name === RESULT && place === 'body') {
        throw new Error(
          '`result` inside a macro may only be indexed (result[0]) or sized (size(result)): anything else costs the whole list for every element',
        );
      }
      if (k.value.name === RESULT && place === 'list')
        throw new Error('`result` may not be put in a list literal');
      return;
    case 'listExpr':
      for (const el of k.value.elements) walk(el, place === 'body' ? 'body' : 'list', false);
      return;
    case 'callExpr': {
      const call = k.value;
      if (!OPERATORS.has(call.function)) {
        throw new Error(
          `function ${call.function} is not allowed in a condition: use numbers, arithmetic, comparisons, size, in and the macros all, exists, exists_one, map, filter`,
        );
      }
      const operands = call.target ? [call.target, ...call.args] : call.args;
      operands.forEach((arg, i) => {
        if (isResult(arg) && resultUseAllowed(call.function, i)) return;
        walk(arg, place === 'list' ? 'top' : place, call.function === 'size');
      });
      return;
    }
    case 'comprehensionExpr': {
      const c = k.value;
      if (place === 'body')
        throw new Error('macros (all, exists, map, ...) may not be nested: the cost would be quadratic');
      if (!isResult(c.iterRange)) throw new Error('macros may only walk `result` itself');
      // Their list is built one element at a time as nested concatenations: walking it again
      // (indexing, `in`) costs the square of its length; its size is known at once.
      if (isListMacro(e) && !sized) {
        throw new Error('the list made by map or filter may only be sized: size(result.filter(x, x > 1.0))');
      }
      for (const part of [c.accuInit, c.loopCondition, c.loopStep, c.result])
        if (part) walk(part, 'body', false);
      return;
    }
    default:
      throw new Error(
        `${k.case ?? 'this expression'} is not allowed in a condition (only \`result\` and numbers are)`,
      );
  }
}

/** `result[i]` and `size(result)` cost O(1) wherever they are. */
const resultUseAllowed = (fn: string, index: number): boolean =>
  (fn === '_[_]' && index === 0) || fn === 'size';

/** map and filter accumulate a list (their accumulator starts as `[]`). */
const isListMacro = (e: Expr): boolean =>
  e.exprKind.case === 'comprehensionExpr' && e.exprKind.value.accuInit?.exprKind.case === 'listExpr';

/**
 * Steps to evaluate `expr` with `result` a list of `n` values (n = 1 for a single number), for
 * an expression that passed checkShape: every node once, a macro's body n times, and every
 * operation that walks a list (`in`, `==`, `!=`) the list's length times its nesting (a list
 * built with `+` is a tree of concatenations its walk descends).
 */
export function estimateCost(expr: Expr, n: number): number {
  return info(expr, n).cost;
}

interface Info {
  cost: number;
  /** Upper bound on the length of the list it evaluates to; 0 when it is no list. */
  size: number;
  /** Concatenations nested in that list. */
  depth: number;
}

const WALKS = new Set(['@in', '_==_', '_!=_']);

function info(expr: Expr, n: number): Info {
  const k = expr.exprKind;
  switch (k.case) {
    case 'identExpr':
      return { cost: 1, size: k.value.name === RESULT ? n : 0, depth: 0 };
    case 'listExpr': {
      const parts = k.value.elements.map((el) => info(el, n));
      return { cost: 1 + sum(parts.map((p) => p.cost)), size: parts.length, depth: 0 };
    }
    case 'callExpr': {
      const call = k.value;
      const operands = (call.target ? [call.target, ...call.args] : call.args).map((a) => info(a, n));
      let cost = 1 + sum(operands.map((o) => o.cost));
      const depth = Math.max(0, ...operands.map((o) => o.depth));
      if (WALKS.has(call.function)) cost += sum(operands.map((o) => o.size)) * (depth + 1);
      if (call.function === '_[_]') cost += depth;
      if (call.function === '_+_') {
        const size = sum(operands.map((o) => o.size));
        return { cost, size, depth: size ? depth + 1 : 0 };
      }
      if (call.function === '_?_:_') {
        return { cost, size: Math.max(0, ...operands.slice(1).map((o) => o.size)), depth };
      }
      return { cost, size: 0, depth: 0 };
    }
    case 'comprehensionExpr': {
      const c = k.value;
      const part = (e: Expr | undefined) => (e ? info(e, n).cost : 0);
      const weight = isListMacro(expr) ? LIST_MACRO_WEIGHT : 1;
      const body = part(c.loopCondition) + part(c.loopStep);
      return {
        cost: 1 + part(c.iterRange) + part(c.accuInit) + n * weight * body + part(c.result),
        size: 0,
        depth: 0,
      };
    }
    default:
      return { cost: 1, size: 0, depth: 0 };
  }
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
