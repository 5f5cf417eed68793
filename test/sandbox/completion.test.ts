// The completion scripts run by the shells themselves against the released plugin (the bundle on
// the PATH as kubectl-sluice), Rollout names read from the sandbox: bash through `complete -p` and
// COMP_WORDS driving its function, zsh with compsys' two entry points stood in for, fish through
// its own `complete -C`, and kubectl's plugin completion through kubectl_complete-sluice.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundle } from '../../bin/bundle.mjs';
import { sandbox } from '../harness/env.ts';
import { kube } from '../harness/kube.ts';

const dir = mkdtempSync(join(tmpdir(), 'sluice-completion-'));
let ns: string;

/** The environment a person's shell has once the plugin is installed. */
const env = () => ({
  ...process.env,
  PATH: `${dir}:${dirname(process.execPath)}:${process.env.PATH}`,
  KUBECONFIG: sandbox().KUBECONFIG,
  HOME: dir,
});

const shell = (program: string, args: string[]): string =>
  execFileSync(program, args, { env: env(), encoding: 'utf8', timeout: 30_000 });

beforeAll(async () => {
  const plugin = join(dir, 'kubectl-sluice');
  await bundle({ entry: 'kubectl-sluice', outfile: plugin });
  chmodSync(plugin, 0o755);
  symlinkSync(plugin, join(dir, 'kubectl_complete-sluice'));
  // Made here rather than by freshNamespace, which is per test: every test reads these names.
  ns = `completion-${randomBytes(4).toString('hex')}`;
  await kube().core.createNamespace({
    body: { metadata: { name: ns, labels: { 'sluice.dev/test': 'true' } } },
  });
  for (const name of ['checkout', 'cart', 'api']) {
    await kube().custom.createNamespacedCustomObject({
      group: 'sluice.dev',
      version: 'v1alpha1',
      plural: 'rollouts',
      namespace: ns,
      body: {
        apiVersion: 'sluice.dev/v1alpha1',
        kind: 'Rollout',
        metadata: { name },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: name } },
          template: {
            metadata: { labels: { app: name } },
            spec: { containers: [{ name: 'app', image: 'x:1' }] },
          },
          strategy: {
            canary: {
              stableService: `${name}-stable`,
              canaryService: `${name}-canary`,
              trafficRouting: { istio: { virtualService: { name } } },
            },
          },
        },
      },
    });
  }
}, 120_000);

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await kube()
    .core.deleteNamespace({ name: ns })
    .catch(() => undefined);
});

describe('kubectl sluice completion bash', () => {
  /** COMPREPLY after the completion function ran on `words`, the cursor on the last one. */
  const bash = (words: string[]) => {
    const array = words.map((w) => `'${w}'`).join(' ');
    return shell('bash', [
      '--norc',
      '-c',
      `source <(kubectl-sluice completion bash)
       COMP_WORDS=(${array}); COMP_CWORD=${words.length - 1}
       __kubectl_sluice_complete
       printf '%s\\n' "\${COMPREPLY[@]}"`,
    ])
      .split('\n')
      .filter((l) => l !== '');
  };

  it('registers a function for kubectl-sluice', () => {
    expect(
      shell('bash', ['--norc', '-c', 'source <(kubectl-sluice completion bash); complete -p kubectl-sluice']),
    ).toBe('complete -F __kubectl_sluice_complete kubectl-sluice\n');
  });

  it('completes commands, subcommands, flags and their values', () => {
    expect(bash(['kubectl-sluice', 'pro'])).toEqual(['promote']);
    expect(bash(['kubectl-sluice', 'list', ''])).toEqual(['rollouts', 'analysisruns']);
    expect(bash(['kubectl-sluice', 'status', 'x', '--ti'])).toEqual(['--timeout']);
    expect(bash(['kubectl-sluice', 'get', 'rollout', 'x', '-o', ''])).toEqual(['json', 'yaml']);
    expect(bash(['kubectl-sluice', '-n', ns.slice(0, -2)])).toEqual([ns]);
  });

  it('completes the names of the Rollouts in the namespace given, from the cluster', () => {
    expect(bash(['kubectl-sluice', 'promote', '-n', ns, ''])).toEqual(['api', 'cart', 'checkout']);
    expect(bash(['kubectl-sluice', '--namespace', ns, 'status', 'c'])).toEqual(['cart', 'checkout']);
  });

  it('falls back to file names where a file goes', () => {
    expect(bash(['kubectl-sluice', 'lint', '-f', `${dir}/kubectl_complete-s`])).toEqual([
      `${dir}/kubectl_complete-sluice`,
    ]);
  });
});

describe('kubectl sluice completion zsh and fish', () => {
  it('zsh: offers the Rollout names through _describe, and registers with compdef when sourced', () => {
    const out = shell('zsh', [
      '-f',
      '-c',
      `_describe() { print -rl -- "\${(@P)4}" }
       _files() { print _files }
       compdef() { print "compdef $*" }
       source <(kubectl-sluice completion zsh)
       words=(kubectl-sluice abort -n ${ns} ''); CURRENT=5; _kubectl-sluice
       words=(kubectl-sluice st); CURRENT=2; _kubectl-sluice
       words=(kubectl-sluice lint -f ''); CURRENT=4; _kubectl-sluice`,
    ]);
    expect(out.split('\n')).toEqual([
      'compdef _kubectl-sluice kubectl-sluice',
      'api',
      'cart',
      'checkout',
      expect.stringMatching(/^status:wait for the release to end/),
      '_files',
      '',
    ]);
  });

  it('fish: completes through its own complete -C, with descriptions', () => {
    const out = shell('fish', [
      '--no-config',
      '-c',
      `kubectl-sluice completion fish | source
       complete -C 'kubectl-sluice resume -n ${ns} ca'
       complete -C 'kubectl-sluice comp'`,
    ]);
    expect(out.split('\n')).toEqual([
      'cart',
      expect.stringMatching(/^completion\ta shell script that completes/),
      '',
    ]);
  });
});

describe("kubectl's own completion of kubectl sluice", () => {
  it('asks kubectl_complete-sluice, which answers as cobra does', () => {
    const out = shell(sandbox().KUBECTL, ['__complete', 'sluice', 'undo', '-n', ns, 'a']);
    expect(out.split('\n').filter((l) => !l.startsWith('Completion ended'))).toEqual(['api', ':4', '']);
  });
});
