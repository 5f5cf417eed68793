import { parseArgs } from 'node:util';
import { parseAllowedPrefixes, parseMaxTimeout } from '../analysis/policy.ts';
import { booleanFlag, parseOptions, stringFlag, usageLines } from './flags.ts';
import { VERSION } from './version.ts';

const USAGE = `Usage: sluice <command> [flags]

Commands:
  controller   run the Sluice controller
  version      print the version (also --version)
  help         show this help

Controller flags (each also read from the environment variable shown):
${usageLines()}`;

/** Entry point of the `sluice` binary; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return 0;
  }
  if (command === 'version' || command === '--version') {
    console.log(`sluice ${VERSION}`);
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
      options: parseOptions(),
      strict: true,
    }));
  } catch (err) {
    console.error(`sluice controller: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const workersText = stringFlag(values, 'workers');
  const workers = Number(workersText);
  if (!Number.isInteger(workers) || workers < 1) {
    console.error(`sluice controller: --workers must be a positive integer, got '${workersText}'`);
    return 2;
  }
  const prefixes = (stringFlag(values, 'write-back-allowed-urls') ?? '')
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
      prometheusAllowedUrls: parseAllowedPrefixes(stringFlag(values, 'prometheus-allowed-urls')),
      analysisMaxTimeoutMs: parseMaxTimeout(stringFlag(values, 'analysis-max-timeout')),
    };
  } catch (err) {
    console.error(`sluice controller: ${(err as Error).message}`);
    return 2;
  }
  const { runController } = await import('./main.ts');
  const text = (name: string) => stringFlag(values, name);
  const controller = await runController({
    kubeconfig: text('kubeconfig'),
    context: text('context'),
    namespace: text('namespace'),
    prometheusUrl: text('prometheus-url'),
    ...analysisBounds,
    analysisJobs: booleanFlag(values, 'analysis-job-provider'),
    metricsAddr: text('metrics-addr') ?? '',
    healthAddr: text('health-addr') ?? '',
    leaderElect: booleanFlag(values, 'leader-elect'),
    leaderElectionNamespace: text('leader-election-namespace'),
    instanceId: text('instance-id'),
    leaseName: text('lease-name'),
    identity: text('identity'),
    workers,
    logLevel: text('log-level') ?? '',
    writeBack: booleanFlag(values, 'write-back'),
    argoNamespace: text('argocd-namespace'),
    writeBackPolicy: {
      tenantRepositories: booleanFlag(values, 'write-back-tenant-repositories'),
      allowedUrlPrefixes: prefixes,
      allowHttp: booleanFlag(values, 'git-allow-http'),
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
