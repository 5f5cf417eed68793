import { parseArgs } from 'node:util';
import { DURATION_PATTERN } from '../crds/common.ts';
import { parseDuration } from '../crds/duration.ts';

/** kubectl's connection flags, accepted by every command. */
export interface KubeFlags {
  namespace?: string;
  context?: string;
  kubeconfig?: string;
  /** --as: the user to impersonate (Impersonate-User). */
  as?: string;
  /** --as-group, repeatable: the groups to impersonate (needs --as, as kubectl has it). */
  asGroups?: string[];
  /** --token: the bearer token to authenticate with, instead of the kubeconfig user's credentials. */
  token?: string;
  /** --server / -s: the API server's address, instead of the kubeconfig cluster's. */
  server?: string;
  /** --request-timeout: how long one request may take (watches excepted); absent or 0: no limit. */
  requestTimeoutMs?: number;
  /** --insecure-skip-tls-verify: do not check the server's certificate. */
  insecureSkipTlsVerify?: true;
  /** --certificate-authority: the CA file the server's certificate is checked against. */
  certificateAuthority?: string;
}

export interface ImageChange {
  container: string;
  image: string;
}

export type SignalCommand = 'promote' | 'abort' | 'retry' | 'pause' | 'resume' | 'restart';

/** What `list` lists: Rollouts (also `list` alone, as before) or AnalysisRuns. */
export type Listed = 'rollouts' | 'analysisruns';

/** The shells `completion` writes a script for. */
export type Shell = 'bash' | 'zsh' | 'fish';
export const SHELLS: readonly Shell[] = ['bash', 'zsh', 'fish'];

/** `-o json|yaml`: the object a command prints, for scripts, instead of the text for people. */
export type OutputFormat = 'json' | 'yaml';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['json', 'yaml'];

/** What every command shares: where to connect, and how to print. */
interface Common {
  kube: KubeFlags;
  /** Only where the command prints an object (OUTPUT_COMMANDS); absent: text for people. */
  output?: OutputFormat;
  /** --no-color given (colour is also off when stdout is not a terminal or NO_COLOR is set). */
  noColor?: true;
}

export type Invocation =
  | { command: 'help'; topic?: CommandName }
  | (Common &
      (
        | { command: `list ${Listed}`; allNamespaces: boolean; watch: boolean }
        | { command: 'get rollout'; name: string; watch: boolean }
        | { command: 'status'; name: string; watch: boolean; timeoutMs?: number }
        | { command: 'promote'; name: string; full: boolean }
        | { command: Exclude<SignalCommand, 'promote'>; name: string }
        | { command: 'undo'; name: string; toRevision?: number }
        | { command: 'set image'; name: string; images: ImageChange[] }
        | { command: 'lint'; file: string; prometheus?: string }
        | { command: 'convert'; file: string; allowPartial: boolean }
        | { command: 'version'; controllerNamespace: string }
        | { command: 'completion'; shell: Shell }
      ));

export type CommandName = Exclude<Invocation['command'], 'help'>;

/** Where `deploy/` and the release manifests install the controller. */
export const DEFAULT_CONTROLLER_NAMESPACE = 'sluice-system';

/** A mistake in how the plugin was called: exit code 2, as kubectl does, with a pointer to the usage. */
export class UsageError extends Error {
  override name = 'UsageError';
}

const OPTIONS = {
  namespace: { type: 'string', short: 'n' },
  context: { type: 'string' },
  kubeconfig: { type: 'string' },
  as: { type: 'string' },
  'as-group': { type: 'string', multiple: true },
  token: { type: 'string' },
  server: { type: 'string', short: 's' },
  'request-timeout': { type: 'string' },
  'insecure-skip-tls-verify': { type: 'boolean' },
  'certificate-authority': { type: 'string' },
  'no-color': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  output: { type: 'string', short: 'o' },
  'all-namespaces': { type: 'boolean', short: 'A' },
  watch: { type: 'boolean', short: 'w' },
  timeout: { type: 'string' },
  full: { type: 'boolean' },
  'to-revision': { type: 'string' },
  filename: { type: 'string', short: 'f' },
  prometheus: { type: 'string' },
  'allow-partial': { type: 'boolean' },
  'controller-namespace': { type: 'string' },
} as const;

export type OptionName = keyof typeof OPTIONS;

/** Flags every command takes, as kubectl's, with what their help says. */
export const GLOBAL_FLAGS: Readonly<Partial<Record<OptionName, string>>> = {
  namespace: 'namespace (default: the context\'s namespace, else "default")',
  context: 'kubeconfig context to use',
  kubeconfig: 'kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)',
  as: 'user to impersonate for the requests',
  'as-group': 'group to impersonate (repeat for several; needs --as)',
  token: "bearer token to authenticate with, instead of the kubeconfig user's credentials",
  server: "the API server's address, instead of the kubeconfig cluster's",
  'request-timeout': 'longest wait for one request (30s, 1m; watches excepted; 0: none)',
  'insecure-skip-tls-verify': "do not check the server's certificate (insecure)",
  'certificate-authority': "CA file to check the server's certificate against",
  'no-color': 'no colours (also off when stdout is not a terminal or NO_COLOR is set)',
  help: 'show help (for a command: kubectl sluice COMMAND --help)',
};

/** The placeholder a flag's value has in help, for flags that take one. */
const FLAG_VALUES: Readonly<Partial<Record<OptionName, string>>> = {
  namespace: 'NAME',
  context: 'NAME',
  kubeconfig: 'PATH',
  as: 'USER',
  'as-group': 'GROUP',
  token: 'TOKEN',
  server: 'URL',
  'request-timeout': 'D',
  'certificate-authority': 'PATH',
  output: 'json|yaml',
  timeout: 'D',
  'to-revision': 'N',
  filename: 'FILE',
  prometheus: 'URL',
  'controller-namespace': 'NS',
};

const OUTPUT_HELP = 'print the object (json or yaml) instead of text';

/** One command: how it is called, what it does, its own flags and examples, for help and completion. */
export interface CommandSpec {
  /** What follows `kubectl sluice`, as the overview lists it. */
  synopsis: string;
  /** The overview's line(s) for it. */
  summary: string;
  /** The command's help, after its synopsis. */
  description: string;
  /** Flags beyond the global ones, with what each means here; any other flag is a usage error. */
  flags: Readonly<Partial<Record<OptionName, string>>>;
  examples: readonly string[];
  /** Its operand is a Rollout's name (completion offers the names in the namespace). */
  rolloutName?: true;
}

export const COMMANDS: Readonly<Record<CommandName, CommandSpec>> = {
  'list rollouts': {
    synopsis: 'list [rollouts] [-A] [-w]',
    summary: 'Rollouts with their phase, strategy, weight, step and revisions',
    description:
      'Lists the Rollouts of the namespace (every namespace with -A), as kubectl get does: phase,\n' +
      'strategy, canary weight, step, current and stable revision, age. `list` alone lists Rollouts.',
    flags: {
      'all-namespaces': 'every namespace (a NAMESPACE column leads)',
      watch: 'then a row each time a Rollout is added, changes or is deleted, until Ctrl-C',
      output: OUTPUT_HELP,
    },
    examples: [
      'kubectl sluice list -n shop',
      'kubectl sluice list rollouts -A -w',
      'kubectl sluice list -o json | jq -r \'.items[] | select(.status.phase == "Degraded") | .metadata.name\'',
    ],
  },
  'list analysisruns': {
    synopsis: 'list analysisruns [-A] [-w]',
    summary: "AnalysisRuns with their Rollout, gate, phase and each metric's verdict",
    description:
      'Lists the AnalysisRuns of the namespace (every namespace with -A): the Rollout and gate each\n' +
      'judges (background, step N, prePromotion, postPromotion), its phase, and every metric with its\n' +
      'verdict and looks so far (✔ successful, ✖ failed, ? inconclusive, ⚠ error).',
    flags: {
      'all-namespaces': 'every namespace (a NAMESPACE column leads)',
      watch: 'then a row each time a run is added, changes or is deleted, until Ctrl-C',
      output: OUTPUT_HELP,
    },
    examples: ['kubectl sluice list analysisruns -n shop', 'kubectl sluice list ar -A -w'],
  },
  'get rollout': {
    synopsis: 'get rollout NAME [-w|--watch]',
    summary: 'a tree of revisions, pods, weight, step, pause, analysis and events',
    description:
      "Shows one Rollout as a tree: phase and message, step and canary weight (or blue-green's\n" +
      'active and preview revisions), a pause and how it ends, its analysis and what the gates can\n' +
      'see, requests not yet taken up, each revision with its ReplicaSet and pods, the last five\n' +
      'Events, and the history of releases. With -o, the same as one object: the Rollout, its\n' +
      'revisions, pods and events.',
    flags: {
      watch: 'redraw on every change of the Rollout or its ReplicaSets, until Ctrl-C',
      output: OUTPUT_HELP,
    },
    examples: [
      'kubectl sluice get rollout checkout -n shop',
      'kubectl sluice get rollout checkout -w',
      "kubectl sluice get rollout checkout -o json | jq '.pods[] | select(.ready | not) | .name'",
    ],
    rolloutName: true,
  },
  status: {
    synopsis: 'status NAME [--timeout D] [--watch=false]',
    summary:
      'wait for the release to end, printing where it stands: exit 0\n' +
      'Healthy, 1 Degraded, Stalled or timed out (as argo rollouts status)',
    description:
      'Waits for the release to end, as a pipeline waits on `kubectl argo rollouts status`: a line\n' +
      'each time where it stands changes, then exit 0 when Healthy, 1 when Degraded or Stalled, or\n' +
      'when --timeout passes (saying it timed out). A status older than the spec (the controller has\n' +
      'not observed the latest generation) never ends it. With -o, the lines go to stderr and the\n' +
      'final state is printed as one object.',
    flags: {
      timeout: 'give up after this long (30s, 15m, 1h, or whole seconds; 0: wait for ever)',
      watch: '--watch=false: print where the release stands once, exit 1 only if Degraded or Stalled',
      output: OUTPUT_HELP,
    },
    examples: [
      'kubectl sluice status checkout -n shop --timeout 15m',
      'kubectl sluice status checkout --watch=false',
      'kubectl apply -f rollout.yaml && kubectl sluice status checkout --timeout 30m || kubectl sluice abort checkout',
    ],
    rolloutName: true,
  },
  promote: {
    synopsis: 'promote NAME [--full]',
    summary: 'continue past a pause, or (--full) skip every remaining step',
    description:
      'Asks the controller to continue past the current pause (a step `pause: {}`, or a blue-green\n' +
      'preview waiting for a person), or with --full to skip every remaining step. It is a request in\n' +
      "the Rollout's status, which a GitOps sync does not undo; the controller acts on it at its next\n" +
      'reconcile.',
    flags: { full: 'skip every remaining step and analysis: all traffic to the new revision' },
    examples: ['kubectl sluice promote checkout -n shop', 'kubectl sluice promote checkout --full'],
    rolloutName: true,
  },
  abort: {
    synopsis: 'abort NAME',
    summary: 'stop the release: traffic back to the stable revision',
    description:
      'Stops the release in progress: all traffic back to the stable revision, the new one scaled\n' +
      'down after abortScaleDownDelaySeconds. The Rollout stays Degraded until `retry` or a new\n' +
      'pod template.',
    flags: {},
    examples: ['kubectl sluice abort checkout -n shop'],
    rolloutName: true,
  },
  retry: {
    synopsis: 'retry NAME',
    summary: 'start an aborted release again',
    description: 'Starts an aborted release again from its first step.',
    flags: {},
    examples: ['kubectl sluice retry checkout -n shop'],
    rolloutName: true,
  },
  pause: {
    synopsis: 'pause NAME',
    summary: 'hold the release where it is',
    description: 'Holds the release where it is: weights and steps stay until `resume`.',
    flags: {},
    examples: ['kubectl sluice pause checkout -n shop'],
    rolloutName: true,
  },
  resume: {
    synopsis: 'resume NAME',
    summary: 'let a paused release continue',
    description: 'Lets a release held by `pause` continue.',
    flags: {},
    examples: ['kubectl sluice resume checkout -n shop'],
    rolloutName: true,
  },
  restart: {
    synopsis: 'restart NAME',
    summary: "replace its pods one at a time (as Argo's restart, without writing spec)",
    description:
      "Asks the controller to replace the pods of the Rollout's stable and canary ReplicaSets created\n" +
      'before now, one at a time, each only once every other pod is ready (evicted, so a\n' +
      "PodDisruptionBudget is honoured). As Argo Rollouts' restart, but a request in status rather\n" +
      'than spec.restartAt, which git owns (a restartAt written in git works too). status.restartedAt\n' +
      'records when every pod is newer; get rollout shows where it stands.',
    flags: {},
    examples: [
      'kubectl sluice restart checkout -n shop',
      'kubectl sluice restart checkout && kubectl sluice get rollout checkout -w',
    ],
    rolloutName: true,
  },
  undo: {
    synopsis: 'undo NAME [--to-revision N]',
    summary: "put an earlier revision's pod template back into the Rollout",
    description:
      "Puts an earlier revision's pod template back into spec.template (the previous one, or N),\n" +
      'which starts a release of it. spec is what git holds: the next GitOps sync reverts the\n' +
      'change unless git changes too, and the command says so.',
    flags: { 'to-revision': 'the revision number to go back to (as get rollout lists them)' },
    examples: ['kubectl sluice undo checkout -n shop', 'kubectl sluice undo checkout --to-revision 3'],
    rolloutName: true,
  },
  'set image': {
    synopsis: 'set image NAME CONTAINER=IMAGE…',
    summary: "change container images in the Rollout's pod template",
    description:
      "Changes container (or init container) images in the Rollout's pod template, which starts a\n" +
      'release. spec is what git holds: the next GitOps sync reverts the change unless git changes too.',
    flags: {},
    examples: [
      'kubectl sluice set image checkout app=shop/checkout:1.1.0 -n shop',
      'kubectl sluice set image checkout app=shop/checkout:1.1.0 proxy=envoy:1.31',
    ],
    rolloutName: true,
  },
  lint: {
    synopsis: 'lint -f FILE [--prometheus URL]',
    summary:
      'what the API server would refuse in a Rollout file, and (with a\n' +
      'Prometheus) what its compareToStable gates can see',
    description:
      'Reads a file of Rollouts and AnalysisTemplates (no cluster needed) and says per object what\n' +
      'the schema would refuse, field by field; with --prometheus, what each compareToStable gate can\n' +
      "see in the time its steps allow, from the last hour's traffic. Exit 1 when something would be\n" +
      'refused, a gate cannot see its configured regression, or Prometheus does not answer.',
    flags: {
      filename: 'the file to read (up to 1 MiB, every YAML document in it)',
      prometheus: 'the Prometheus to ask for the traffic history (5 s deadline)',
    },
    examples: [
      'kubectl sluice lint -f rollout.yaml',
      'kubectl sluice lint -f rollout.yaml --prometheus http://prometheus.monitoring:9090',
    ],
  },
  convert: {
    synopsis: 'convert -f FILE|- [--allow-partial]',
    summary:
      "Argo Rollouts' Rollout, AnalysisTemplate, ClusterAnalysisTemplate\n" +
      "(and Flagger's Canary with its MetricTemplates) as Sluice's, on\n" +
      'stdout; what cannot be carried over, by field path, on stderr:\n' +
      'exit 1 and nothing written unless --allow-partial',
    description:
      "Reads Argo Rollouts' Rollout, AnalysisTemplate and ClusterAnalysisTemplate (and Flagger's\n" +
      "Canary with its MetricTemplates) from FILE, or stdin with -f -, and writes them as Sluice's on\n" +
      'stdout, comments kept, expr conditions translated into CEL. What cannot be carried over is\n' +
      'listed on stderr by field path with the reason; then the exit code is 1 and nothing is\n' +
      'written, unless --allow-partial. No cluster needed.',
    flags: {
      filename: 'the file to read (- for stdin)',
      'allow-partial': 'write what converts even when some fields cannot be carried over',
    },
    examples: [
      'kubectl sluice convert -f argo-rollout.yaml > rollout.yaml',
      'kubectl get rollouts.argoproj.io checkout -o yaml | kubectl sluice convert -f - --allow-partial',
    ],
  },
  version: {
    synopsis: 'version [--controller-namespace NS]',
    summary: "this plugin's version and the controller's (its Deployment\n" + 'in NS, default sluice-system)',
    description:
      "Prints this plugin's version and the controller's, read from the sluice-controller\n" +
      "Deployment's app.kubernetes.io/version label (its image tag without one). When that cannot be\n" +
      'read, the controller is "unknown (why)" and the exit code is still 0.',
    flags: {
      'controller-namespace': `where the controller runs (default ${DEFAULT_CONTROLLER_NAMESPACE})`,
      output: OUTPUT_HELP,
    },
    examples: ['kubectl sluice version', 'kubectl sluice version -o json'],
  },
  completion: {
    synopsis: 'completion bash|zsh|fish',
    summary: 'a shell script that completes commands, flags and Rollout names',
    description:
      "Prints a script for the shell that completes kubectl-sluice's commands, flags, namespaces,\n" +
      'contexts and the names of Rollouts (read from the cluster, 2 s at most). For `kubectl sluice`\n' +
      'itself, kubectl (1.26+) completes a plugin through kubectl_complete-sluice on the PATH, which\n' +
      'the npm package installs (krew: ln -s kubectl-sluice kubectl_complete-sluice). In bash, for\n' +
      'this shell only: source <(kubectl sluice completion bash).',
    flags: {},
    examples: [
      'kubectl sluice completion bash > /etc/bash_completion.d/kubectl-sluice',
      'kubectl sluice completion zsh > ~/.zfunc/_kubectl-sluice   # a directory on $fpath',
      'kubectl sluice completion fish > ~/.config/fish/completions/kubectl-sluice.fish',
    ],
  },
};

/** The commands whose output -o turns into an object. */
export const OUTPUT_COMMANDS = (Object.keys(COMMANDS) as CommandName[]).filter(
  (c) => COMMANDS[c].flags.output !== undefined,
);

/** `-n, --namespace NAME` as help shows a flag. */
export function flagUsage(option: OptionName): string {
  const short = (OPTIONS[option] as { short?: string }).short;
  const value = FLAG_VALUES[option];
  return `${short ? `-${short}, ` : '    '}--${option}${value ? ` ${value}` : ''}`;
}

function flagName(option: OptionName): string {
  const short = (OPTIONS[option] as { short?: string }).short;
  return short ? `-${short}/--${option}` : `--${option}`;
}

/** Lines `  name   text`, the texts aligned at `width`, a text's further lines under its first. */
function columns(rows: [string, string][], width: number): string[] {
  return rows.flatMap(([left, text]) => {
    const [first, ...more] = text.split('\n');
    const pad = ' '.repeat(width + 4);
    const head =
      left.length <= width ? [`  ${left.padEnd(width)}  ${first}`] : [`  ${left}`, `${pad}${first}`];
    return [...head, ...more.map((line) => `${pad}${line}`)];
  });
}

const flagRows = (flags: Readonly<Partial<Record<OptionName, string>>>): [string, string][] =>
  (Object.entries(flags) as [OptionName, string][]).map(([option, text]) => [
    option === 'watch' && text.startsWith('--watch=false') ? '    --watch=false' : flagUsage(option),
    option === 'watch' && text.startsWith('--watch=false') ? text.replace(/^--watch=false: /, '') : text,
  ]);

export const USAGE = [
  'Usage: kubectl sluice <command> [NAME] [flags]',
  '',
  'Commands:',
  ...columns(
    [
      ...(Object.values(COMMANDS).map((c) => [c.synopsis, c.summary]) as [string, string][]),
      ['help [COMMAND]', "a command's flags and examples (also COMMAND --help)"],
    ],
    31,
  ),
  '',
  'Flags (every command, as kubectl):',
  ...columns(flagRows(GLOBAL_FLAGS), 21),
  '',
  `-o json|yaml prints the object instead of text (${OUTPUT_COMMANDS.join(', ')}).`,
].join('\n');

/** `kubectl sluice status --help`: what the command does, its flags and examples. */
export function commandHelp(command: CommandName): string {
  const spec = COMMANDS[command];
  const own = flagRows(spec.flags);
  return [
    `Usage: kubectl sluice ${spec.synopsis} [flags]`,
    '',
    spec.description,
    ...(own.length ? ['', 'Flags:', ...columns(own, 24)] : []),
    '',
    'Examples:',
    ...spec.examples.map((e) => `  ${e}`),
    '',
    `Global flags: ${(Object.keys(GLOBAL_FLAGS) as OptionName[]).map(flagName).join(', ')} (kubectl sluice --help)`,
  ].join('\n');
}

/** The names `list` takes for what it lists, kubectl's short names among them. */
const LISTED: Readonly<Record<string, Listed>> = {
  rollouts: 'rollouts',
  rollout: 'rollouts',
  ro: 'rollouts',
  analysisruns: 'analysisruns',
  analysisrun: 'analysisruns',
  ar: 'analysisruns',
};

/** The command the words name and the words after it: `get ro x` is `get rollout` with `x`. */
function resolveCommand(verb: string, rest: string[]): { command: CommandName; operands: string[] } {
  const [what, ...after] = rest;
  switch (verb) {
    case 'get':
      if (what !== 'rollout' && what !== 'rollouts' && what !== 'ro') {
        throw new UsageError(
          what === undefined ? '"get" needs a subcommand: get rollout' : `unknown "get" subcommand "${what}"`,
        );
      }
      return { command: 'get rollout', operands: after };
    case 'set':
      if (what !== 'image') {
        throw new UsageError(
          what === undefined ? '"set" needs a subcommand: set image' : `unknown "set" subcommand "${what}"`,
        );
      }
      return { command: 'set image', operands: after };
    case 'list': {
      const listed = what === undefined ? 'rollouts' : Object.hasOwn(LISTED, what) ? LISTED[what] : undefined;
      if (listed === undefined) throw new UsageError(`unknown "list" subcommand "${what}"`);
      return { command: `list ${listed}`, operands: after };
    }
  }
  if (Object.hasOwn(COMMANDS, verb) && !verb.includes(' '))
    return { command: verb as CommandName, operands: rest };
  throw new UsageError(`unknown command "${verb}"`);
}

/** Turns argv (what follows `kubectl sluice`) into a command; throws UsageError on anything malformed. */
export function parseInvocation(argv: string[]): Invocation {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>;
  // `--watch=false`, as kubectl and argo rollouts write a boolean off; parseArgs knows no value for one.
  let watchOff = false;
  const args = argv
    .filter((a) => {
      if (a === '--watch=false') watchOff = true;
      return a !== '--watch=false' && a !== '--watch=true';
    })
    // `-o=yaml`, `-n=shop`, as pflag reads them; parseArgs would take "=yaml" for the value.
    .flatMap((a) => (/^-[a-zA-Z]=/.test(a) ? [a.slice(0, 2), a.slice(3)] : [a]));
  try {
    parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    // parseArgs' messages are precise but long ("Unknown option '--x'. To specify a positional…"); keep the first sentence.
    const message = err instanceof Error ? err.message.split('. ')[0]! : String(err);
    throw new UsageError(message.replace(/\.$/, ''));
  }
  const { values, positionals } = parsed;
  const [verb, ...rest] = positionals;
  if (verb === undefined) return { command: 'help' };
  if (verb === 'help') {
    // `help get rollout`, `help status`: the words name the command (an operand after it is ignored).
    const [topic, ...more] = rest;
    return topic === undefined
      ? { command: 'help' }
      : { command: 'help', topic: resolveCommand(topic, more).command };
  }

  if (values.help) {
    // `status x --help` is status' help; `get --help`, with no command named in full, the overview.
    try {
      return { command: 'help', topic: resolveCommand(verb, rest).command };
    } catch {
      return { command: 'help' };
    }
  }
  const { command, operands } = resolveCommand(verb, rest);

  const own = COMMANDS[command].flags;
  for (const option of Object.keys(values) as OptionName[]) {
    if (!Object.hasOwn(GLOBAL_FLAGS, option) && !Object.hasOwn(own, option)) {
      throw new UsageError(`${flagName(option)} is not a flag of "${command}"`);
    }
  }
  if (watchOff && command !== 'status') throw new UsageError(`--watch=false is not a flag of "${command}"`);

  const common: Common = { kube: kubeFlagsOf(values) };
  const { kube } = common;
  if (values['no-color']) common.noColor = true;
  if (values.output !== undefined) {
    if (!(OUTPUT_FORMATS as readonly string[]).includes(values.output))
      throw new UsageError(`-o/--output must be json or yaml, got "${values.output}"`);
    common.output = values.output as OutputFormat;
  }

  if (command === 'list rollouts' || command === 'list analysisruns') {
    if (operands.length > 0)
      throw new UsageError(`"${command}" takes no arguments, got "${operands.join(' ')}"`);
    if (values['all-namespaces'] && kube.namespace !== undefined) {
      throw new UsageError('-A/--all-namespaces and -n/--namespace exclude each other');
    }
    return {
      command,
      ...common,
      allNamespaces: values['all-namespaces'] ?? false,
      watch: values.watch ?? false,
    };
  }

  if (command === 'lint') {
    if (operands.length > 0)
      throw new UsageError(`"lint" takes no arguments, got "${operands.join(' ')}" (give the file with -f)`);
    if (values.filename === undefined) throw new UsageError('"lint" needs a Rollout file: -f FILE');
    const file = nonEmpty(values.filename, '--filename');
    if (values.prometheus === undefined) return { command, ...common, file };
    const prometheus = nonEmpty(values.prometheus, '--prometheus');
    if (!/^https?:\/\/[^/?#]+/.test(prometheus))
      throw new UsageError(`--prometheus must be an http:// or https:// URL, got "${prometheus}"`);
    return { command, ...common, file, prometheus };
  }

  if (command === 'convert') {
    if (operands.length > 0)
      throw new UsageError(
        `"convert" takes no arguments, got "${operands.join(' ')}" (give the file with -f)`,
      );
    if (values.filename === undefined)
      throw new UsageError('"convert" needs a file: -f FILE (or -f - for stdin)');
    return {
      command,
      ...common,
      file: nonEmpty(values.filename, '--filename'),
      allowPartial: values['allow-partial'] ?? false,
    };
  }

  if (command === 'completion') {
    const [shell, ...more] = operands;
    if (shell === undefined || !(SHELLS as readonly string[]).includes(shell) || more.length > 0)
      throw new UsageError(
        `"completion" needs one shell: bash, zsh or fish${shell ? `, got "${operands.join(' ')}"` : ''}`,
      );
    return { command, ...common, shell: shell as Shell };
  }

  if (command === 'version') {
    if (operands.length > 0)
      throw new UsageError(`"version" takes no arguments, got "${operands.join(' ')}"`);
    const raw = values['controller-namespace'];
    const controllerNamespace =
      raw === undefined ? DEFAULT_CONTROLLER_NAMESPACE : nonEmpty(raw, '--controller-namespace');
    return { command, ...common, controllerNamespace };
  }

  const [name, ...more] = operands;
  if (name === undefined) throw new UsageError(`"${command}" needs the name of a Rollout`);

  switch (command) {
    case 'set image': {
      if (more.length === 0) throw new UsageError('"set image" needs at least one CONTAINER=IMAGE');
      return { command, ...common, name, images: more.map(parseImageChange) };
    }
    case 'undo': {
      noMore(command, more);
      const raw = values['to-revision'];
      if (raw === undefined) return { command, ...common, name };
      if (!/^[1-9][0-9]*$/.test(raw)) {
        throw new UsageError(`--to-revision must be a revision number (1, 2, …), got "${raw}"`);
      }
      return { command, ...common, name, toRevision: Number(raw) };
    }
    case 'get rollout':
      noMore(command, more);
      return { command, ...common, name, watch: values.watch ?? false };
    case 'status': {
      noMore(command, more);
      const watch = !watchOff;
      const timeoutMs = values.timeout === undefined ? undefined : parseTimeout(values.timeout);
      return timeoutMs === undefined
        ? { command, ...common, name, watch }
        : { command, ...common, name, watch, timeoutMs };
    }
    case 'promote':
      noMore(command, more);
      return { command, ...common, name, full: values.full ?? false };
    case 'abort':
    case 'retry':
    case 'pause':
    case 'resume':
    case 'restart':
      noMore(command, more);
      return { command, ...common, name };
  }
}

/** The flags as parseArgs gives them (strings, booleans, or lists of strings). */
export type FlagValues = { [K in OptionName]?: string | boolean | (string | boolean)[] };

/**
 * Lenient: what the words say, whatever else is wrong with them (unknown flags, a flag without its
 * value), for completion, which reads a command line still being typed.
 */
export function parseLenient(words: string[]): { values: FlagValues; positionals: string[] } {
  const { values, positionals } = parseArgs({
    args: words.flatMap((a) => (/^-[a-zA-Z]=/.test(a) ? [a.slice(0, 2), a.slice(3)] : [a])),
    options: OPTIONS,
    allowPositionals: true,
    strict: false,
  });
  return { values: values as FlagValues, positionals };
}

/** Whether `word` (`-n`, `--namespace`) is a flag whose value is the next word. */
export function takesValue(word: string): OptionName | undefined {
  const long = word.startsWith('--')
    ? word.slice(2)
    : (Object.keys(OPTIONS) as OptionName[]).find(
        (o) => `-${(OPTIONS[o] as { short?: string }).short}` === word,
      );
  if (long === undefined || !Object.hasOwn(OPTIONS, long)) return undefined;
  return OPTIONS[long as OptionName].type === 'string' ? (long as OptionName) : undefined;
}

/** kubectl's connection flags: where to connect, as whom, how long to wait. Throws UsageError. */
export function kubeFlagsOf(values: FlagValues): KubeFlags {
  const text = (option: OptionName): string | undefined => {
    const v = values[option];
    return typeof v === 'string' ? v : undefined;
  };
  const kube: KubeFlags = {};
  for (const [option, key] of [
    ['namespace', 'namespace'],
    ['context', 'context'],
    ['kubeconfig', 'kubeconfig'],
  ] as const) {
    const v = text(option);
    if (v !== undefined) kube[key] = nonEmpty(v, `--${option}`);
  }
  const groups = values['as-group'];
  return Object.assign(
    kube,
    connectionFlags({
      as: text('as'),
      'as-group': Array.isArray(groups) ? groups.filter((g) => typeof g === 'string') : undefined,
      token: text('token'),
      server: text('server'),
      'request-timeout': text('request-timeout'),
      'insecure-skip-tls-verify': values['insecure-skip-tls-verify'] === true,
      'certificate-authority': text('certificate-authority'),
    }),
  );
}

/** kubectl's flags for who asks and where: applied to the kubeconfig by cli/kube.ts. */
function connectionFlags(values: {
  as?: string | undefined;
  'as-group'?: string[] | undefined;
  token?: string | undefined;
  server?: string | undefined;
  'request-timeout'?: string | undefined;
  'insecure-skip-tls-verify'?: boolean;
  'certificate-authority'?: string | undefined;
}): Partial<KubeFlags> {
  const flags: Partial<KubeFlags> = {};
  if (values.as !== undefined) flags.as = nonEmpty(values.as, '--as');
  if (values['as-group'] !== undefined) {
    // kubectl's rule: groups are impersonated only together with a user.
    if (flags.as === undefined) throw new UsageError('--as-group needs --as (the user to impersonate)');
    flags.asGroups = values['as-group'].map((g) => nonEmpty(g, '--as-group'));
  }
  if (values.token !== undefined) flags.token = nonEmpty(values.token, '--token');
  if (values.server !== undefined) {
    const server = nonEmpty(values.server, '--server');
    if (!/^https?:\/\/[^/?#]+/.test(server))
      throw new UsageError(`--server must be an http:// or https:// URL, got "${server}"`);
    flags.server = server;
  }
  if (values['request-timeout'] !== undefined) {
    const ms = parseTimeout(values['request-timeout'], '--request-timeout');
    if (ms !== undefined) flags.requestTimeoutMs = ms;
  }
  if (values['certificate-authority'] !== undefined)
    flags.certificateAuthority = nonEmpty(values['certificate-authority'], '--certificate-authority');
  if (values['insecure-skip-tls-verify']) {
    if (flags.certificateAuthority !== undefined)
      throw new UsageError('--insecure-skip-tls-verify and --certificate-authority exclude each other');
    flags.insecureSkipTlsVerify = true;
  }
  return flags;
}

/** `--timeout 5m` (or whole seconds, `300`): how long to wait; 0 waits for ever, as unset. */
function parseTimeout(raw: string, flag = '--timeout'): number | undefined {
  if (/^[0-9]+$/.test(raw)) return Number(raw) === 0 ? undefined : Number(raw) * 1000;
  if (!new RegExp(DURATION_PATTERN).test(raw))
    throw new UsageError(`${flag} must be a duration (30s, 5m, 1h) or whole seconds, got "${raw}"`);
  const ms = parseDuration(raw);
  return ms === 0 ? undefined : ms;
}

function nonEmpty(value: string, flag: string): string {
  if (value === '') throw new UsageError(`${flag} needs a value`);
  return value;
}

function noMore(command: string, extra: string[]): void {
  if (extra.length > 0)
    throw new UsageError(`"${command}" takes one Rollout name, got also "${extra.join(' ')}"`);
}

function parseImageChange(arg: string): ImageChange {
  const at = arg.indexOf('=');
  const container = arg.slice(0, at);
  const image = arg.slice(at + 1);
  if (at <= 0 || image === '') throw new UsageError(`expected CONTAINER=IMAGE, got "${arg}"`);
  return { container, image };
}
