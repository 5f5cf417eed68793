// Argo Rollouts writes successCondition / failureCondition in expr-lang; Sluice in CEL over
// `result`. This translates the part of expr-lang those conditions use in practice: numbers,
// comparisons, && || ! (and/or/not), + - * /, ?:, result, result[i], len(result), isNaN/isInf,
// and all/any/none/one/count over result with a {# ...} closure. Anything else is refused with a
// reason, never guessed. The CEL produced must also pass Sluice's own condition checker.
import { compileCondition } from '../../analysis/cel-conditions.ts';

/** Conditions are at most 1 KiB in Sluice; an Argo one longer than that cannot be carried anyway. */
const MAX_LENGTH = 1024;
/** Deep enough for any hand-written condition, shallow enough that recursion cannot blow the stack. */
const MAX_DEPTH = 40;

export type Translation = { ok: true; cel: string; notes: string[] } | { ok: false; reason: string };

type Node =
  | { t: 'num'; value: number; int: boolean }
  | { t: 'bool'; value: boolean }
  | { t: 'result' }
  | { t: 'item' }
  | { t: 'index'; of: Node; at: Node }
  | { t: 'call'; name: string; args: Node[] }
  | { t: 'closure'; body: Node }
  | { t: 'unary'; op: '!' | '-'; x: Node }
  | { t: 'binary'; op: string; l: Node; r: Node }
  | { t: 'cond'; c: Node; a: Node; b: Node };

class Refused extends Error {}

// ---- tokens ----

type Token = { k: 'num'; v: string } | { k: 'id'; v: string } | { k: 'op'; v: string } | { k: 'end' };

const OPERATORS = [
  '**',
  '==',
  '!=',
  '<=',
  '>=',
  '&&',
  '||',
  '<',
  '>',
  '!',
  '+',
  '-',
  '*',
  '/',
  '%',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  ',',
  '?',
  ':',
  '#',
  '.',
];
const WORDS: Record<string, string> = { and: '&&', or: '||', not: '!' };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const num = /^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/.exec(src.slice(i));
    if (num && !(c === '.' && /[\w\])]/.test(src[i - 1] ?? ''))) {
      out.push({ k: 'num', v: num[0] });
      i += num[0].length;
      continue;
    }
    const id = /^[A-Za-z_$][\w$]*/.exec(src.slice(i));
    if (id) {
      const word = WORDS[id[0]];
      out.push(word ? { k: 'op', v: word } : { k: 'id', v: id[0] });
      i += id[0].length;
      continue;
    }
    if (c === '"' || c === "'" || c === '`')
      throw new Refused('strings have no meaning in a Sluice condition');
    const op = OPERATORS.find((o) => src.startsWith(o, i));
    if (!op) throw new Refused(`"${c}" is not part of the expressions the converter knows`);
    out.push({ k: 'op', v: op });
    i += op.length;
  }
  out.push({ k: 'end' });
  return out;
}

// ---- parser (precedence climbing, expr-lang's order) ----

const BINARY: Record<string, number> = {
  '||': 1,
  '&&': 2,
  '==': 3,
  '!=': 3,
  '<': 3,
  '>': 3,
  '<=': 3,
  '>=': 3,
  '+': 4,
  '-': 4,
  '*': 5,
  '/': 5,
  '%': 5,
  '**': 6,
};

const MACROS = new Set(['all', 'any', 'none', 'one', 'count']);

class Parser {
  private pos = 0;
  private depth = 0;
  private inClosure = false;
  constructor(private readonly tokens: Token[]) {}

  parse(): Node {
    const node = this.ternary();
    const next = this.peek();
    if (next.k !== 'end') throw new Refused(`unexpected "${'v' in next ? next.v : ''}"`);
    return node;
  }

  private peek(): Token {
    return this.tokens[this.pos] as Token;
  }
  private take(): Token {
    return this.tokens[this.pos++] as Token;
  }
  private isOp(v: string): boolean {
    const t = this.peek();
    return t.k === 'op' && t.v === v;
  }
  private expect(v: string): void {
    if (!this.isOp(v)) throw new Refused(`expected "${v}"`);
    this.pos++;
  }
  private nest<T>(f: () => T): T {
    if (++this.depth > MAX_DEPTH) throw new Refused(`nested deeper than ${MAX_DEPTH}`);
    try {
      return f();
    } finally {
      this.depth--;
    }
  }

  private ternary(): Node {
    return this.nest(() => {
      const c = this.binary(1);
      if (!this.isOp('?')) return c;
      this.pos++;
      const a = this.ternary();
      this.expect(':');
      const b = this.ternary();
      return { t: 'cond', c, a, b };
    });
  }

  private binary(min: number): Node {
    let left = this.unary();
    for (;;) {
      const t = this.peek();
      if (t.k === 'id' && t.v === 'in') throw new Refused('"in" has no counterpart over numbers here');
      const prec = t.k === 'op' ? BINARY[t.v] : undefined;
      if (prec === undefined || prec < min) return left;
      this.pos++;
      // ** is right-associative; the others left.
      const right = this.nest(() => this.binary(t.k === 'op' && t.v === '**' ? prec : prec + 1));
      left = { t: 'binary', op: (t as { v: string }).v, l: left, r: right };
    }
  }

  private unary(): Node {
    if (this.isOp('!') || this.isOp('-')) {
      const op = (this.take() as { v: '!' | '-' }).v;
      return this.nest(() => ({ t: 'unary', op, x: this.unary() }));
    }
    if (this.isOp('+')) {
      this.pos++;
      return this.unary();
    }
    return this.postfix(this.primary());
  }

  private postfix(node: Node): Node {
    for (;;) {
      if (this.isOp('[')) {
        this.pos++;
        if (this.isOp(':')) throw new Refused('slices (result[a:b]) have no counterpart');
        const at = this.ternary();
        if (this.isOp(':')) throw new Refused('slices (result[a:b]) have no counterpart');
        this.expect(']');
        node = { t: 'index', of: node, at };
      } else if (this.isOp('.')) {
        throw new Refused('fields and methods (x.y) have no counterpart over numbers');
      } else {
        return node;
      }
    }
  }

  private primary(): Node {
    const t = this.take();
    if (t.k === 'num') {
      const value = Number(t.v);
      return { t: 'num', value, int: /^\d+$/.test(t.v) };
    }
    if (t.k === 'op' && t.v === '(') {
      const inner = this.ternary();
      this.expect(')');
      return inner;
    }
    if (t.k === 'op' && t.v === '#') {
      if (!this.inClosure) throw new Refused('"#" outside a {…} closure');
      return { t: 'item' };
    }
    if (t.k === 'op' && t.v === '[') throw new Refused('array literals have no counterpart');
    if (t.k !== 'id')
      throw new Refused(t.k === 'end' ? 'the expression ends too early' : `unexpected "${t.v}"`);
    if (t.v === 'true' || t.v === 'false') return { t: 'bool', value: t.v === 'true' };
    if (t.v === 'result') return { t: 'result' };
    if (!this.isOp('(')) throw new Refused(`"${t.v}" is unknown: a condition sees only result`);
    this.pos++;
    const args: Node[] = [];
    while (!this.isOp(')')) {
      if (args.length) this.expect(',');
      args.push(MACROS.has(t.v) && args.length === 1 ? this.closure() : this.ternary());
    }
    this.pos++;
    return { t: 'call', name: t.v, args };
  }

  private closure(): Node {
    this.expect('{');
    if (this.inClosure)
      throw new Refused('closures inside closures have no counterpart (Sluice allows no nested macros)');
    this.inClosure = true;
    const body = this.ternary();
    this.inClosure = false;
    this.expect('}');
    return { t: 'closure', body };
  }
}

// ---- meaning-preserving simplification ----

const isBool = (n: Node, v: boolean) => n.t === 'bool' && n.value === v;
const isLen = (n: Node) =>
  n.t === 'call' && n.name === 'len' && n.args.length === 1 && n.args[0]?.t === 'result';
const isZero = (n: Node) => n.t === 'num' && n.value === 0;

/**
 * Sluice never evaluates a condition on no data: an empty answer, NaN and ±Inf are Inconclusive
 * before any condition runs. So, on every result a condition sees, isNaN/isInf are false and
 * len(result) is at least 1. Folding them keeps the truth on those results and drops what Sluice
 * cannot express (a number has no length).
 */
function fold(n: Node, notes: Set<string>): Node {
  switch (n.t) {
    case 'call': {
      if ((n.name === 'isNaN' || n.name === 'isInf') && n.args.length === 1) {
        fold(n.args[0] as Node, notes); // still refuse what cannot be read inside
        notes.add(NO_DATA_NOTE);
        return { t: 'bool', value: false };
      }
      return { ...n, args: n.args.map((a) => fold(a, notes)) };
    }
    case 'closure':
      return { t: 'closure', body: fold(n.body, notes) };
    case 'index':
      return { t: 'index', of: fold(n.of, notes), at: fold(n.at, notes) };
    case 'unary': {
      const x = fold(n.x, notes);
      if (n.op === '!' && x.t === 'bool') return { t: 'bool', value: !x.value };
      return { t: 'unary', op: n.op, x };
    }
    case 'cond': {
      const c = fold(n.c, notes);
      const a = fold(n.a, notes);
      const b = fold(n.b, notes);
      if (c.t === 'bool') return c.value ? a : b;
      return { t: 'cond', c, a, b };
    }
    case 'binary': {
      const l = fold(n.l, notes);
      const r = fold(n.r, notes);
      const lenVsZero = (len: Node, zero: Node, op: string): boolean | undefined => {
        if (!isLen(len) || !isZero(zero)) return undefined;
        notes.add(NO_DATA_NOTE);
        return { '==': false, '!=': true, '>': true, '<=': false, '>=': true, '<': false }[op];
      };
      const mirrored: Record<string, string> = {
        '<': '>',
        '>': '<',
        '<=': '>=',
        '>=': '<=',
        '==': '==',
        '!=': '!=',
      };
      const known = lenVsZero(l, r, n.op) ?? lenVsZero(r, l, mirrored[n.op] ?? '');
      if (known !== undefined) return { t: 'bool', value: known };
      if (n.op === '&&') {
        if (isBool(l, false) || isBool(r, false)) return { t: 'bool', value: false };
        if (isBool(l, true)) return r;
        if (isBool(r, true)) return l;
      }
      if (n.op === '||') {
        if (isBool(l, true) || isBool(r, true)) return { t: 'bool', value: true };
        if (isBool(l, false)) return r;
        if (isBool(r, false)) return l;
      }
      return { t: 'binary', op: n.op, l, r };
    }
    default:
      return n;
  }
}

export const NO_DATA_NOTE =
  'Sluice judges no data (no series, NaN, ±Inf) Inconclusive before any condition runs, so isNaN/isInf and len(result) == 0 are false on every result the condition sees';
export const LIST_NOTE =
  'the condition reads result as a list: Sluice binds a number when the query returns one series, a list for several, so the query must return several series';

// ---- printing ----

/** The nodes directly under a node. */
function children(n: Node): Node[] {
  switch (n.t) {
    case 'index':
      return [n.of, n.at];
    case 'call':
      return n.args;
    case 'closure':
      return [n.body];
    case 'unary':
      return [n.x];
    case 'binary':
      return [n.l, n.r];
    case 'cond':
      return [n.c, n.a, n.b];
    default:
      return [];
  }
}

/** Whether `test` holds at some node of the tree. */
const anywhere = (n: Node, test: (n: Node) => boolean): boolean =>
  test(n) || children(n).some((c) => anywhere(c, test));

const isFirst = (n: Node) => n.t === 'index' && n.at.t === 'num' && n.at.value === 0;

/** Reads `result` as a list: an index past the first, a length, a closure (result[0] alone is one value). */
const usesListForm = (tree: Node) =>
  anywhere(tree, (n) => (n.t === 'index' && !isFirst(n)) || n.t === 'call' || n.t === 'closure');

const indexesPastFirst = (tree: Node) => anywhere(tree, (n) => n.t === 'index' && !isFirst(n));

const CEL_PREC: Record<string, number> = { ...BINARY };

/** len(result) and count(...): ints in CEL. */
const isCount = (n: Node) => n.t === 'call' && (n.name === 'len' || n.name === 'count');

function num(n: { value: number; int: boolean }, asIndex: boolean): string {
  if (!Number.isFinite(n.value)) throw new Refused('a number too large for a condition');
  if (asIndex) {
    if (!n.int) throw new Refused('an index must be a whole number');
    return String(n.value);
  }
  // CEL has no int+double arithmetic: every literal is written as a double, as expr-lang computes.
  const s = String(n.value);
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

function print(n: Node, scalar: boolean, item: string): string {
  const p = (x: Node, min: number): string => {
    const s = print(x, scalar, item);
    const prec = x.t === 'binary' ? (CEL_PREC[x.op] ?? 0) : x.t === 'cond' ? 0 : 99;
    return prec < min ? `(${s})` : s;
  };
  switch (n.t) {
    case 'num':
      return num(n, false);
    case 'bool':
      return String(n.value);
    case 'result':
      return 'result';
    case 'item':
      return item;
    case 'index': {
      if (n.of.t !== 'result') throw new Refused('only result can be indexed');
      if (scalar) return 'result';
      if (n.at.t !== 'num') throw new Refused('an index must be a number written out');
      return `result[${num(n.at, true)}]`;
    }
    case 'unary':
      return `${n.op}${p(n.x, 99)}`;
    case 'cond':
      return `${p(n.c, 1)} ? ${p(n.a, 1)} : ${p(n.b, 1)}`;
    case 'binary': {
      if (n.op === '%') throw new Refused('% has no counterpart over CEL doubles');
      if (n.op === '**') throw new Refused('** has no counterpart in CEL');
      const prec = CEL_PREC[n.op] as number;
      // A count compared stays an int (CEL compares int with double); anywhere else it is a double.
      const compared = prec === CEL_PREC['<'];
      const side = (x: Node, min: number) =>
        compared && x.t === 'call' && isCount(x) ? printCall(x, scalar, item) : p(x, min);
      return `${side(n.l, prec)} ${n.op} ${side(n.r, prec + 1)}`;
    }
    case 'closure':
      throw new Refused('a closure outside all/any/none/one/count');
    case 'call':
      // size() is an int, and CEL adds no int to a double.
      return isCount(n) ? `double(${printCall(n, scalar, item)})` : printCall(n, scalar, item);
  }
}

function printCall(n: { name: string; args: Node[] }, scalar: boolean, item: string): string {
  const [first, second] = n.args;
  if (n.name === 'len' && n.args.length === 1 && first?.t === 'result') return 'size(result)';
  if (n.name === 'abs') throw new Refused('abs() has no counterpart in Sluice conditions');
  if (MACROS.has(n.name)) {
    if (n.args.length !== 2 || first?.t !== 'result' || second?.t !== 'closure')
      throw new Refused(`${n.name}() is carried only as ${n.name}(result, {…})`);
    if (item !== '') throw new Refused('macros inside macros have no counterpart');
    const body = print(second.body, scalar, 'x');
    switch (n.name) {
      case 'all':
        return `result.all(x, ${body})`;
      case 'any':
        return `result.exists(x, ${body})`;
      case 'none':
        return `!result.exists(x, ${body})`;
      case 'one':
        return `result.exists_one(x, ${body})`;
      default:
        return `size(result.filter(x, ${body}))`;
    }
  }
  throw new Refused(`${n.name}() has no counterpart in Sluice conditions`);
}

/** Translates one Argo condition into CEL over `result`, or says why it cannot. */
export function translateCondition(expr: string): Translation {
  if (expr.length > MAX_LENGTH) return { ok: false, reason: `longer than ${MAX_LENGTH} characters` };
  let cel: string;
  const notes = new Set<string>();
  try {
    const parsed = new Parser(tokenize(expr)).parse();
    const tree = fold(parsed, notes);
    if (tree.t === 'bool')
      return {
        ok: false,
        reason: `it is always ${tree.value} on the results Sluice judges (${NO_DATA_NOTE})`,
      };
    // result[1] anywhere, even inside an isNaN that folded away, says the query returns several series.
    const scalar = !usesListForm(tree) && !indexesPastFirst(parsed);
    if (!scalar) notes.add(LIST_NOTE);
    cel = print(tree, scalar, '');
  } catch (err) {
    if (err instanceof Refused) return { ok: false, reason: err.message };
    throw err;
  }
  try {
    compileCondition(cel);
  } catch (err) {
    return { ok: false, reason: `its CEL form "${cel}" is refused by Sluice: ${(err as Error).message}` };
  }
  return { ok: true, cel, notes: [...notes] };
}
