import { describe, expect, it } from 'vitest';
import type { Io } from '../../../cli/io.ts';
import { main } from '../../../cli/kubectl-sluice-main.ts';

async function run(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (t) => out.push(t), err: (t) => err.push(t), now: () => new Date(0), isTTY: false };
  const code = await main(argv, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('main', () => {
  it('prints usage for help and exits 0', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^Usage: kubectl sluice <command>/);
    expect(help.out).toContain('set image NAME CONTAINER=IMAGE');
    expect(help.err).toBe('');
  });

  it('exits 2 on a usage mistake, pointing at --help', async () => {
    expect(await run(['promote'])).toEqual({
      code: 2,
      out: '',
      err: 'kubectl sluice: "promote" needs the name of a Rollout\nRun \'kubectl sluice --help\' for usage.',
    });
  });

  it('exits 1 with one line, no stack, when the kubeconfig cannot be used', async () => {
    expect(await run(['status', 'x', '--kubeconfig', '/nonexistent/kubeconfig'])).toEqual({
      code: 1,
      out: '',
      err: 'error: kubeconfig "/nonexistent/kubeconfig" does not exist',
    });
  });
});
