// Scale: Sluice and Argo Rollouts side by side on the sandbox, one controller at a time.
//   npm run bench:scale -- --rollouts 100,500 [--controllers sluice,argo] [--rps 20] [--idle 60]
//                          [--sluice-runtime bundle|tsx]   (bundle: dist/sluice.mjs, built first)
//   npm run bench:scale -- --report        (tables and chart from the results already recorded)
// Needs Argo Rollouts built once: bash sandbox/build.sh argo-rollouts. Asks the sandbox for the
// bench's audit policy and scrape interval (bench/RESULTS.md, "Scale"); `up` restarts what differs.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadKubeConfig } from '../../controller/kube/client.ts';
import { PATHS, VERSIONS } from '../../sandbox/config.ts';
import { readEnvFile, type SandboxEnv, up } from '../../sandbox/lifecycle.ts';
import { adoptSandbox } from '../../sandbox/lock.ts';
import { ARGO_VERSION, type ControllerName, installAccounts, type SluiceRuntime } from './controllers.ts';
import { renderTables, writeChart } from './report.ts';
import { runScenario, type ScenarioResult } from './scenario.ts';

const HERE = join(PATHS.repo, 'bench', 'scale');
export const RESULTS_DIR = join(HERE, 'results');
const SCRAPE_INTERVAL = '5s';

const log = (msg: string) => console.error(`[bench:scale ${new Date().toISOString().slice(11, 19)}] ${msg}`);

/**
 * The sandbox with the audit log on and a 5 s scrape. `up` restarts whatever part runs
 * otherwise (Prometheus is reloaded; the cluster, whose audit flags are fixed at start, is
 * recreated), and a later plain `npm run sandbox:up` or test run puts the defaults back.
 */
async function scaleSandbox(): Promise<SandboxEnv> {
  const env = await up({ scrapeInterval: SCRAPE_INTERVAL, auditPolicy: join(HERE, 'audit-policy.yaml') });
  adoptSandbox(); // left running, like a person's `npm run sandbox:up`
  return env;
}

async function main() {
  const { values } = parseArgs({
    options: {
      rollouts: { type: 'string', default: '100' },
      controllers: { type: 'string', default: 'sluice,argo' },
      rps: { type: 'string', default: '20' },
      idle: { type: 'string', default: '60' },
      report: { type: 'boolean', default: false },
      'sluice-runtime': { type: 'string', default: 'bundle' },
    },
  });
  if (!values.report) {
    const env = await scaleSandbox();
    const kc = loadKubeConfig({ kubeconfig: readEnvFile().KUBECONFIG ?? env.KUBECONFIG });
    const controllers = values.controllers.split(',') as ControllerName[];
    installAccounts(env, controllers);
    const sluiceRuntime = values['sluice-runtime'] as SluiceRuntime;
    if (sluiceRuntime === 'bundle' && controllers.includes('sluice'))
      execFileSync(process.execPath, [join(PATHS.repo, 'bin', 'bundle.mjs')], { stdio: 'inherit' });
    mkdirSync(RESULTS_DIR, { recursive: true });
    for (const n of values.rollouts.split(',').map(Number)) {
      for (const c of controllers) {
        log(`${c}, ${n} Rollouts (load average ${loadavg()[0]?.toFixed(2)})`);
        const result = await runScenario(kc, env, {
          controller: c,
          rollouts: n,
          rps: Number(values.rps),
          badEvery: 10,
          idleSeconds: Number(values.idle),
          sluiceRuntime,
          log,
        });
        const variant = c === 'sluice' && sluiceRuntime !== 'bundle' ? `-${sluiceRuntime}` : '';
        writeFileSync(join(RESULTS_DIR, `${n}-${c}${variant}.json`), `${JSON.stringify(result, null, 2)}\n`);
        log(
          `${c}, ${n}: ${JSON.stringify({ rss: result.rssMb, cpu: result.cpuSeconds, late: result.stepLatenessMs })}`,
        );
      }
    }
  }
  const results = readdirSync(RESULTS_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(RESULTS_DIR, f), 'utf8')) as ScenarioResult);
  console.log(
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, Kubernetes ${VERSIONS.kubernetes} (kwok), Argo Rollouts ${ARGO_VERSION}\n`,
  );
  console.log(renderTables(results));
  writeChart(results, join(PATHS.repo, 'bench', 'scale-chart.svg'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
