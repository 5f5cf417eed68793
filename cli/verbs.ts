import type { CommandName } from './args.ts';

/** One RBAC grant: a verb on a resource (with subresource) in an API group ('' is the core group). */
export interface Permission {
  verb: 'get' | 'list' | 'watch' | 'patch';
  resource: string;
  group: string;
  /** Where the grant is needed when it is not the Rollout's namespace. */
  where?: string;
}

const rollouts = (verb: Permission['verb']): Permission => ({
  verb,
  resource: 'rollouts',
  group: 'sluice.dev',
});
const rolloutStatus: Permission = { verb: 'patch', resource: 'rollouts/status', group: 'sluice.dev' };

const READ: readonly Permission[] = [
  rollouts('get'),
  rollouts('list'),
  rollouts('watch'),
  { verb: 'list', resource: 'replicasets', group: 'apps' },
  { verb: 'watch', resource: 'replicasets', group: 'apps' },
  { verb: 'list', resource: 'pods', group: '' },
  { verb: 'list', resource: 'events', group: 'events.k8s.io' },
  // What the current gates can see (a run's status.detectability); status works without it.
  { verb: 'get', resource: 'analysisruns', group: 'sluice.dev' },
];

const SIGNAL: readonly Permission[] = [rollouts('get'), rolloutStatus];

/**
 * What each command needs in the Rollout's namespace (cluster-wide for `list -A`). `list rollouts`
 * and `get rollout` share one viewer set so a single read-only Role serves both. Signals only ever touch rollouts/status,
 * so a role that may steer releases need not be able to edit what git owns.
 */
export const PERMISSIONS: Record<CommandName, readonly Permission[]> = {
  'list rollouts': READ,
  // -w watches them; without it a list is all it reads.
  'list analysisruns': [
    { verb: 'list', resource: 'analysisruns', group: 'sluice.dev' },
    { verb: 'watch', resource: 'analysisruns', group: 'sluice.dev' },
  ],
  'get rollout': READ,
  // Waits by reading the one Rollout: a pipeline's account needs nothing more.
  status: [rollouts('get')],
  promote: SIGNAL,
  abort: SIGNAL,
  retry: SIGNAL,
  pause: SIGNAL,
  resume: SIGNAL,
  restart: SIGNAL,
  undo: [rollouts('get'), { verb: 'list', resource: 'replicasets', group: 'apps' }, rollouts('patch')],
  'set image': [rollouts('get'), rollouts('patch')],
  // Reads a file and asks only the Prometheus given on the command line.
  lint: [],
  // Reads a file (or stdin) and writes stdout: converting is offline.
  convert: [],
  // Best effort: without it the plugin still prints its own version and says why it has no other.
  version: [{ verb: 'get', resource: 'deployments', group: 'apps', where: "the controller's namespace" }],
  // Prints a script; what the script completes reads the names it offers, best effort: without
  // these, commands and flags still complete.
  completion: [
    rollouts('list'),
    { verb: 'list', resource: 'namespaces', group: '', where: 'cluster scope (namespace names)' },
  ],
};

/** `get rollouts, patch rollouts/status`: the short form error messages use. */
export function describeNeeds(command: CommandName): string {
  return PERMISSIONS[command].map((p) => `${p.verb} ${p.resource}`).join(', ');
}

/** The Markdown table docs/operating.md carries: one row per command, verbs grouped by resource. */
export function permissionsTable(): string {
  const rows = (Object.keys(PERMISSIONS) as CommandName[]).map((command) => {
    const byResource = new Map<string, string[]>();
    for (const p of PERMISSIONS[command]) {
      const key = `${p.resource} (${p.group === '' ? 'core' : p.group})${p.where ? ` in ${p.where}` : ''}`;
      byResource.set(key, [...(byResource.get(key) ?? []), p.verb]);
    }
    const needs =
      [...byResource].map(([resource, verbs]) => `${verbs.join(', ')} ${resource}`).join('; ') ||
      'nothing in the cluster';
    return `| \`kubectl sluice ${command}\` | ${needs} |`;
  });
  return ["| command | needs (in the Rollout's namespace) |", '| --- | --- |', ...rows].join('\n');
}
