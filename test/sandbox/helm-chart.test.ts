import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Deployment, V1PodSpec } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml, stringify } from 'yaml';
import { buildRelease } from '../../release/build.ts';
import { ensureHelm } from '../../sandbox/build.ts';
import { type ControllerProcess, serviceAccountKubeconfig, startController } from '../harness/controller.ts';
import { sandbox } from '../harness/env.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { promoteGatedCanary } from '../support/analysis.ts';
import { ROOT } from '../support/fixtures.ts';

// The Helm chart (charts/sluice), with a real helm (built from its Go module) against the
// sandbox's API server: it lints, it renders what the API server accepts with its defaults and
// with every optional value, and the controller started as the rendered Deployment says, under
// the chart's own ServiceAccount and roles, releases a gated canary.

const CHART = join(ROOT, 'charts/sluice');
let helm: string;

interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

function helmRun(...args: string[]): string {
  return execFileSync(helm, args, { encoding: 'utf8', stdio: 'pipe' });
}

function render(release: string, namespace: string, values: Record<string, unknown> = {}): Doc[] {
  const file = join(sandbox().SANDBOX_LOGS, `values-${release}.yaml`);
  writeFileSync(file, stringify(values));
  return parseAllDocuments(helmRun('template', release, CHART, '-n', namespace, '-f', file))
    .map((d) => d.toJS() as Doc | null)
    .filter((d): d is Doc => d !== null);
}

function kubectl(args: string[], input?: string): string {
  const env = sandbox();
  return execFileSync(env.KUBECTL, args, {
    encoding: 'utf8',
    input,
    stdio: 'pipe',
    env: { ...process.env, KUBECONFIG: env.KUBECONFIG },
  });
}

/** The rendered Deployment's pod. */
function podOf(docs: Doc[]): V1PodSpec {
  const deployment = docs.find((d) => d.kind === 'Deployment') as unknown as V1Deployment | undefined;
  const pod = deployment?.spec?.template.spec;
  if (!pod) throw new Error('the chart rendered no Deployment');
  return pod;
}

const toYaml = (docs: Doc[]) => docs.map((d) => stringify(d)).join('---\n');
const find = (docs: Doc[], kind: string) => docs.filter((d) => d.kind === kind);

/** Every value the chart has, set to something other than its default. */
const EVERY_OPTION = {
  image: { repository: 'registry.example/sluice', tag: '9.9.9', pullPolicy: 'Always' },
  replicaCount: 3,
  prometheus: { urlFromSecret: { name: 'prom', key: 'url' }, allowedUrls: ['http://prom.team-a:9090'] },
  writeBack: {
    enabled: true,
    argocdNamespace: 'gitops',
    tenantRepositories: true,
    allowedUrls: ['https://git.example/'],
    allowHttp: true,
  },
  watchNamespace: 'team-a',
  workers: 4,
  logLevel: 'debug',
  rbac: { aggregateToDefaultRoles: false },
  resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
  tmpSizeLimit: '64Mi',
  metrics: { port: 9100, service: { enabled: true } },
  serviceMonitor: { enabled: true, interval: '15s', labels: { release: 'kube-prometheus' } },
  prometheusRule: { enabled: true, labels: { release: 'kube-prometheus' } },
  networkPolicy: { enabled: true },
  extraArgs: ['--analysis-max-timeout=20s'],
  extraEnv: [{ name: 'TZ', value: 'UTC' }],
  podAnnotations: { 'example.com/owner': 'platform' },
  podLabels: { team: 'platform' },
  nodeSelector: { 'kubernetes.io/os': 'linux' },
  tolerations: [{ key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' }],
  affinity: {},
  priorityClassName: 'system-cluster-critical',
};

describe('the Helm chart', () => {
  beforeAll(async () => {
    helm = await ensureHelm();
  }, 600_000);

  it('lints clean', () => {
    expect(helmRun('lint', CHART)).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it('is packaged by the release command with the release version stamped in', async () => {
    const out = mkdtempSync(join(tmpdir(), 'sluice-release-'));
    const release = await buildRelease({ version: '0.3.1', out, helm: ensureHelm });
    expect(release.files).toContain('sluice-0.3.1.tgz');
    const chart = parseYaml(helmRun('show', 'chart', join(out, 'sluice-0.3.1.tgz')));
    expect(chart).toMatchObject({ name: 'sluice', version: '0.3.1', appVersion: '0.3.1' });
    const image = podOf(
      parseAllDocuments(helmRun('template', 'x', join(out, 'sluice-0.3.1.tgz'))).map((d) => d.toJS() as Doc),
    ).containers[0]?.image;
    expect(image).toBe('ghcr.io/sluice-dev/sluice:0.3.1');
  }, 300_000);

  it('renders, with its defaults, what deploy/ installs, and the API server accepts it', () => {
    const docs = render('sluice', 'sluice-system');
    const deploy = parseAllDocuments(readFileSync(join(ROOT, 'deploy/rbac.yaml'), 'utf8')).map(
      (d) => d.toJS() as Doc,
    );
    const rulesOf = (list: Doc[], kind: string, name: string) =>
      list.find((d) => d.kind === kind && d.metadata.name === name)?.rules;
    // One source: the chart reads deploy/'s rules (copied by npm run crds), never its own.
    expect(rulesOf(docs, 'ClusterRole', 'sluice-controller')).toEqual(
      rulesOf(deploy, 'ClusterRole', 'sluice-controller'),
    );
    expect(rulesOf(docs, 'ClusterRole', 'sluice-aggregate-to-edit')).toBeDefined();
    const pod = podOf(docs);
    expect(pod.containers[0]?.image).toBe('ghcr.io/sluice-dev/sluice:0.1.0');
    expect(pod.containers[0]?.securityContext?.readOnlyRootFilesystem).toBe(true);
    expect(pod.volumes).toEqual([{ name: 'tmp', emptyDir: { sizeLimit: '256Mi' } }]);
    expect(find(docs, 'ServiceMonitor')).toEqual([]);
    kubectl(
      ['apply', '-f', '-'],
      toYaml([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'sluice-system' } }]),
    );
    kubectl(['apply', '--dry-run=server', '-f', '-'], toYaml(docs));
  });

  it('renders every optional value into what the API server accepts', () => {
    const docs = render('opt', 'sluice-opt', EVERY_OPTION);
    const container = podOf(docs).containers[0];
    expect(container?.image).toBe('registry.example/sluice:9.9.9');
    expect(container?.args).toEqual([
      'controller',
      '--leader-elect',
      '--metrics-addr=:9100',
      '--health-addr=:8080',
      '--workers=4',
      '--log-level=debug',
      '--namespace=team-a',
      '--prometheus-allowed-urls=http://prom.team-a:9090',
      '--write-back',
      '--argocd-namespace=gitops',
      '--write-back-tenant-repositories',
      '--write-back-allowed-urls=https://git.example/',
      '--git-allow-http',
      '--analysis-max-timeout=20s',
    ]);
    expect(container?.env).toContainEqual({
      name: 'SLUICE_PROMETHEUS_URL',
      valueFrom: { secretKeyRef: { name: 'prom', key: 'url' } },
    });
    // Confined to one namespace: a Role there, no ClusterRole of the controller's, no people roles.
    expect(find(docs, 'ClusterRole')).toEqual([]);
    expect(find(docs, 'Role').map((r) => `${r.metadata.namespace}/${r.metadata.name}`)).toEqual([
      'team-a/opt-sluice-controller',
      'sluice-opt/opt-sluice-leader-election',
    ]);
    const [rule] = find(docs, 'PrometheusRule') as [Doc & { spec: { groups: unknown[] } }];
    expect(rule.spec.groups.length).toBeGreaterThan(0);
    expect(find(docs, 'ServiceMonitor')[0]?.metadata.labels?.release).toBe('kube-prometheus');
    // The sandbox has no Prometheus Operator, so its two kinds are checked above, not applied.
    const applicable = docs.filter((d) => !['ServiceMonitor', 'PrometheusRule'].includes(d.kind));
    const namespaces = [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a' } },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'sluice-opt' } },
    ] as Doc[];
    kubectl(['apply', '-f', '-'], toYaml(namespaces));
    kubectl(['apply', '--dry-run=server', '-f', '-'], toYaml(applicable));
  });

  it('runs as the rendered Deployment says, under its own ServiceAccount, and releases a gated canary', async () => {
    const ns = await freshNamespace('chart');
    const home = await freshNamespace('chart-home');
    const docs = render('chart', home, { prometheus: { url: sandbox().PROMETHEUS_URL } });
    // Installed for real, except the Deployment: there is no kubelet to run its image here, so
    // its command line and environment are run below as a process, as the pod would run them.
    kubectl(['apply', '-f', '-'], toYaml(docs.filter((d) => d.kind !== 'Deployment')));
    const pod = podOf(docs);
    const container = pod.containers[0];
    // Ports are the one thing the harness chooses: tests share this machine's.
    const args = (container?.args ?? []).filter(
      (a) => a !== 'controller' && !a.startsWith('--metrics-addr') && !a.startsWith('--health-addr'),
    );
    const env: Record<string, string> = {};
    for (const e of container?.env ?? []) env[e.name] = e.valueFrom?.fieldRef ? home : (e.value ?? '');
    expect(env).toEqual({
      SLUICE_LEADER_ELECTION_NAMESPACE: home,
      SLUICE_PROMETHEUS_URL: sandbox().PROMETHEUS_URL,
    });

    let controller: ControllerProcess | undefined;
    await promoteGatedCanary(
      ns,
      async () => {
        controller = await startController(ns, {
          kubeconfig: await serviceAccountKubeconfig(home, pod.serviceAccountName ?? '', 3600),
          args,
          env,
        });
      },
      'the chart-installed controller',
    );
    // It led through the chart's leader-election Role, in the chart's namespace.
    expect(controller?.lines().some((l) => l.msg === 'became leader')).toBe(true);
    expect(parseYaml(kubectl(['get', 'leases', '-n', home, '-o', 'yaml'])).items.length).toBe(1);
  }, 300_000);
});
