// `kubectl sluice completion bash|zsh|fish` prints a script that calls the plugin back with the
// hidden `__complete` (cli/complete.ts) on each Tab, so what completes is decided in one place.
// Each script completes `kubectl-sluice`; `kubectl sluice` completes through kubectl's own
// completion, which runs `kubectl_complete-sluice` (the same program) with the same words.
import { setTimeout as wait } from 'node:timers/promises';
import { listRollouts } from '../api.ts';
import type { KubeFlags, Shell } from '../args.ts';
import { complete, type Lookup, renderCompletion } from '../complete.ts';
import type { Io } from '../io.ts';
import { connect, loadKubeConfig } from '../kube.ts';

/** A Tab that waits longer than this for names is worse than one that offers none. */
export const COMPLETION_TIMEOUT_MS = 2_000;

/** Names from the cluster, each read bounded by COMPLETION_TIMEOUT_MS. */
export const clusterLookup: Lookup = {
  rollouts: (kube) =>
    bounded(async () => {
      const listing = await listRollouts(connect(capped(kube), 'completion'), false);
      return listing.items.map((r) => r.metadata.name ?? '').filter((n) => n !== '');
    }),
  namespaces: (kube) =>
    bounded(async () => {
      const list = await connect(capped(kube), 'completion').core.listNamespace();
      return list.items.map((n) => n.metadata?.name ?? '').filter((n) => n !== '');
    }),
  contexts: async (kube) =>
    loadKubeConfig({ ...(kube.kubeconfig ? { kubeconfig: kube.kubeconfig } : {}) })
      .getContexts()
      .map((c) => c.name),
};

/** The flags, with each request given no more than the completion's own bound. */
function capped(kube: KubeFlags): KubeFlags {
  return {
    ...kube,
    requestTimeoutMs: Math.min(kube.requestTimeoutMs ?? COMPLETION_TIMEOUT_MS, COMPLETION_TIMEOUT_MS),
  };
}

/** `read`, or a rejection once COMPLETION_TIMEOUT_MS has passed (a kubeconfig's exec plugin can hang too). */
async function bounded<T>(read: () => Promise<T>): Promise<T> {
  const timer = new AbortController();
  try {
    return await Promise.race([
      read(),
      wait(COMPLETION_TIMEOUT_MS, undefined, { signal: timer.signal }).then(() => {
        throw new Error('timed out');
      }),
    ]);
  } finally {
    timer.abort();
  }
}

/** The hidden `__complete`: never fails, so a Tab never prints an error into the command line. */
export async function runComplete(args: string[], io: Io, lookup: Lookup = clusterLookup): Promise<number> {
  io.out(renderCompletion(await complete(args, lookup)));
  return 0;
}

export function runCompletion(io: Io, shell: Shell): number {
  io.out(completionScript(shell));
  return 0;
}

const PROGRAM = 'kubectl-sluice';

/** The script for `shell`; `program` is the command it completes. */
export function completionScript(shell: Shell, program = PROGRAM): string {
  const fn = `__${program.replace(/\W/g, '_')}_complete`;
  switch (shell) {
    case 'bash':
      return `# bash completion for ${program}: source <(${program} completion bash), or put it in
# /etc/bash_completion.d/. Each Tab runs \`${program} __complete WORDS… CURRENT\`.
${fn}() {
  local cur=\${COMP_WORDS[COMP_CWORD]} out directive c
  out=$("\${COMP_WORDS[0]}" __complete "\${COMP_WORDS[@]:1:COMP_CWORD-1}" "$cur" 2>/dev/null) || return 0
  directive=\${out##*:}
  out=\${out%:*}
  COMPREPLY=()
  local IFS=$'\\n'
  for c in $out; do
    c=\${c%%$'\\t'*}
    [[ -n $c && $c == "$cur"* ]] && COMPREPLY+=("$c")
  done
  (( directive & 2 )) && compopt -o nospace 2>/dev/null
  if (( \${#COMPREPLY[@]} == 0 )) && ! (( directive & 4 )); then
    compopt -o filenames 2>/dev/null
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
  return 0
}
complete -F ${fn} ${program}
`;
    case 'zsh':
      return `#compdef ${program}
# zsh completion for ${program}: put it on $fpath as _${program}, or source <(${program} completion zsh).
# Each Tab runs \`${program} __complete WORDS… CURRENT\`.
_${program}() {
  local out directive line name
  local -a candidates
  out=$(\${words[1]} __complete "\${(@)words[2,CURRENT-1]}" "\${words[CURRENT]}" 2>/dev/null) || return 1
  directive=\${out##*:}
  out=\${out%:*}
  for line in "\${(@f)out}"; do
    [[ -z $line ]] && continue
    name=\${line%%$'\\t'*}
    if [[ $line == *$'\\t'* ]]; then
      candidates+=("\${name//:/\\\\:}:\${line#*$'\\t'}")
    else
      candidates+=("\${name//:/\\\\:}")
    fi
  done
  if (( \${#candidates} )); then
    if (( directive & 2 )); then
      _describe -t values '${program}' candidates -S ''
    else
      _describe -t values '${program}' candidates
    fi
  elif (( ! (directive & 4) )); then
    _files
  fi
}
if [[ $funcstack[1] == _${program} ]]; then
  _${program} "$@"
else
  compdef _${program} ${program}
fi
`;
    case 'fish':
      return `# fish completion for ${program}: ${program} completion fish > ~/.config/fish/completions/${program}.fish
# Each Tab runs \`${program} __complete WORDS… CURRENT\`.
function ${fn}
    set -l words (commandline -opc)
    set -l out ($words[1] __complete $words[2..-1] (commandline -ct) 2>/dev/null)
    or return
    set -l directive (string replace -r '^:' '' -- $out[-1])
    set -e out[-1]
    if test (count $out) -gt 0
        printf '%s\\n' $out
    else if test (math "bitand($directive, 4)") -eq 0
        __fish_complete_path (commandline -ct)
    end
end
complete -c ${program} -f -a '(${fn})'
`;
  }
}
