import { describe, expect, it } from 'vitest';
import { COMMANDS, type CommandName, parseInvocation } from '../../../cli/args.ts';
import type { Io } from '../../../cli/io.ts';
import { main } from '../../../cli/kubectl-sluice-main.ts';

async function run(argv: string[], isTTY = false) {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (t) => out.push(t), err: (t) => err.push(t), now: () => new Date(0), isTTY };
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

  it('gives each command its own help: what it does, its flags and examples', async () => {
    for (const argv of [
      ['status', '--help'],
      ['help', 'status'],
      ['status', 'checkout', '-h'],
    ]) {
      const help = await run(argv);
      expect(help).toMatchObject({ code: 0, err: '' });
      expect(help.out).toMatch(
        /^Usage: kubectl sluice status NAME \[--timeout D\] \[--watch=false\] \[flags\]\n\nWaits/,
      );
      expect(help.out).toMatch(/^ {6}--timeout D {11}give up after this long/m);
      expect(help.out).toMatch(/^ {2}-o, --output json\|yaml {4}print the object/m);
      expect(help.out).toContain('Examples:\n  kubectl sluice status checkout -n shop --timeout 15m');
      expect(help.out).toMatch(/^Global flags: -n\/--namespace, --context, --kubeconfig/m);
    }
    for (const command of Object.keys(COMMANDS) as CommandName[]) {
      const help = await run(['help', ...command.split(' ')]);
      expect(help.code, command).toBe(0);
      expect(help.out, command).toContain(`Usage: kubectl sluice ${COMMANDS[command].synopsis}`);
      expect(help.out, command).toMatch(/\nExamples:\n {2}kubectl sluice /);
      // Every example parses: help does not teach a command line the plugin refuses.
      for (const example of COMMANDS[command].examples) {
        // The plugin's part of a shell line (pipes, &&, || and a redirection aside).
        const ours = example.split(/ \| | && | \|\| /).find((part) => part.startsWith('kubectl sluice '))!;
        const argv = ours.split(' > ')[0]!.split(' ').slice(2);
        expect(() => parseInvocation(argv), example).not.toThrow();
      }
    }
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
