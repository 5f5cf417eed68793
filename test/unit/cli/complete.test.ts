import { describe, expect, it } from 'vitest';
import { COMPLETION_TIMEOUT_MS, runComplete } from '../../../cli/commands/completion.ts';
import { complete, type Lookup } from '../../../cli/complete.ts';
import type { Io } from '../../../cli/io.ts';
import { silentServer } from '../../support/silent-server.ts';

/** Names as a cluster and kubeconfig would give them, recording the flags each lookup was asked with. */
function fakeLookup() {
  const asked: { what: string; namespace?: string; context?: string }[] = [];
  const lookup: Lookup = {
    rollouts: async (kube) => {
      asked.push({ what: 'rollouts', namespace: kube.namespace, context: kube.context });
      return ['checkout', 'cart', 'api'];
    },
    namespaces: async () => ['shop', 'staging', 'kube-system'],
    contexts: async () => ['dev', 'prod'],
  };
  return { lookup, asked };
}

const names = async (words: string[], lookup = fakeLookup().lookup) =>
  (await complete(words, lookup)).candidates.map((c) => c.split('\t')[0]);

describe('__complete', () => {
  it('offers the commands, then their subcommands', async () => {
    expect(await names([''])).toEqual([
      'list',
      'get',
      'status',
      'promote',
      'abort',
      'retry',
      'pause',
      'resume',
      'restart',
      'undo',
      'set',
      'lint',
      'convert',
      'version',
      'completion',
      'help',
    ]);
    expect(await names(['p'])).toEqual(['promote', 'pause']);
    expect(await names(['re'])).toEqual(['retry', 'resume', 'restart']);
    expect(await names(['get', ''])).toEqual(['rollout']);
    expect(await names(['list', ''])).toEqual(['rollouts', 'analysisruns']);
    expect(await names(['completion', ''])).toEqual(['bash', 'zsh', 'fish']);
    expect(await names(['help', 'set', ''])).toEqual(['image']);
    const top = await complete([''], fakeLookup().lookup);
    expect(top.candidates).toContain('promote\tcontinue past a pause, or (--full) skip every remaining step');
    expect(top.directive).toBe(4);
  });

  it('offers the Rollouts of the namespace and context typed so far, once, where a name goes', async () => {
    const { lookup, asked } = fakeLookup();
    expect(await names(['promote', '-n', 'shop', '--context=prod', 'c'], lookup)).toEqual([
      'checkout',
      'cart',
    ]);
    expect(asked).toEqual([{ what: 'rollouts', namespace: 'shop', context: 'prod' }]);
    expect(await names(['get', 'ro', ''], lookup)).toEqual(['checkout', 'cart', 'api']);
    expect(await names(['set', 'image', ''], lookup)).toEqual(['checkout', 'cart', 'api']);
    // After the name, or for commands that take none: nothing, and no file names either.
    expect(await complete(['promote', 'checkout', ''], lookup)).toEqual({ candidates: [], directive: 4 });
    expect(await names(['list', 'ar', ''], lookup)).toEqual([]);
    expect(asked).toHaveLength(3);
  });

  it("offers a command's own flags and the global ones, not those already given", async () => {
    const flags = await names(['status', 'checkout', '--']);
    expect(flags).toEqual(
      expect.arrayContaining(['--timeout', '--watch=false', '--output', '--namespace', '--as']),
    );
    expect(flags).not.toContain('--full');
    expect(await names(['promote', '--f'])).toEqual(['--full']);
    expect(await names(['promote', '--full', '--f'])).toEqual([]);
    expect(await names(['list', '--as-group', 'a', '--as-g'])).toEqual(['--as-group']);
  });

  it("offers a flag's values: namespaces, contexts, formats; files for file flags", async () => {
    expect(await names(['status', '-n', 's'])).toEqual(['shop', 'staging']);
    expect(await names(['--context', ''])).toEqual(['dev', 'prod']);
    expect(await names(['get', 'rollout', 'x', '-o', ''])).toEqual(['json', 'yaml']);
    expect(await names(['list', '--output=y'])).toEqual(['--output=yaml']);
    expect(await complete(['lint', '-f', 'ro'], fakeLookup().lookup)).toEqual({
      candidates: [],
      directive: 0,
    });
    expect((await complete(['status', '--kubeconfig', ''], fakeLookup().lookup)).directive).toBe(0);
  });

  it('completes nothing rather than failing when the cluster does not answer, within its bound', async () => {
    const silent = await silentServer();
    const out: string[] = [];
    const io: Io = { out: (t) => out.push(t), err: (t) => out.push(t), now: () => new Date(), isTTY: false };
    const started = Date.now();
    expect(await runComplete(['promote', '--kubeconfig', '/dev/null', '-s', silent.url, ''], io)).toBe(0);
    expect(Date.now() - started).toBeLessThan(COMPLETION_TIMEOUT_MS + 1500);
    expect(out).toEqual([':4']);
    const failing: Lookup = {
      rollouts: () => Promise.reject(new Error('forbidden')),
      namespaces: () => Promise.reject(new Error('forbidden')),
      contexts: () => Promise.reject(new Error('no kubeconfig')),
    };
    expect(await complete(['abort', ''], failing)).toEqual({ candidates: [], directive: 4 });
    expect(await complete(['-n', ''], failing)).toEqual({ candidates: [], directive: 4 });
  });
});
