import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../controller/command-line.ts';
import { FLAGS, flagsTable, parseOptions } from '../../../controller/flags.ts';

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

describe('sluice controller: one table of flags', () => {
  it('docs/operating.md carries the table the flags generate', () => {
    const docs = readFileSync(new URL('../../../docs/operating.md', import.meta.url), 'utf8');
    expect(docs).toContain(flagsTable());
  });

  it('the usage names every flag and its environment variable', async () => {
    const out: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((t: string) => out.push(t));
    expect(await main(['help'])).toBe(0);
    for (const f of FLAGS) {
      expect(out.join('\n')).toContain(`--${f.name}`);
      if (f.env) expect(out.join('\n')).toContain(f.env);
    }
    expect(Object.keys(parseOptions())).toEqual(FLAGS.map((f) => f.name));
  });

  it('reads a flag from its environment variable when it is not given', async () => {
    const errors: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((t: string) => errors.push(t));
    vi.stubEnv('SLUICE_WORKERS', '0');
    expect(await main(['controller'])).toBe(2);
    vi.stubEnv('SLUICE_WRITE_BACK_ALLOWED_URLS', 'ftp://git.example');
    expect(await main(['controller', '--workers', '2'])).toBe(2);
    expect(errors).toEqual([
      "sluice controller: --workers must be a positive integer, got '0'",
      "sluice controller: --write-back-allowed-urls: 'ftp://git.example' is not an http(s) URL prefix",
    ]);
  });

  it('refuses an unknown flag with the usage', async () => {
    const errors: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((t: string) => errors.push(t));
    expect(await main(['controller', '--no-such-flag'])).toBe(2);
    expect(errors[0]).toMatch(/--no-such-flag[\s\S]*Controller flags/);
  });
});
