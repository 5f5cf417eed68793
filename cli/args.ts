import { parseArgs } from 'node:util';
import { DURATION_PATTERN } from '../crds/common.ts';
import { parseDuration } from '../crds/duration.ts';

/** kubectl's connection flags, accepted by every command. */
export interface KubeFlags {
  namespace?: string;
  context?: string;
  kubeconfig?: string;
}

export interface ImageChange {
  container: string;
  image: string;
}

export type SignalCommand = 'promote' | 'abort' | 'retry' | 'pause' | 'resume';

/** What `list` lists: Rollouts (also `list` alone, as before) or AnalysisRuns. */
export type Listed = 'rollouts' | 'analysisruns';

export type Invocation =
  | { command: 'help' }
  | { command: `list ${Listed}`; kube: KubeFlags; allNamespaces: boolean; watch: boolean }
  | { command: 'get rollout'; kube: KubeFlags; name: string; watch: boolean }
  | { command: 'status'; kube: KubeFlags; name: string; watch: boolean; timeoutMs?: number }
  | { command: 'promote'; kube: KubeFlags; name: string; full: boolean }
  | { command: Exclude<SignalCommand, 'promote'>; kube: KubeFlags; name: string }
  | { command: 'undo'; kube: KubeFlags; name: string; toRevision?: number }
  | { command: 'set image'; kube: KubeFlags; name: string; images: ImageChange[] }
  | { command: 'lint'; kube: KubeFlags; file: string; prometheus?: string }
  | { command: 'version'; kube: KubeFlags; controllerNamespace: string };

export type CommandName = Exclude<Invocation['command'], 'help'>;

/** Where `deploy/` and the release manifests install the controller. */
export const DEFAULT_CONTROLLER_NAMESPACE = 'sluice-system';

/** A mistake in how the plugin was called: exit code 2, as kubectl does, with a pointer to the usage. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const USAGE = `Usage: kubectl sluice <command> [NAME] [flags]

Commands:
  list [rollouts] [-A] [-w]        Rollouts with their phase, strategy, weight, step and revisions
  list analysisruns [-A] [-w]      AnalysisRuns with their Rollout, gate, phase and each metric's verdict
  get rollout NAME [-w|--watch]    a tree of revisions, pods, weight, step, pause, analysis and events
  status NAME [--timeout D] [--watch=false]
                                   wait for the release to end, printing where it stands: exit 0
                                   Healthy, 1 Degraded, Stalled or timed out (as argo rollouts status)
  promote NAME [--full]            continue past a pause, or (--full) skip every remaining step
  abort NAME                       stop the release: traffic back to the stable revision
  retry NAME                       start an aborted release again
  pause NAME                       hold the release where it is
  resume NAME                      let a paused release continue
  undo NAME [--to-revision N]      put an earlier revision's pod template back into the Rollout
  set image NAME CONTAINER=IMAGE…  change container images in the Rollout's pod template
  lint -f FILE [--prometheus URL]  what the API server would refuse in a Rollout file, and (with a
                                   Prometheus) what its compareToStable gates can see
  version [--controller-namespace NS]
                                   this plugin's version and the controller's (its Deployment
                                   in NS, default sluice-system)

Flags (every command, as kubectl):
  -n, --namespace NAME   namespace (default: the context's namespace, else "default")
      --context NAME     kubeconfig context to use
      --kubeconfig PATH  kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)
  -h, --help             show this help`;

const OPTIONS = {
  namespace: { type: 'string', short: 'n' },
  context: { type: 'string' },
  kubeconfig: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  'all-namespaces': { type: 'boolean', short: 'A' },
  watch: { type: 'boolean', short: 'w' },
  timeout: { type: 'string' },
  full: { type: 'boolean' },
  'to-revision': { type: 'string' },
  filename: { type: 'string', short: 'f' },
  prometheus: { type: 'string' },
  'controller-namespace': { type: 'string' },
} as const;

type OptionName = keyof typeof OPTIONS;

const COMMON: readonly OptionName[] = ['namespace', 'context', 'kubeconfig', 'help'];

/** Flags beyond the common ones that each command understands; anything else is a usage error. */
const EXTRA: Record<CommandName, readonly OptionName[]> = {
  'list rollouts': ['all-namespaces', 'watch'],
  'list analysisruns': ['all-namespaces', 'watch'],
  'get rollout': ['watch'],
  status: ['watch', 'timeout'],
  promote: ['full'],
  abort: [],
  retry: [],
  pause: [],
  resume: [],
  undo: ['to-revision'],
  'set image': [],
  lint: ['filename', 'prometheus'],
  version: ['controller-namespace'],
};

/** The names `list` takes for what it lists, kubectl's short names among them. */
const LISTED: Readonly<Record<string, Listed>> = {
  rollouts: 'rollouts',
  rollout: 'rollouts',
  ro: 'rollouts',
  analysisruns: 'analysisruns',
  analysisrun: 'analysisruns',
  ar: 'analysisruns',
};

function flagName(option: OptionName): string {
  const short = (OPTIONS[option] as { short?: string }).short;
  return short ? `-${short}/--${option}` : `--${option}`;
}

/** Turns argv (what follows `kubectl sluice`) into a command; throws UsageError on anything malformed. */
export function parseInvocation(argv: string[]): Invocation {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>;
  // `--watch=false`, as kubectl and argo rollouts write a boolean off; parseArgs knows no value for one.
  let watchOff = false;
  const args = argv.filter((a) => {
    if (a === '--watch=false') watchOff = true;
    return a !== '--watch=false' && a !== '--watch=true';
  });
  try {
    parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    // parseArgs' messages are precise but long ("Unknown option '--x'. To specify a positional…"); keep the first sentence.
    const message = err instanceof Error ? err.message.split('. ')[0]! : String(err);
    throw new UsageError(message.replace(/\.$/, ''));
  }
  const { values, positionals } = parsed;
  const [verb, ...rest] = positionals;
  if (verb === undefined || verb === 'help' || values.help) return { command: 'help' };

  let command: CommandName;
  let operands: string[];
  if (verb === 'get') {
    const [what, ...after] = rest;
    if (what !== 'rollout' && what !== 'rollouts' && what !== 'ro') {
      throw new UsageError(
        what === undefined ? '"get" needs a subcommand: get rollout' : `unknown "get" subcommand "${what}"`,
      );
    }
    command = 'get rollout';
    operands = after;
  } else if (verb === 'list') {
    const [what, ...after] = rest;
    const listed = what === undefined ? 'rollouts' : Object.hasOwn(LISTED, what) ? LISTED[what] : undefined;
    if (listed === undefined) throw new UsageError(`unknown "list" subcommand "${what}"`);
    command = `list ${listed}`;
    operands = after;
  } else if (verb === 'set') {
    const [what, ...after] = rest;
    if (what !== 'image') {
      throw new UsageError(
        what === undefined ? '"set" needs a subcommand: set image' : `unknown "set" subcommand "${what}"`,
      );
    }
    command = 'set image';
    operands = after;
  } else if (Object.hasOwn(EXTRA, verb) && !verb.includes(' ')) {
    command = verb as CommandName;
    operands = rest;
  } else {
    throw new UsageError(`unknown command "${verb}"`);
  }

  for (const option of Object.keys(values) as OptionName[]) {
    if (!COMMON.includes(option) && !EXTRA[command].includes(option)) {
      throw new UsageError(`${flagName(option)} is not a flag of "${command}"`);
    }
  }
  if (watchOff && command !== 'status') throw new UsageError(`--watch=false is not a flag of "${command}"`);

  const kube: KubeFlags = {};
  if (values.namespace !== undefined) kube.namespace = nonEmpty(values.namespace, '--namespace');
  if (values.context !== undefined) kube.context = nonEmpty(values.context, '--context');
  if (values.kubeconfig !== undefined) kube.kubeconfig = nonEmpty(values.kubeconfig, '--kubeconfig');

  if (command === 'list rollouts' || command === 'list analysisruns') {
    if (operands.length > 0)
      throw new UsageError(`"${command}" takes no arguments, got "${operands.join(' ')}"`);
    if (values['all-namespaces'] && kube.namespace !== undefined) {
      throw new UsageError('-A/--all-namespaces and -n/--namespace exclude each other');
    }
    return { command, kube, allNamespaces: values['all-namespaces'] ?? false, watch: values.watch ?? false };
  }

  if (command === 'lint') {
    if (operands.length > 0)
      throw new UsageError(`"lint" takes no arguments, got "${operands.join(' ')}" (give the file with -f)`);
    if (values.filename === undefined) throw new UsageError('"lint" needs a Rollout file: -f FILE');
    const file = nonEmpty(values.filename, '--filename');
    if (values.prometheus === undefined) return { command, kube, file };
    const prometheus = nonEmpty(values.prometheus, '--prometheus');
    if (!/^https?:\/\/[^/?#]+/.test(prometheus))
      throw new UsageError(`--prometheus must be an http:// or https:// URL, got "${prometheus}"`);
    return { command, kube, file, prometheus };
  }

  if (command === 'version') {
    if (operands.length > 0)
      throw new UsageError(`"version" takes no arguments, got "${operands.join(' ')}"`);
    const raw = values['controller-namespace'];
    const controllerNamespace =
      raw === undefined ? DEFAULT_CONTROLLER_NAMESPACE : nonEmpty(raw, '--controller-namespace');
    return { command, kube, controllerNamespace };
  }

  const [name, ...more] = operands;
  if (name === undefined) throw new UsageError(`"${command}" needs the name of a Rollout`);

  switch (command) {
    case 'set image': {
      if (more.length === 0) throw new UsageError('"set image" needs at least one CONTAINER=IMAGE');
      return { command, kube, name, images: more.map(parseImageChange) };
    }
    case 'undo': {
      noMore(command, more);
      const raw = values['to-revision'];
      if (raw === undefined) return { command, kube, name };
      if (!/^[1-9][0-9]*$/.test(raw)) {
        throw new UsageError(`--to-revision must be a revision number (1, 2, …), got "${raw}"`);
      }
      return { command, kube, name, toRevision: Number(raw) };
    }
    case 'get rollout':
      noMore(command, more);
      return { command, kube, name, watch: values.watch ?? false };
    case 'status': {
      noMore(command, more);
      const watch = !watchOff;
      const timeoutMs = values.timeout === undefined ? undefined : parseTimeout(values.timeout);
      return timeoutMs === undefined
        ? { command, kube, name, watch }
        : { command, kube, name, watch, timeoutMs };
    }
    case 'promote':
      noMore(command, more);
      return { command, kube, name, full: values.full ?? false };
    case 'abort':
    case 'retry':
    case 'pause':
    case 'resume':
      noMore(command, more);
      return { command, kube, name };
  }
}

/** `--timeout 5m` (or whole seconds, `300`): how long `status` waits; 0 waits for ever, as unset. */
function parseTimeout(raw: string): number | undefined {
  if (/^[0-9]+$/.test(raw)) return Number(raw) === 0 ? undefined : Number(raw) * 1000;
  if (!new RegExp(DURATION_PATTERN).test(raw))
    throw new UsageError(`--timeout must be a duration (30s, 5m, 1h) or whole seconds, got "${raw}"`);
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
