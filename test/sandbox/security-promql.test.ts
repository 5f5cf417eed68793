import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PrometheusProvider } from '../../analysis/provider.ts';
import { substituteArgs, successRateQuery } from '../../analysis/queries.ts';
import { sandbox } from '../harness/env.ts';
import { FUZZ_SEED } from '../support/fuzz.ts';

// PromQL injection through template args and the builtins' label values, judged by the real
// Prometheus: what it parsed, not what our escaping looks like.

/** Pieces that end a string, a selector or an expression, or start an escape. */
const breakout = fc
  .array(
    fc.constantFrom(
      '"',
      "'",
      '`',
      '\\',
      '\\"',
      '}',
      '{',
      ')',
      '(',
      ']',
      ' or vector(1)',
      ' or on() vector(100)',
      '"} or vector(1) #',
      '#',
      '\n',
      '\r',
      '\t',
      '\u0000',
      '\u007f',
      '$1',
      '{{args.v}}',
      '=~".*"',
      ',job!="',
      'é',
      '🚀',
      '\ufffd',
      'a',
    ),
    { minLength: 1, maxLength: 8 },
  )
  .map((parts) => parts.join(''));
const hostile = fc.oneof(breakout, fc.string({ unit: 'grapheme', maxLength: 30 }));

interface Series {
  metric: Record<string, string>;
}

async function instant(
  query: string,
): Promise<{ status: string; data?: { result: Series[] }; error?: string }> {
  const res = await fetch(`${sandbox().PROMETHEUS_URL}/api/v1/query`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ query }),
  });
  return (await res.json()) as never;
}

describe('PromQL injection (real Prometheus)', () => {
  it('an arg value comes back from Prometheus as exactly one label value, whatever it contains', async () => {
    // absent() of a selector returns one series labelled with the selector's equality matchers:
    // the value Prometheus parsed, which must be the value we were given, unchanged and alone.
    const template = 'absent(sluice_no_such_metric{probe="{{args.v}}"})';
    await fc.assert(
      fc.asyncProperty(hostile, async (v) => {
        const answer = await instant(substituteArgs(template, { v }));
        expect(answer.error).toBeUndefined();
        // An empty label value is, to Prometheus, no label at all.
        expect(answer.data?.result.map((s) => s.metric)).toEqual([v === '' ? {} : { probe: v }]);
      }),
      { seed: FUZZ_SEED, numRuns: 300 },
    );
  });

  it('a builtin gate whose Service or namespace names are hostile measures nothing rather than a forged value', async () => {
    const prom = new PrometheusProvider({ address: sandbox().PROMETHEUS_URL, timeoutMs: 5_000 });
    await fc.assert(
      fc.asyncProperty(hostile, hostile, async (service, namespace) => {
        // `or on() vector(100)` escaping its string would make the success rate 100: a pass on no traffic.
        const result = await prom.query(successRateQuery({ service, namespace }, 30_000), {
          expect: 'scalar',
        });
        expect(result.kind).toBe('none');
      }),
      { seed: FUZZ_SEED + 1, numRuns: 150 },
    );
  });
});
