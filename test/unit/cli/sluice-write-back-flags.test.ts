import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../controller/command-line.ts';

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

describe('sluice controller: write-back policy flags', () => {
  it('refuses a write-back URL prefix that is not http(s), from the flag or the environment, before starting', async () => {
    const errors: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((t: string) => errors.push(t));
    expect(
      await main(['controller', '--write-back-allowed-urls', 'https://git.example/acme/, file:///srv']),
    ).toBe(2);
    vi.stubEnv('SLUICE_WRITE_BACK_ALLOWED_URLS', 'not a url');
    expect(await main(['controller'])).toBe(2);
    expect(errors).toEqual([
      "sluice controller: --write-back-allowed-urls: 'file:///srv' is not an http(s) URL prefix",
      "sluice controller: --write-back-allowed-urls: 'not a url' is not an http(s) URL prefix",
    ]);
  });

  it('lists the three flags in the usage, each saying its default', async () => {
    const out: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((t: string) => out.push(t));
    expect(await main(['help'])).toBe(0);
    const usage = out.join('\n');
    expect(usage).toMatch(
      /--write-back-tenant-repositories [\s\S]*\(default off: only its Flux or Argo CD source decides\)/,
    );
    expect(usage).toMatch(/--write-back-allowed-urls LIST [\s\S]*\(default: any https URL\)/);
    expect(usage).toMatch(/--git-allow-http .*\(default off\)/);
  });
});
