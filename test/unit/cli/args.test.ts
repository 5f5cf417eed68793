import { describe, expect, it } from 'vitest';
import { parseInvocation, UsageError } from '../../../cli/args.ts';

describe('parseInvocation', () => {
  it('reads kubectl connection flags wherever they appear', () => {
    expect(parseInvocation(['-n', 'shop', 'get', 'rollout', 'checkout', '--context', 'prod'])).toEqual({
      command: 'get rollout',
      kube: { namespace: 'shop', context: 'prod' },
      name: 'checkout',
      watch: false,
    });
    expect(parseInvocation(['promote', 'checkout', '--namespace=shop', '--kubeconfig', '/tmp/kc'])).toEqual({
      command: 'promote',
      kube: { namespace: 'shop', kubeconfig: '/tmp/kc' },
      name: 'checkout',
      full: false,
    });
  });

  it('parses each command with its own flags', () => {
    // `list` alone lists Rollouts, as it always did; `list analysisruns` (or `ar`) the runs.
    expect(parseInvocation(['list', '-A'])).toEqual({
      command: 'list rollouts',
      kube: {},
      allNamespaces: true,
      watch: false,
    });
    expect(parseInvocation(['list', 'rollouts', '-w'])).toMatchObject({
      command: 'list rollouts',
      watch: true,
    });
    expect(parseInvocation(['list', 'ro'])).toMatchObject({ command: 'list rollouts' });
    expect(parseInvocation(['list', 'analysisruns', '-A', '-w'])).toEqual({
      command: 'list analysisruns',
      kube: {},
      allNamespaces: true,
      watch: true,
    });
    expect(parseInvocation(['list', 'ar'])).toMatchObject({ command: 'list analysisruns', watch: false });
    expect(parseInvocation(['get', 'rollout', 'x', '-w'])).toMatchObject({
      command: 'get rollout',
      watch: true,
    });
    expect(parseInvocation(['get', 'ro', 'x'])).toMatchObject({ command: 'get rollout', watch: false });
    // status waits unless told not to, as argo rollouts status does
    expect(parseInvocation(['status', 'x'])).toEqual({ command: 'status', kube: {}, name: 'x', watch: true });
    expect(parseInvocation(['status', 'x', '--watch=false'])).toMatchObject({ watch: false });
    expect(parseInvocation(['status', 'x', '--timeout', '5m'])).toMatchObject({ timeoutMs: 300_000 });
    expect(parseInvocation(['status', 'x', '--timeout=90'])).toMatchObject({ timeoutMs: 90_000 });
    expect(parseInvocation(['status', 'x', '--timeout', '0'])).not.toHaveProperty('timeoutMs');
    expect(parseInvocation(['promote', 'x', '--full'])).toMatchObject({ command: 'promote', full: true });
    for (const command of ['abort', 'retry', 'pause', 'resume', 'restart'] as const) {
      expect(parseInvocation([command, 'x'])).toEqual({ command, kube: {}, name: 'x' });
    }
    expect(parseInvocation(['undo', 'x'])).toEqual({ command: 'undo', kube: {}, name: 'x' });
    expect(parseInvocation(['undo', 'x', '--to-revision', '3'])).toMatchObject({ toRevision: 3 });
    expect(parseInvocation(['set', 'image', 'x', 'app=shop/app:2', 'side=proxy:1.2=rc'])).toEqual({
      command: 'set image',
      kube: {},
      name: 'x',
      images: [
        { container: 'app', image: 'shop/app:2' },
        { container: 'side', image: 'proxy:1.2=rc' },
      ],
    });
  });

  it('asks for help when there is no command or -h, for the command named when there is one', () => {
    expect(parseInvocation([])).toEqual({ command: 'help' });
    expect(parseInvocation(['--help'])).toEqual({ command: 'help' });
    expect(parseInvocation(['help'])).toEqual({ command: 'help' });
    expect(parseInvocation(['promote', '-h'])).toEqual({ command: 'help', topic: 'promote' });
    expect(parseInvocation(['status', 'checkout', '--help'])).toEqual({ command: 'help', topic: 'status' });
    expect(parseInvocation(['help', 'status'])).toEqual({ command: 'help', topic: 'status' });
    expect(parseInvocation(['help', 'get', 'ro'])).toEqual({ command: 'help', topic: 'get rollout' });
    expect(parseInvocation(['help', 'list'])).toEqual({ command: 'help', topic: 'list rollouts' });
    expect(parseInvocation(['list', 'ar', '-h'])).toEqual({ command: 'help', topic: 'list analysisruns' });
    // Help asked of a half-named command is the overview, not a mistake.
    expect(parseInvocation(['get', '--help'])).toEqual({ command: 'help' });
    expect(() => parseInvocation(['help', 'frobnicate'])).toThrow('unknown command "frobnicate"');
  });

  it('takes -o json|yaml where a command prints an object, and --no-color everywhere', () => {
    expect(parseInvocation(['get', 'rollout', 'x', '-o', 'json'])).toMatchObject({ output: 'json' });
    expect(parseInvocation(['list', '-o=yaml'])).toMatchObject({ output: 'yaml' });
    expect(parseInvocation(['list', 'ar', '--output', 'json', '-w'])).toMatchObject({
      output: 'json',
      watch: true,
    });
    expect(parseInvocation(['status', 'x', '-o', 'yaml'])).toMatchObject({ output: 'yaml' });
    expect(parseInvocation(['version', '-o', 'json'])).toMatchObject({ output: 'json' });
    expect(parseInvocation(['promote', 'x', '--no-color'])).toEqual({
      command: 'promote',
      kube: {},
      name: 'x',
      full: false,
      noColor: true,
    });
    expect(() => parseInvocation(['list', '-o', 'wide'])).toThrow(
      '-o/--output must be json or yaml, got "wide"',
    );
    expect(() => parseInvocation(['promote', 'x', '-o', 'json'])).toThrow(
      '-o/--output is not a flag of "promote"',
    );
  });

  it.each([
    [['frobnicate'], 'unknown command "frobnicate"'],
    [['status'], '"status" needs the name of a Rollout'],
    [['abort', 'a', 'b'], 'takes one Rollout name'],
    [['abort', 'x', '--full'], '--full is not a flag of "abort"'],
    [['list', '--full'], '--full is not a flag of "list rollouts"'],
    [['list', '-A', '-n', 'x'], 'exclude each other'],
    [['list', 'rollouts', 'extra'], '"list rollouts" takes no arguments'],
    [['list', 'pods'], 'unknown "list" subcommand "pods"'],
    [['list', 'toString'], 'unknown "list" subcommand "toString"'],
    [['undo', 'x', '--to-revision', 'two'], '--to-revision must be a revision number'],
    [['undo', 'x', '--to-revision', '0'], '--to-revision must be a revision number'],
    [['set', 'x'], 'unknown "set" subcommand "x"'],
    [['set'], '"set" needs a subcommand'],
    [['set', 'image', 'x'], 'at least one CONTAINER=IMAGE'],
    [['set', 'image', 'x', 'app'], 'expected CONTAINER=IMAGE, got "app"'],
    [['set', 'image', 'x', '=img'], 'expected CONTAINER=IMAGE'],
    [['set', 'image', 'x', 'app='], 'expected CONTAINER=IMAGE'],
    [['status', 'x', '--bogus'], "Unknown option '--bogus'"],
    [['status', 'x', '--timeout', 'soon'], '--timeout must be a duration'],
    [['get', 'rollout', 'x', '--watch=false'], '--watch=false is not a flag of "get rollout"'],
    [['get', 'pods', 'x'], 'unknown "get" subcommand "pods"'],
    [['get'], '"get" needs a subcommand'],
    [['status', 'x', '-n'], "Option '-n, --namespace <value>' argument missing"],
    [['toString', 'x'], 'unknown command "toString"'],
  ])('rejects %j: %s', (argv, message) => {
    expect(() => parseInvocation(argv)).toThrow(UsageError);
    expect(() => parseInvocation(argv)).toThrow(message);
  });
});
