// `kubectl-sluice __complete WORDS… CURRENT`: what may come next on a command line being typed.
// The shell scripts `completion` prints call it back with the words so far, so every shell
// completes from this one place; kubectl (1.26+) calls a plugin's `kubectl_complete-sluice` with
// the same words. The answer is cobra's, which kubectl reads: one candidate a line (`name\tabout`),
// then `:N`, N a set of directives.
import {
  COMMANDS,
  type CommandName,
  GLOBAL_FLAGS,
  type KubeFlags,
  kubeFlagsOf,
  type OptionName,
  OUTPUT_FORMATS,
  parseLenient,
  SHELLS,
  takesValue,
} from './args.ts';

/** cobra's ShellCompDirective bits. */
export const DIRECTIVE = { default: 0, error: 1, noSpace: 2, noFileComp: 4 } as const;

export interface Completion {
  /** `name` or `name\tdescription`. */
  candidates: string[];
  directive: number;
}

/** What only the cluster or the kubeconfig knows. Each may fail or be slow: the caller bounds them. */
export interface Lookup {
  rollouts(kube: KubeFlags): Promise<string[]>;
  namespaces(kube: KubeFlags): Promise<string[]>;
  contexts(kube: KubeFlags): Promise<string[]>;
}

/** Flags whose value is a file: the shell completes paths. */
const FILE_FLAGS: readonly OptionName[] = ['kubeconfig', 'filename', 'certificate-authority'];

/** The first word of each command and what it is about, in COMMANDS' order. */
function verbs(): string[] {
  const seen = new Map<string, string>();
  for (const spec of Object.values(COMMANDS)) {
    const verb = spec.synopsis.split(' ')[0]!;
    if (!seen.has(verb)) seen.set(verb, spec.summary.replace(/\n/g, ' '));
  }
  seen.set('get', 'get rollout NAME: the tree of a Rollout');
  seen.set('set', 'set image NAME CONTAINER=IMAGE…');
  seen.set('list', 'list rollouts or analysisruns');
  seen.set('help', "a command's flags and examples");
  return [...seen].map(([verb, about]) => `${verb}\t${about}`);
}

/** The words after a two-word command's first, by it. */
const SUBCOMMANDS: Readonly<Record<string, readonly string[]>> = {
  get: ['rollout'],
  set: ['image'],
  list: ['rollouts', 'analysisruns'],
  completion: SHELLS,
};

/** The command `positionals` name so far, and how many of its operands are typed. */
function commandOf(positionals: string[]): { command: CommandName; operands: number } | undefined {
  const [verb, what] = positionals;
  const two: Record<string, CommandName | undefined> = {
    'get rollout': 'get rollout',
    'get rollouts': 'get rollout',
    'get ro': 'get rollout',
    'set image': 'set image',
    'list rollouts': 'list rollouts',
    'list ro': 'list rollouts',
    'list analysisruns': 'list analysisruns',
    'list ar': 'list analysisruns',
  };
  const pair = two[`${verb} ${what}`];
  if (pair !== undefined) return { command: pair, operands: positionals.length - 2 };
  if (verb === 'list') return { command: 'list rollouts', operands: positionals.length - 1 };
  if (verb !== undefined && Object.hasOwn(COMMANDS, verb) && !verb.includes(' '))
    return { command: verb as CommandName, operands: positionals.length - 1 };
  return undefined;
}

function flagsOf(command: CommandName | undefined): [string, string][] {
  const own = command === undefined ? {} : COMMANDS[command].flags;
  return (Object.entries({ ...GLOBAL_FLAGS, ...own }) as [OptionName, string][]).map(([option, about]) =>
    option === 'watch' && about.startsWith('--watch=false')
      ? ['--watch=false', about.replace(/^--watch=false: /, '')]
      : [`--${option}`, about],
  );
}

/** Best effort: a lookup that fails completes nothing rather than printing an error into the shell. */
async function quietly(lookup: Promise<string[]>): Promise<string[]> {
  return lookup.catch(() => []);
}

async function flagValue(option: OptionName, kube: KubeFlags, lookup: Lookup): Promise<Completion> {
  if (FILE_FLAGS.includes(option)) return { candidates: [], directive: DIRECTIVE.default };
  const candidates =
    option === 'namespace'
      ? await quietly(lookup.namespaces(kube))
      : option === 'context'
        ? await quietly(lookup.contexts(kube))
        : option === 'output'
          ? [...OUTPUT_FORMATS]
          : [];
  return { candidates, directive: DIRECTIVE.noFileComp };
}

/** What may follow `args`' last word but one, starting with its last (the word under the cursor). */
export async function complete(args: string[], lookup: Lookup): Promise<Completion> {
  const typed = args.slice(0, -1);
  const current = args.at(-1) ?? '';
  const { values, positionals } = parseLenient(typed);
  let kube: KubeFlags = {};
  try {
    kube = kubeFlagsOf(values);
  } catch {
    // A flag still wrong (an empty --namespace): complete with the kubeconfig's defaults.
  }
  const only = (c: Completion): Completion => ({
    ...c,
    candidates: c.candidates.filter((candidate) => candidate.startsWith(current)),
  });

  // A flag's value: `-n <TAB>`, or `--namespace=<TAB>`.
  const before = typed.at(-1);
  const pending = before !== undefined && !before.includes('=') ? takesValue(before) : undefined;
  if (pending !== undefined) return only(await flagValue(pending, kube, lookup));
  const inline = /^(--[a-z-]+)=(.*)$/.exec(current);
  const inlineFlag = inline ? takesValue(inline[1]!) : undefined;
  if (inline && inlineFlag !== undefined) {
    const value = await flagValue(inlineFlag, kube, lookup);
    return only({ ...value, candidates: value.candidates.map((c) => `${inline[1]}=${c}`) });
  }

  const found = commandOf(positionals);
  if (current.startsWith('-')) {
    const taken = new Set(Object.keys(values).filter((o) => o !== 'as-group'));
    const flags = flagsOf(found?.command).filter(([flag]) => !taken.has(flag.slice(2).replace(/=.*/, '')));
    return only({
      candidates: flags.map(([flag, about]) => `${flag}\t${about}`),
      directive: DIRECTIVE.noFileComp,
    });
  }

  const [verb] = positionals;
  if (verb === undefined) return only({ candidates: verbs(), directive: DIRECTIVE.noFileComp });
  if (verb === 'help') return only(await complete([...positionals.slice(1), current], lookup));
  const subcommands = Object.hasOwn(SUBCOMMANDS, verb) ? SUBCOMMANDS[verb] : undefined;
  if (subcommands && positionals.length === 1)
    return only({ candidates: [...subcommands], directive: DIRECTIVE.noFileComp });
  if (found && COMMANDS[found.command].rolloutName && found.operands === 0)
    return only({ candidates: await quietly(lookup.rollouts(kube)), directive: DIRECTIVE.noFileComp });
  return { candidates: [], directive: DIRECTIVE.noFileComp };
}

/** The answer as kubectl and the scripts read it. */
export function renderCompletion(c: Completion): string {
  return [...c.candidates, `:${c.directive}`].join('\n');
}
