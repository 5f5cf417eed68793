/**
 * Every flag of `sluice controller`, once: the usage text, the parseArgs options, the
 * environment fallback, the default and the table in docs/operating.md all come from here
 * (test/unit/cli/controller-flags.test.ts fails when the docs drift).
 */
import { DEFAULT_MAX_TIMEOUT_MS } from '../analysis/policy.ts';

/** Parallel reconciles when nobody says. */
export const DEFAULT_WORKERS = 16;
export const DEFAULT_LEASE_NAME = 'sluice-controller';

export interface Flag {
  name: string;
  short?: string;
  /** A boolean flag is on when given, or when its environment variable is `true`. */
  type: 'string' | 'boolean';
  /** What the value looks like in the usage text. */
  value?: string;
  env?: string;
  /** Applied when neither the flag nor its environment variable is set. */
  default?: string;
  /** The default as the docs say it, when there is none to apply (`in-cluster`, `all`). */
  shownDefault?: string;
  /** One line for `sluice help`. */
  usage: string;
  /** The docs' column, Markdown (links relative to docs/). */
  doc: string;
}

export const FLAGS: readonly Flag[] = [
  {
    name: 'kubeconfig',
    type: 'string',
    value: 'PATH',
    env: 'KUBECONFIG',
    shownDefault: 'in-cluster',
    usage: 'in-cluster config when absent',
    doc: 'which cluster',
  },
  {
    name: 'context',
    type: 'string',
    value: 'NAME',
    shownDefault: 'current',
    usage: 'kubeconfig context',
    doc: 'kubeconfig context',
  },
  {
    name: 'namespace',
    short: 'n',
    type: 'string',
    value: 'NS',
    env: 'SLUICE_NAMESPACE',
    shownDefault: 'all',
    usage: 'watch one namespace',
    doc: 'watch one namespace',
  },
  {
    name: 'prometheus-url',
    type: 'string',
    value: 'URL',
    env: 'SLUICE_PROMETHEUS_URL',
    usage: 'default Prometheus for analysis',
    doc: 'Prometheus for gates whose template names none; `http://user:password@host:9090` for basic auth (see [Security](security.md))',
  },
  {
    name: 'prometheus-allowed-urls',
    type: 'string',
    value: 'LIST',
    env: 'SLUICE_PROMETHEUS_ALLOWED_URLS',
    shownDefault: 'none',
    usage:
      "comma-separated URL prefixes a template's provider.prometheus.address or provider.web.url may name (default none: only --prometheus-url)",
    doc: "comma-separated http(s) URL prefixes a template's `provider.prometheus.address` or `provider.web.url` may name (e.g. `http://thanos.monitoring:9090/`); matched as parsed URLs at a path boundary (a web URL's query string aside). Empty: templates may name only `--prometheus-url` (see [Analysis within bounds](analysis.md#analysis-within-bounds))",
  },
  {
    name: 'analysis-max-timeout',
    type: 'string',
    value: 'DUR',
    env: 'SLUICE_ANALYSIS_MAX_TIMEOUT',
    shownDefault: `${DEFAULT_MAX_TIMEOUT_MS / 1000}s`,
    usage: "longest a metric's timeout may be",
    doc: 'the longest `provider.prometheus.timeout` or `provider.web.timeoutSeconds` a metric may set; a longer one fails the run at start, and a run written before the cap is clamped to it',
  },
  {
    name: 'analysis-job-provider',
    type: 'boolean',
    env: 'SLUICE_ANALYSIS_JOB_PROVIDER',
    usage: 'let templates run Jobs as metrics (provider.job)',
    doc: "let templates' `provider.job` metrics create Jobs in their Rollout's namespace; off by default. Each namespace must also grant the controller `get`, `create` and `delete` on jobs (see [Security](security.md#job-metrics))",
  },
  {
    name: 'metrics-addr',
    type: 'string',
    value: 'ADDR',
    env: 'SLUICE_METRICS_ADDR',
    default: ':8090',
    usage: 'serves /metrics',
    doc: '`/metrics`',
  },
  {
    name: 'health-addr',
    type: 'string',
    value: 'ADDR',
    env: 'SLUICE_HEALTH_ADDR',
    default: ':8080',
    usage: 'serves /healthz and /readyz',
    doc: '`/healthz`, `/readyz` (informers synced; not leadership)',
  },
  {
    name: 'leader-elect',
    type: 'boolean',
    env: 'SLUICE_LEADER_ELECT',
    usage: 'elect a leader on a Lease',
    doc: 'elect a leader on a Lease (see `--lease-name`)',
  },
  {
    name: 'leader-election-namespace',
    type: 'string',
    value: 'NS',
    env: 'SLUICE_LEADER_ELECTION_NAMESPACE',
    default: 'sluice-system',
    usage: 'where the Lease lives',
    doc: 'where the Lease lives',
  },
  {
    name: 'lease-name',
    type: 'string',
    value: 'NAME',
    env: 'SLUICE_LEASE_NAME',
    shownDefault: DEFAULT_LEASE_NAME,
    usage: 'the leader-election Lease',
    doc: 'the leader-election Lease',
  },
  {
    name: 'identity',
    type: 'string',
    value: 'ID',
    env: 'SLUICE_IDENTITY',
    shownDefault: 'host-pid',
    usage:
      "this replica's name in the Lease, Events and field manager sluice/ID (default host-pid, manager sluice)",
    doc: "this replica's name in the Lease, in Events and in its field manager `sluice/<id>` (without it: host-pid, manager `sluice`)",
  },
  {
    name: 'instance-id',
    type: 'string',
    value: 'ID',
    env: 'SLUICE_INSTANCE_ID',
    usage: 'own only Rollouts labelled sluice.dev/controller-instance=ID',
    doc: 'own only Rollouts labelled `sluice.dev/controller-instance=<id>`; without it, only unlabelled ones',
  },
  {
    name: 'workers',
    type: 'string',
    value: 'N',
    env: 'SLUICE_WORKERS',
    default: String(DEFAULT_WORKERS),
    usage: 'parallel reconciles',
    doc: 'parallel reconciles (one key is never reconciled twice at once; a Rollout whose gate failed goes first, then one whose pause deadline came or whose gate passed, then routine informer events and delayed scale-downs)',
  },
  {
    name: 'log-level',
    type: 'string',
    value: 'LEVEL',
    env: 'SLUICE_LOG_LEVEL',
    default: 'info',
    usage: 'pino level',
    doc: 'pino level',
  },
  {
    name: 'write-back',
    type: 'boolean',
    env: 'SLUICE_WRITE_BACK',
    usage: "commit automatic rollbacks to git (a Rollout's writeBack.enabled wins)",
    doc: 'commit automatic rollbacks to git (see [Write-back to git](gitops.md#write-back-to-git))',
  },
  {
    name: 'argocd-namespace',
    type: 'string',
    value: 'NS',
    env: 'SLUICE_ARGOCD_NAMESPACE',
    shownDefault: 'argocd',
    usage: 'where Argo CD Applications live',
    doc: 'where Argo CD Applications live, for write-back discovery',
  },
  {
    name: 'write-back-tenant-repositories',
    type: 'boolean',
    env: 'SLUICE_WRITE_BACK_TENANT_REPOSITORIES',
    usage:
      "let a Rollout's spec.writeBack.repository say where it lives in git (default off: only its Flux or Argo CD source decides)",
    doc: "let a Rollout's `spec.writeBack.repository` say where it lives in git; off: only its Flux or Argo CD source decides",
  },
  {
    name: 'write-back-allowed-urls',
    type: 'string',
    value: 'LIST',
    env: 'SLUICE_WRITE_BACK_ALLOWED_URLS',
    shownDefault: 'any https URL',
    usage:
      'comma-separated URL prefixes every write-back repository must start with (default: any https URL)',
    doc: 'comma-separated URL prefixes every write-back repository must start with (host and whole path segments)',
  },
  {
    name: 'git-allow-http',
    type: 'boolean',
    env: 'SLUICE_GIT_ALLOW_HTTP',
    usage: 'let git use plain http besides https (default off)',
    doc: 'let git use plain http besides https',
  },
];

const flag = (name: string): Flag => {
  const found = FLAGS.find((f) => f.name === name);
  if (!found) throw new Error(`no flag --${name}`);
  return found;
};

/** The options `parseArgs` takes. */
export function parseOptions(): Record<string, { type: 'string' | 'boolean'; short?: string }> {
  return Object.fromEntries(
    FLAGS.map((f) => [f.name, f.short ? { type: f.type, short: f.short } : { type: f.type }]),
  );
}

type Values = Record<string, string | boolean | undefined>;
const fromEnv = (name: string | undefined): string | undefined =>
  name === undefined ? undefined : process.env[name] || undefined;

/** A string flag's value: the flag, else its environment variable, else its default. */
export function stringFlag(values: Values, name: string): string | undefined {
  const f = flag(name);
  return (values[name] as string | undefined) ?? fromEnv(f.env) ?? f.default;
}

/** A boolean flag: given, or its environment variable set to `true`. */
export function booleanFlag(values: Values, name: string): boolean {
  return values[name] === true || fromEnv(flag(name).env) === 'true';
}

/** The flags part of `sluice help`. */
export function usageLines(): string {
  return FLAGS.map((f) => {
    const left = `  --${f.name}${f.value ? ` ${f.value}` : ''}`;
    const env = f.env ? (f.type === 'boolean' ? `${f.env}=true` : f.env) : '';
    const def = f.default !== undefined ? ` (default ${f.default})` : '';
    const text = [env, `${f.usage}${def}`].filter(Boolean).join('; ');
    return `${left.padEnd(32)} ${text}`;
  }).join('\n');
}

/** The Markdown table of docs/operating.md. */
export function flagsTable(): string {
  const rows = FLAGS.map((f) => {
    const names = `\`--${f.name}\`${f.short ? `, \`-${f.short}\`` : ''}`;
    const env = f.env ? `\`${f.env}${f.type === 'boolean' ? '=true' : ''}\`` : '';
    const def =
      f.default !== undefined ? `\`${f.default}\`` : (f.shownDefault ?? (f.type === 'boolean' ? 'off' : ''));
    return `|${[names, env, def, f.doc].map((cell) => (cell ? ` ${cell} ` : ' ')).join('|')}|`;
  });
  return ['| flag | environment | default | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
