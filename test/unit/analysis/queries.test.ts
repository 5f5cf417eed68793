import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  escapeLabelValue,
  latencyP99Query,
  promDuration,
  substituteArgs,
  successRateQuery,
  UnknownArgError,
} from '../../../analysis/queries.ts';

/**
 * The value a PromQL double-quoted string literal denotes (Go escapes), or undefined if Prometheus
 * would refuse it or it does not close exactly at the end.
 */
function unquote(literal: string): string | undefined {
  let out = '';
  for (let i = 0; i < literal.length; i++) {
    const c = String.fromCodePoint(literal.codePointAt(i) as number);
    if (c.length === 2) i++; // a whole astral character; a lone surrogate stays one unit
    if (c === '"') return undefined; // an unescaped quote would end the string early
    if (c === '\n') return undefined;
    if (/[\ufffd\ud800-\udfff]/u.test(c)) return undefined; // Prometheus: "invalid UTF-8 rune"
    if (c === '\\') {
      const n = literal[++i];
      const map: Record<string, string> = { '\\': '\\', '"': '"', n: '\n', r: '\r', t: '\t' };
      if (n === 'u' && /^[0-9a-f]{4}$/i.test(literal.slice(i + 1, i + 5))) {
        out += String.fromCharCode(Number.parseInt(literal.slice(i + 1, i + 5), 16));
        i += 4;
      } else if (n === undefined || !(n in map)) return undefined;
      else out += map[n];
    } else out += c;
  }
  return out;
}

describe('label value escaping', () => {
  it('round-trips every string through a PromQL string literal, which it never closes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        // A lone surrogate has no UTF-8 form: it arrives as U+FFFD, as it would on the wire.
        expect(unquote(escapeLabelValue(s))).toBe(s.replace(/[\ud800-\udfff]/gu, '\ufffd'));
      }),
    );
  });

  it.each([
    ['web"} or vector(1) #', 'web\\"} or vector(1) #'],
    ['a\\"} + on() vector(100) or {x="', 'a\\\\\\"} + on() vector(100) or {x=\\"'],
    ['line\nbreak', 'line\\nbreak'],
    ['\ufffd', '\\ufffd'],
  ])('neutralises the injection attempt %j', (input, escaped) => {
    expect(escapeLabelValue(input)).toBe(escaped);
  });
});

describe('builtin queries', () => {
  const d = { service: 'web-canary', namespace: 'shop' };

  it('success rate: non-5xx over all requests × 100, reporter=destination, window = interval', () => {
    expect(successRateQuery(d, 30_000)).toBe(
      '(sum(rate(istio_requests_total{reporter="destination",destination_service_namespace="shop",destination_service_name="web-canary",response_code!~"5.."}[30s])) or on() vector(0))' +
        ' / sum(rate(istio_requests_total{reporter="destination",destination_service_namespace="shop",destination_service_name="web-canary"}[30s])) * 100',
    );
  });

  it('p99: histogram_quantile over the summed bucket rates by le', () => {
    expect(latencyP99Query(d, 5_000)).toBe(
      'histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{reporter="destination",destination_service_namespace="shop",destination_service_name="web-canary"}[5s])))',
    );
  });

  it('escapes the Service name it is given', () => {
    const q = successRateQuery({ service: 'x"} or vector(100) #', namespace: 'shop' }, 5_000);
    expect(q).toContain('destination_service_name="x\\"} or vector(100) #"');
  });

  it('rounds windows to whole seconds, at least one', () => {
    expect(promDuration(1500)).toBe('2s');
    expect(promDuration(100)).toBe('1s');
    expect(promDuration(120_000)).toBe('120s');
  });
});

describe('{{args.x}} substitution', () => {
  it('substitutes escaped values', () => {
    expect(substituteArgs('up{job="{{args.job}}"} > {{ args.min }}', { job: 'a"b', min: '0.5' })).toBe(
      'up{job="a\\"b"} > 0.5',
    );
  });

  it('an injection through an arg stays inside the label value', () => {
    const q = substituteArgs('sum(up{service="{{args.service}}"})', {
      service: '"}) or vector(1) or sum(up{x="',
    });
    expect(q).toBe('sum(up{service="\\"}) or vector(1) or sum(up{x=\\""})');
  });

  it('names an unknown arg', () => {
    expect(() => substituteArgs('{{args.nope}}', {})).toThrow(UnknownArgError);
    expect(() => substituteArgs('{{args.nope}}', {})).toThrow(/"nope" is not declared/);
    expect(() => substituteArgs('{{args.empty}}', { empty: undefined })).toThrow(/"empty" has no value/);
  });
});
