import { describe, expect, it } from 'vitest';
import {
  interpret,
  ProviderError,
  redactAddress,
  splitCredentials,
  toProviderError,
} from '../../../analysis/provider.ts';

// prometheus-query's parsed shapes; the same code is exercised against the real Prometheus in
// test/sandbox/analysis-provider.test.ts.
const sample = (v: string) => ({ metric: {}, value: { time: new Date(), value: v } });

describe('interpreting Prometheus results', () => {
  it('one series is a value; NaN, ±Inf and empty are no data', () => {
    expect(interpret('q', 'vector', [sample('99.5')])).toEqual({ kind: 'value', value: 99.5 });
    expect(interpret('q', 'vector', []).kind).toBe('none');
    for (const v of ['NaN', '+Inf', '-Inf']) expect(interpret('q', 'vector', [sample(v)]).kind).toBe('none');
    expect(interpret('q', 'scalar', [1700000000, 'NaN']).kind).toBe('none');
    expect(interpret('q', 'scalar', [1700000000, '4'])).toEqual({ kind: 'value', value: 4 });
  });

  it('several series: a list, or an error naming how many when one value was expected', () => {
    expect(interpret('q', 'vector', [sample('1'), sample('2')])).toEqual({ kind: 'list', values: [1, 2] });
    expect(() =>
      interpret('sum by (pod) (x)', 'vector', [sample('1'), sample('2'), sample('3')], 'scalar'),
    ).toThrow(/3 series where one value was expected.*sum by \(pod\) \(x\)/);
  });

  it('turns prometheus-query rejections into Errors with the query and the message', () => {
    const bad = toProviderError('http://p', 'foo{', {
      status: 'error',
      errorType: 'http_error',
      error: 'parse error: unexpected end of input',
      httpStatus: 400,
    });
    expect(bad).toBeInstanceOf(ProviderError);
    expect(bad.message).toBe(
      'Prometheus rejected the query (HTTP 400): parse error: unexpected end of input; query: foo{',
    );
    expect(bad.unreachable).toBe(false);
    const down = toProviderError('http://p', 'up', {
      errorType: 'network_error',
      error: 'connect ECONNREFUSED',
    });
    expect(down.message).toBe('Prometheus at http://p cannot be reached: connect ECONNREFUSED');
    expect(down.unreachable).toBe(true);
  });
});

describe('credentials in a Prometheus address', () => {
  it('splits userinfo into basic auth and shows the address without it', () => {
    expect(splitCredentials('http://sluice:p%40ss%2Fw@prom.monitoring:9090/prefix')).toEqual({
      endpoint: 'http://prom.monitoring:9090/prefix',
      auth: { username: 'sluice', password: 'p@ss/w' },
    });
    expect(splitCredentials('http://prom:9090')).toEqual({ endpoint: 'http://prom:9090' });
  });

  it('redacts userinfo from anything shaped like an address, URL or not', () => {
    expect(redactAddress('https://u:secret@prom:9090')).toBe('https://prom:9090');
    expect(redactAddress('https://token@prom')).toBe('https://prom');
    expect(redactAddress('http://prom:9090')).toBe('http://prom:9090');
    expect(redactAddress('http://u:secret@[bad')).toBe('http://[bad');
  });

  it('a refused login is an error naming the address without the credentials', () => {
    const err = toProviderError('http://prom:9090', 'vector(1)', {
      status: 'error',
      errorType: 'http_error',
      httpStatus: 401,
      error: 'HTTP 401 Unauthorized',
    });
    expect(err.message).toBe(
      'Prometheus at http://prom:9090 refused the credentials (HTTP 401): check the user and password in its address',
    );
    expect(err.unreachable).toBe(false);
  });
});
