// successCondition / failureCondition in CEL over `result`, with @bufbuild/cel. Expressions are
// compiled once when a run is filled, so a typo fails the run before anything is measured.
import { celEnv, isCelError, parse, plan } from '@bufbuild/cel';
import type { MeasurementPhase } from '../machines/analysis-run.ts';
import { CEL_COST_LIMIT, checkShape, estimateCost } from './cel-cost.ts';
import type { QueryResult } from './provider.ts';

/** What `result` is bound to: a number, a list of numbers, or (web metrics) a boolean. */
type Value = number | number[] | boolean;

type Program = ((bindings: { result: Value }) => unknown) & {
  /** Steps it takes over a result of n values (analysis/cel-cost.ts). */
  cost: (n: number) => number;
};

export class ConditionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConditionError';
  }
}

const cache = new Map<string, Program>();

/**
 * Compiles a CEL expression over `result`. Throws ConditionError on a syntax error, a shape
 * whose cost is not bounded (analysis/cel-cost.ts), or a reference to anything but `result`
 * (found by evaluating once against a sample number and a sample list: an expression that
 * cannot resolve its names fails both).
 */
export function compileCondition(expr: string): Program {
  const hit = cache.get(expr);
  if (hit) return hit;
  let program: Program;
  try {
    const parsed = parse(expr);
    try {
      checkShape(parsed.expr);
    } catch (err) {
      throw new ConditionError(`CEL "${expr}" is not allowed: ${(err as Error).message}`);
    }
    const planned = plan(celEnv(), parsed);
    program = Object.assign((bindings: { result: Value }) => planned(bindings as never), {
      cost: (n: number) => estimateCost(parsed.expr, n),
    });
  } catch (err) {
    if (err instanceof ConditionError) throw err;
    throw new ConditionError(`invalid CEL "${expr}": ${(err as Error).message}`, { cause: err });
  }
  const probes = [program({ result: 0 }), program({ result: [0] }), program({ result: false })];
  if (probes.every((p) => isCelError(p) && /unresolved|undeclared|no such/i.test(p.message))) {
    const first = probes[0] as Error;
    throw new ConditionError(`invalid CEL "${expr}": ${first.message} (only \`result\` is defined)`);
  }
  if (cache.size > 1000) cache.clear();
  cache.set(expr, program);
  return program;
}

/**
 * Runs `f` with errors built without stack traces. Every failing step of a CEL evaluation
 * (`x % 2.0`, an index out of range) builds an Error, and capturing its stack made such steps
 * 8× slower (1.5 µs against 0.19 µs): the cost limit would have had to be 8× lower. Safe
 * because evaluation is synchronous: nothing else runs before the limit is restored.
 */
function withoutStacks<T>(f: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return f();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

export interface Conditions {
  successCondition?: string;
  failureCondition?: string;
}

export interface Verdict {
  phase: MeasurementPhase;
  /** The value as shown in status: a number, or a JSON list. */
  value?: string;
  message?: string;
}

export const formatValue = (v: Value): string => {
  if (typeof v === 'boolean') return String(v);
  if (!Array.isArray(v)) return String(round(v));
  if (v.length <= SHOWN_VALUES) return JSON.stringify(v.map(round));
  // A query may return thousands of series; status holds a measurement in 4 KiB.
  return `${JSON.stringify(v.slice(0, SHOWN_VALUES).map(round)).slice(0, -1)},… ${v.length} values]`;
};
const SHOWN_VALUES = 20;
const round = (n: number) => Math.round(n * 1000) / 1000;

function test(expr: string, result: Value): boolean {
  const program = compileCondition(expr);
  // Refused before it runs: evaluation cannot be interrupted once started.
  const cost = program.cost(Array.isArray(result) ? result.length : 1);
  if (cost > CEL_COST_LIMIT) {
    throw new ConditionError(
      `CEL "${expr}" over ${Array.isArray(result) ? result.length : 1} values would take ~${cost} steps, over the limit of ${CEL_COST_LIMIT}: aggregate the query in PromQL (max, sum, topk) so fewer values come back`,
    );
  }
  const out = withoutStacks(() => program({ result }));
  if (isCelError(out))
    throw new ConditionError(`CEL "${expr}" failed on result ${formatValue(result)}: ${out.message}`);
  if (typeof out !== 'boolean') {
    throw new ConditionError(`CEL "${expr}" returned ${String(out)}, not true or false`);
  }
  return out;
}

/**
 * Judges one query result. Failure is checked before success; neither condition set: any
 * value succeeds; set but neither matched: inconclusive; no data: inconclusive, never a pass.
 * A condition that cannot be evaluated on this value is an Error measurement.
 */
export function judge(conditions: Conditions, result: QueryResult): Verdict {
  if (result.kind === 'none') return { phase: 'Inconclusive', message: `no data: ${result.reason}` };
  const value = result.kind === 'list' ? result.values : result.value;
  const shown = formatValue(value);
  const { successCondition, failureCondition } = conditions;
  try {
    if (failureCondition && test(failureCondition, value)) {
      return {
        phase: 'Failed',
        value: shown,
        message: `value ${shown} met failure condition "${failureCondition}"`,
      };
    }
    if (successCondition && test(successCondition, value)) return { phase: 'Successful', value: shown };
  } catch (err) {
    return { phase: 'Error', value: shown, message: (err as Error).message };
  }
  if (!successCondition && !failureCondition) return { phase: 'Successful', value: shown };
  if (successCondition && !failureCondition) {
    return {
      phase: 'Inconclusive',
      value: shown,
      message: `value ${shown} did not meet success condition "${successCondition}"`,
    };
  }
  return {
    phase: 'Inconclusive',
    value: shown,
    message: `value ${shown} met neither success condition "${successCondition ?? '(none)'}" nor failure condition "${failureCondition}"`,
  };
}
