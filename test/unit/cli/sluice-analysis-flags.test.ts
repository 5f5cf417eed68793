import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../controller/command-line.ts';

afterEach(() => vi.restoreAllMocks());

describe('sluice controller: analysis bound flags', () => {
  it('refuses a bad allowlist entry or timeout before starting, naming the flag', async () => {
    const errors: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((t: string) => errors.push(t));
    expect(await main(['controller', '--prometheus-allowed-urls', 'http://prom:9090,file:///etc'])).toBe(2);
    expect(await main(['controller', '--analysis-max-timeout', 'soon'])).toBe(2);
    expect(errors).toEqual([
      "sluice controller: --prometheus-allowed-urls: 'file:///etc' is not http or https",
      "sluice controller: --analysis-max-timeout: 'soon' is not a duration such as 30s or 1m",
    ]);
  });

  it('lists both flags in the usage', async () => {
    const out: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((t: string) => out.push(t));
    expect(await main(['help'])).toBe(0);
    expect(out.join('\n')).toMatch(/--prometheus-allowed-urls LIST[\s\S]*--analysis-max-timeout DUR/);
  });
});
