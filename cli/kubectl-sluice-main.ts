import { basename } from 'node:path';
import { commandHelp, type Invocation, parseInvocation, USAGE, UsageError } from './args.ts';
import { runComplete, runCompletion } from './commands/completion.ts';
import { runLint } from './commands/lint.ts';
import { runList } from './commands/list.ts';
import { runSignal } from './commands/signal.ts';
import { runGetRollout, runStatus } from './commands/status.ts';
import { runSetImage, runUndo } from './commands/template.ts';
import { runVersion } from './commands/version.ts';
import { CliError } from './errors.ts';
import { colorWanted, type Io, processIo } from './io.ts';
import { connect } from './kube.ts';

async function run(invocation: Exclude<Invocation, { command: 'help' }>, io: Io): Promise<number> {
  // lint reads a file and the Prometheus given: no cluster, no kubeconfig needed.
  if (invocation.command === 'lint')
    return runLint(io, invocation.file, invocation.prometheus, invocation.kube.namespace ?? 'default');
  if (invocation.command === 'completion') return runCompletion(io, invocation.shell);
  // Loaded only when asked for: no other command needs the CEL evaluator or the CRD schema
  // builder, and every command's start would pay for them (bench:plugin).
  if (invocation.command === 'convert') {
    const { runConvert } = await import('./commands/convert.ts');
    return runConvert(io, invocation.file, invocation.allowPartial);
  }
  if (invocation.command === 'version')
    return runVersion(
      io,
      invocation.controllerNamespace,
      () => connect(invocation.kube, 'version').apps,
      undefined,
      invocation.output,
    );
  const kube = connect(invocation.kube, invocation.command);
  switch (invocation.command) {
    case 'list rollouts':
    case 'list analysisruns':
      return runList(kube, io, invocation.command === 'list rollouts' ? 'rollouts' : 'analysisruns', {
        allNamespaces: invocation.allNamespaces,
        watch: invocation.watch,
        ...(invocation.output ? { output: invocation.output } : {}),
      });
    case 'get rollout':
      return runGetRollout(kube, io, invocation.name, invocation.watch, invocation.output);
    case 'status':
      return runStatus(kube, io, invocation.name, {
        watch: invocation.watch,
        ...(invocation.timeoutMs === undefined ? {} : { timeoutMs: invocation.timeoutMs }),
        ...(invocation.output ? { output: invocation.output } : {}),
      });
    case 'promote':
      return runSignal(kube, io, 'promote', invocation.name, invocation.full);
    case 'abort':
    case 'retry':
    case 'pause':
    case 'resume':
    case 'restart':
      return runSignal(kube, io, invocation.command, invocation.name);
    case 'undo':
      return runUndo(kube, io, invocation.name, invocation.toRevision);
    case 'set image':
      return runSetImage(kube, io, invocation.name, invocation.images);
  }
}

/**
 * Entry point of the kubectl plugin; returns the process exit code: 0 done, 1 failed (one line on
 * stderr saying why), 2 called wrongly. `io` lets tests capture output and stop `--watch`.
 */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  // The hidden command the completion scripts call back, also reached as kubectl's plugin
  // completer `kubectl_complete-sluice` (the same program under that name).
  if (argv[0] === '__complete') return runComplete(argv.slice(1), io);
  if (basename(process.argv[1] ?? '').startsWith('kubectl_complete-')) return runComplete(argv, io);
  let invocation: Invocation;
  try {
    invocation = parseInvocation(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`kubectl sluice: ${err.message}\nRun 'kubectl sluice --help' for usage.`);
    return 2;
  }
  if (invocation.command === 'help') {
    io.out(invocation.topic === undefined ? USAGE : commandHelp(invocation.topic));
    return 0;
  }
  const color = colorWanted(io.isTTY, invocation.noColor === true, process.env);
  try {
    return await run(invocation, { ...io, color });
  } catch (err) {
    if (err instanceof CliError) {
      io.err(`error: ${err.message}`);
      return 1;
    }
    // Anything unforeseen still gets one line; the stack is there for those who ask for it.
    const message = err instanceof Error ? err.message : String(err);
    io.err(
      `error: ${message}${process.env.SLUICE_DEBUG ? `\n${err instanceof Error ? err.stack : ''}` : ''}`,
    );
    return 1;
  }
}
