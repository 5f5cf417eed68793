import { parseArgs } from 'node:util';
import { parseAllowedPrefixes, parseMaxTimeout } from '../analysis/policy.ts';

const USAGE = `Usage: sluice <command> [flags]

Commands:
  controller   run the Sluice controller
  help         show this help

Controller flags (each also read from the environment variable shown):
  --kubeconfig PATH             KUBECONFIG; in-cluster config when absent
  --context NAME                kubeconfig context
  --namespace NS                SLUICE_NAMESPACE; watch one namespace (default: all)
  --prometheus-url URL          SLUICE_PROMETHEUS_URL; default Prometheus for analysis
  --prometheus-allowed-urls LIST  SLUICE_PROMETHEUS_ALLOWED_URLS; comma-separated URL prefixes a template's
                                provider.prometheus.address may name (default none: only --prometheus-url)
  --analysis-max-timeout DUR    SLUICE_ANALYSIS_MAX_TIMEOUT; longest a metric's timeout may be (default 30s)
  --metrics-addr ADDR           SLUICE_METRICS_ADDR (default :8090)
  --health-addr ADDR            SLUICE_HEALTH_ADDR (default :8080)
  --leader-elect                SLUICE_LEADER_ELECT=true; elect a leader on a Lease
  --leader-election-namespace NS SLUICE_LEADER_ELECTION_NAMESPACE (default sluice-system)
  --lease-name NAME             SLUICE_LEASE_NAME; the leader-election Lease (default sluice-controller)
  --identity ID                 SLUICE_IDENTITY; this replica's name in the Lease, Events and field manager sluice/ID (default host-pid, manager sluice)
  --instance-id ID              SLUICE_INSTANCE_ID; own only Rollouts labelled sluice.dev/controller-instance=ID
  --workers N                   SLUICE_WORKERS (default 16)
  --log-level LEVEL             SLUICE_LOG_LEVEL (default info)
  --write-back                  SLUICE_WRITE_BACK=true; commit automatic rollbacks to git (a Rollout's writeBack.enabled wins)
  --argocd-namespace NS         SLUICE_ARGOCD_NAMESPACE; where Argo CD Applications live (default argocd)
  --write-back-tenant-repositories  SLUICE_WRITE_BACK_TENANT_REPOSITORIES=true; let a Rollout's spec.writeBack.repository
                                say where it lives in git (default off: only its Flux or Argo CD source decides)
  --write-back-allowed-urls LIST  SLUICE_WRITE_BACK_ALLOWED_URLS; comma-separated URL prefixes every write-back
                                repository must start with (default: any https URL)
  --git-allow-http              SLUICE_GIT_ALLOW_HTTP=true; let git use plain http besides https (default off)`;

const env = (name: string): string | undefined => process.env[name] || undefined;

/** Entry point of the `sluice` binary; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return 0;
  }
  if (command !== 'controller') {
    console.error(`sluice: unknown command '${command}'\n\n${USAGE}`);
    return 2;
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        kubeconfig: { type: 'string' },
        context: { type: 'string' },
        namespace: { type: 'string', short: 'n' },
        'prometheus-url': { type: 'string' },
        'prometheus-allowed-urls': { type: 'string' },
        'analysis-max-timeout': { type: 'string' },
        'metrics-addr': { type: 'string' },
        'health-addr': { type: 'string' },
        'leader-elect': { type: 'boolean' },
        'leader-election-namespace': { type: 'string' },
        'instance-id': { type: 'string' },
        'lease-name': { type: 'string' },
        identity: { type: 'string' },
        workers: { type: 'string' },
        'log-level': { type: 'string' },
        'write-back': { type: 'boolean' },
        'argocd-namespace': { type: 'string' },
        'write-back-tenant-repositories': { type: 'boolean' },
        'write-back-allowed-urls': { type: 'string' },
        'git-allow-http': { type: 'boolean' },
      },
      strict: true,
    }));
  } catch (err) {
    console.error(`sluice controller: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const workersText = (values.workers as string | undefined) ?? env('SLUICE_WORKERS');
  const workers = workersText === undefined ? undefined : Number(workersText);
  if (workers !== undefined && (!Number.isInteger(workers) || workers < 1)) {
    console.error(`sluice controller: --workers must be a positive integer, got '${workersText}'`);
    return 2;
  }
  const prefixes = (
    (values['write-back-allowed-urls'] as string | undefined) ??
    env('SLUICE_WRITE_BACK_ALLOWED_URLS') ??
    ''
  )
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const badPrefix = prefixes.find((p) => !URL.canParse(p) || !/^https?:$/.test(new URL(p).protocol));
  if (badPrefix !== undefined) {
    console.error(
      `sluice controller: --write-back-allowed-urls: '${badPrefix}' is not an http(s) URL prefix`,
    );
    return 2;
  }
  let analysisBounds: { prometheusAllowedUrls: string[]; analysisMaxTimeoutMs: number };
  try {
    analysisBounds = {
      prometheusAllowedUrls: parseAllowedPrefixes(
        (values['prometheus-allowed-urls'] as string | undefined) ?? env('SLUICE_PROMETHEUS_ALLOWED_URLS'),
      ),
      analysisMaxTimeoutMs: parseMaxTimeout(
        (values['analysis-max-timeout'] as string | undefined) ?? env('SLUICE_ANALYSIS_MAX_TIMEOUT'),
      ),
    };
  } catch (err) {
    console.error(`sluice controller: ${(err as Error).message}`);
    return 2;
  }
  const { runController } = await import('./main.ts');
  const controller = await runController({
    kubeconfig: (values.kubeconfig as string | undefined) ?? env('KUBECONFIG'),
    context: values.context as string | undefined,
    namespace: (values.namespace as string | undefined) ?? env('SLUICE_NAMESPACE'),
    prometheusUrl: (values['prometheus-url'] as string | undefined) ?? env('SLUICE_PROMETHEUS_URL'),
    ...analysisBounds,
    metricsAddr: (values['metrics-addr'] as string | undefined) ?? env('SLUICE_METRICS_ADDR') ?? ':8090',
    healthAddr: (values['health-addr'] as string | undefined) ?? env('SLUICE_HEALTH_ADDR') ?? ':8080',
    leaderElect: values['leader-elect'] === true || env('SLUICE_LEADER_ELECT') === 'true',
    leaderElectionNamespace:
      (values['leader-election-namespace'] as string | undefined) ??
      env('SLUICE_LEADER_ELECTION_NAMESPACE') ??
      'sluice-system',
    instanceId: (values['instance-id'] as string | undefined) ?? env('SLUICE_INSTANCE_ID'),
    leaseName: (values['lease-name'] as string | undefined) ?? env('SLUICE_LEASE_NAME'),
    identity: (values.identity as string | undefined) ?? env('SLUICE_IDENTITY'),
    workers,
    logLevel: (values['log-level'] as string | undefined) ?? env('SLUICE_LOG_LEVEL') ?? 'info',
    writeBack: values['write-back'] === true || env('SLUICE_WRITE_BACK') === 'true',
    argoNamespace: (values['argocd-namespace'] as string | undefined) ?? env('SLUICE_ARGOCD_NAMESPACE'),
    writeBackPolicy: {
      tenantRepositories:
        values['write-back-tenant-repositories'] === true ||
        env('SLUICE_WRITE_BACK_TENANT_REPOSITORIES') === 'true',
      allowedUrlPrefixes: prefixes,
      allowHttp: values['git-allow-http'] === true || env('SLUICE_GIT_ALLOW_HTTP') === 'true',
    },
  });
  // Graceful shutdown: finish in-flight reconciles, release the lease, then exit.
  await new Promise<void>((resolve) => {
    const stop = () => void controller.stop().then(resolve);
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  return 0;
}
