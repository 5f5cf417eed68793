// Argo's job metric provider, end to end on the sandbox: the controller (deploy/'s RBAC, which
// grants nothing on Jobs) creates a measurement's Job in the Rollout's namespace where the admin
// granted it, and kube-controller-manager's Job controller decides the outcome. kwok's pod stages
// complete every pod a Job owns with exit code 0 and have none that fails a container, so the
// failing Job here fails for real another way: its pod can never be scheduled (a nodeSelector no
// node matches) and the Job controller ends it at its activeDeadlineSeconds (DeadlineExceeded).
import { describe, expect, it } from 'vitest';
import { requestJson } from '../../controller/kube/client.ts';
import { startController } from '../harness/controller.ts';
import { kube } from '../harness/kube.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { waitFor } from '../harness/wait.ts';
import { analysisRuns, createObject } from '../support/analysis.ts';
import { apply, canaryApp, canaryWeight, kubectlSluice, setImage, waitForRollout } from '../support/apps.ts';

const templates = (ns: string) => `/apis/sluice.dev/v1alpha1/namespaces/${ns}/analysistemplates`;

/** The per-namespace grant docs/security.md tells an admin to make. */
async function grantJobs(ns: string): Promise<void> {
  await createObject(`/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: 'sluice-analysis-jobs' },
    rules: [{ apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'create', 'delete'] }],
  });
  await createObject(`/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: 'sluice-analysis-jobs' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'sluice-analysis-jobs' },
    subjects: [{ kind: 'ServiceAccount', name: 'sluice', namespace: 'sluice-system' }],
  });
}

const jobTemplate = (
  name: string,
  podSpec: Record<string, unknown>,
  extra: Record<string, unknown> = {},
) => ({
  apiVersion: 'sluice.dev/v1alpha1',
  kind: 'AnalysisTemplate',
  metadata: { name },
  spec: {
    args: [{ name: 'hash' }],
    metrics: [
      {
        name: 'smoke',
        interval: '1s',
        provider: {
          job: {
            metadata: { labels: { suite: 'smoke' } },
            spec: {
              backoffLimit: 0,
              ...extra,
              template: {
                spec: {
                  restartPolicy: 'Never',
                  containers: [{ name: 'check', image: 'smoke:1', args: ['--revision={{args.hash}}'] }],
                  ...podSpec,
                },
              },
            },
          },
        },
      },
    ],
  },
});

/** A Job whose pod no node can take: the Job controller fails it at its deadline. */
const unschedulableJob = (deadlineSeconds: number) =>
  jobTemplate(
    'smoke',
    { nodeSelector: { 'sluice.dev/no-such-node': 'x' } },
    { activeDeadlineSeconds: deadlineSeconds },
  );

async function jobs(ns: string) {
  const list = await requestJson<{ items: unknown[] }>(kube().kc, {
    method: 'GET',
    path: `/apis/batch/v1/namespaces/${ns}/jobs`,
  });
  return list.items as {
    metadata: {
      name: string;
      labels?: Record<string, string>;
      ownerReferences?: { kind: string; name: string }[];
    };
    spec: { activeDeadlineSeconds?: number; template: { spec: { containers: { args?: string[] }[] } } };
    status?: { conditions?: { type: string; reason?: string }[] };
  }[];
}

const release = (ns: string, template: string) =>
  canaryApp(ns, {
    image: `shop/${ns}:1`,
    replicas: 1,
    steps: [
      { setWeight: 50 },
      {
        analysis: {
          templates: [{ templateName: template }],
          args: [{ name: 'hash', valueFrom: { podTemplateHashValue: 'Latest' } }],
        },
      },
      { setWeight: 100 },
    ] as never,
  });

describe('job metrics on the sandbox', () => {
  it('a Job that completes passes the step; one the Job controller fails rolls the release back', async () => {
    const ns = await freshNamespace('an-job');
    await grantJobs(ns);
    await createObject(templates(ns), jobTemplate('smoke', {}));
    await apply(release(ns, 'smoke'));
    await startController(ns, { env: { SLUICE_ANALYSIS_JOB_PROVIDER: 'true' } });
    const first = await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');

    await setImage(ns, `shop/${ns}:2`);
    const promoted = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Healthy' && r.status.stableRevision !== first.status?.stableRevision,
      'the Job gate to pass and the release to finish',
      { timeout: 90_000 },
    );
    const passed = (await analysisRuns(ns)).find(
      (r) => r.spec.gate === 'step' && r.status?.phase === 'Successful',
    );
    expect(passed?.status?.metricResults?.[0]).toMatchObject({ name: 'smoke', successful: 1, count: 1 });
    const [job] = await jobs(ns);
    expect(job?.metadata.name).toBe(`${passed?.metadata.name}-smoke-1`);
    expect(job?.metadata.ownerReferences?.[0]).toMatchObject({
      kind: 'AnalysisRun',
      name: passed?.metadata.name,
    });
    expect(job?.metadata.labels).toMatchObject({
      suite: 'smoke',
      'sluice.dev/analysis-run': passed?.metadata.name,
    });
    expect(job?.status?.conditions?.some((c) => c.type === 'Complete')).toBe(true);
    // The args reach the Job, and the deadline nobody set is Sluice's cap.
    expect(job?.spec.template.spec.containers[0]?.args).toEqual([
      `--revision=${promoted.status?.stableRevision}`,
    ]);
    expect(job?.spec.activeDeadlineSeconds).toBe(3600);

    // A template is read when a run starts: the next release's run gets the failing Job.
    await requestJson(kube().kc, { method: 'DELETE', path: `${templates(ns)}/smoke` });
    await createObject(templates(ns), unschedulableJob(2));
    await setImage(ns, `shop/${ns}:3`);
    const aborted = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Degraded' && r.status.abort === true,
      'the failing Job to roll the release back',
      { timeout: 90_000 },
    );
    expect(aborted.status?.stableRevision).toBe(promoted.status?.stableRevision);
    expect(aborted.status?.message).toMatch(/smoke failed: .*Job \S+-smoke-1 failed: DeadlineExceeded/);
    expect(await canaryWeight(ns)).toBe(0);
  });

  it('a Job still running when its run is stopped (the release aborted) is deleted', async () => {
    const ns = await freshNamespace('an-job-stop');
    await grantJobs(ns);
    await createObject(templates(ns), unschedulableJob(600));
    await apply(release(ns, 'smoke'));
    await startController(ns, { env: { SLUICE_ANALYSIS_JOB_PROVIDER: 'true' } });
    await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');
    await setImage(ns, `shop/${ns}:2`);
    await waitFor(async () => (await jobs(ns)).length === 1, { description: "the step's Job to be created" });
    expect((await kubectlSluice(ns, 'abort', 'web')).code).toBe(0);
    await waitFor(async () => (await jobs(ns)).length === 0, {
      description: 'the running Job to be deleted once its run is stopped',
      timeout: 30_000,
    });
    const run = (await analysisRuns(ns)).find((r) => r.spec.gate === 'step');
    expect(run?.spec.terminate).toBe(true);
    expect(['Inconclusive', 'Successful', 'Failed', 'Error']).toContain(run?.status?.phase);
  });

  it('a namespace the admin did not grant Jobs: the gate errors saying so, and no Job exists', async () => {
    const ns = await freshNamespace('an-job-nogrant');
    await createObject(templates(ns), jobTemplate('smoke-ok', {}));
    await apply(release(ns, 'smoke-ok'));
    await startController(ns, { env: { SLUICE_ANALYSIS_JOB_PROVIDER: 'true' } });
    await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');
    await setImage(ns, `shop/${ns}:2`);
    const paused = await waitForRollout(
      ns,
      (r) => r.status?.phase === 'Paused' && r.status.pause?.reason === 'AnalysisError',
      'the release to pause on the refused Job',
      { timeout: 90_000 },
    );
    expect(paused.status?.pause?.message).toMatch(/may not create or read Jobs in namespace an-job-nogrant-/);
    const list = await requestJson<{ items: unknown[] }>(kube().kc, {
      method: 'GET',
      path: `/apis/batch/v1/namespaces/${ns}/jobs`,
    });
    expect(list.items).toHaveLength(0);
  });

  it('without --analysis-job-provider a Job metric stalls the release naming the flag', async () => {
    const ns = await freshNamespace('an-job-off');
    await grantJobs(ns);
    await createObject(templates(ns), jobTemplate('smoke-ok', {}));
    await apply(release(ns, 'smoke-ok'));
    await startController(ns);
    await waitForRollout(ns, (r) => r.status?.phase === 'Healthy', 'the first revision');
    await setImage(ns, `shop/${ns}:2`);
    const stalled = await waitForRollout(
      ns,
      (r) => r.status?.conditions?.some((c) => c.type === 'Stalled' && c.status === 'True') === true,
      'the release to stall on the disabled provider',
      { timeout: 60_000 },
    );
    expect(stalled.status?.conditions?.find((c) => c.type === 'Stalled')?.message).toContain(
      'provider.job is not enabled',
    );
    expect(await jobs(ns)).toHaveLength(0);
  });
});
