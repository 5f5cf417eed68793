import { describe, expect, it } from 'vitest';
import { jobManifest, jobName, jobProblem, jobVerdict, MAX_JOB_SECONDS } from '../../../analysis/job.ts';
import { type AnalysisPolicy, policyProblem } from '../../../analysis/policy.ts';
import { resolveMetrics, templateKey } from '../../../analysis/resolve.ts';
import { type AnalysisRun, AnalysisTemplateSpec, type JobProvider } from '../../../crds/index.ts';

const job = (spec: Record<string, unknown> = {}): JobProvider => ({
  spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'i' }] } }, ...spec },
});

const run = {
  apiVersion: 'sluice.dev/v1alpha1',
  kind: 'AnalysisRun',
  metadata: { name: 'web-7f9c-s1-a0', namespace: 'shop', uid: 'run-uid' },
  spec: { rollout: 'web', revision: '7f9c', gate: 'step', metrics: [] },
} as unknown as AnalysisRun;

describe('job metrics: the pure half', () => {
  it('names the n-th measurement deterministically, within a label value', () => {
    expect(jobName('web-7f9c-s1-a0', 'smoke', 3)).toBe('web-7f9c-s1-a0-smoke-3');
    const long = jobName('a'.repeat(60), 'smoke_test', 1);
    expect(long).toHaveLength(63);
    expect(long).toMatch(/^[a-z0-9-]+$/);
    expect(jobName('a'.repeat(60), 'smoke_test', 1)).toBe(long);
    expect(jobName('a'.repeat(60), 'smoke_test', 2)).not.toBe(long);
  });

  it("creates the Job in the run's namespace, owned by the run, with Sluice's deadline when none is set", () => {
    const m = jobManifest(run, 'smoke', { ...job(), metadata: { labels: { a: 'b' } } }, 1);
    expect(m.metadata).toMatchObject({
      name: 'web-7f9c-s1-a0-smoke-1',
      namespace: 'shop',
      labels: { a: 'b', 'sluice.dev/analysis-run': 'web-7f9c-s1-a0', 'sluice.dev/analysis-metric': 'smoke' },
      ownerReferences: [{ kind: 'AnalysisRun', name: 'web-7f9c-s1-a0', uid: 'run-uid', controller: true }],
    });
    expect(m.spec.activeDeadlineSeconds).toBe(MAX_JOB_SECONDS);
    expect(jobManifest(run, 'smoke', job({ activeDeadlineSeconds: 60 }), 1).spec.activeDeadlineSeconds).toBe(
      60,
    );
  });

  it('refuses selectors, large Jobs and long deadlines, naming the field', () => {
    expect(jobProblem(job())).toBeUndefined();
    expect(jobProblem(job({ manualSelector: true, selector: { matchLabels: { app: 'web' } } }))).toMatch(
      /^provider\.job\.spec\.selector and manualSelector are not allowed/,
    );
    expect(jobProblem(job({ parallelism: 500 }))).toBe(
      'provider.job.spec.parallelism 500 must be a whole number from 0 to 10',
    );
    expect(jobProblem(job({ backoffLimit: 11 }))).toMatch(/backoffLimit 11/);
    expect(jobProblem(job({ activeDeadlineSeconds: 86400 }))).toBe(
      'provider.job.spec.activeDeadlineSeconds 86400 must be from 1 to 3600',
    );
    expect(jobProblem({ spec: { template: {} } })).toBe('provider.job.spec.template.spec is required');
  });

  it("reads a Job's conditions: Complete passes, Failed fails with the reason, otherwise still running", () => {
    expect(jobVerdict('j', { conditions: [{ type: 'Complete', status: 'True' }] })).toEqual({
      phase: 'Successful',
      message: 'Job j succeeded',
    });
    expect(
      jobVerdict('j', {
        conditions: [
          {
            type: 'Failed',
            status: 'True',
            reason: 'BackoffLimitExceeded',
            message: 'Job has reached the specified backoff limit',
          },
        ],
      }),
    ).toEqual({
      phase: 'Failed',
      message: 'Job j failed: BackoffLimitExceeded: Job has reached the specified backoff limit',
    });
    expect(jobVerdict('j', { conditions: [{ type: 'Complete', status: 'False' }] })).toBeUndefined();
    expect(jobVerdict('j', undefined)).toBeUndefined();
  });

  it('is refused unless the admin enabled it, and a bad spec makes the run invalid at start', () => {
    const policy: AnalysisPolicy = { allowedPrefixes: [], maxTimeoutMs: 30_000 };
    expect(policyProblem({ provider: { job: job() } }, policy)).toMatch(
      /^provider\.job is not enabled: .*--analysis-job-provider/,
    );
    expect(policyProblem({ provider: { job: job() } }, { ...policy, jobs: true })).toBeUndefined();
    const spec = AnalysisTemplateSpec.parse({
      args: [{ name: 'rev' }],
      metrics: [{ name: 'smoke', provider: { job: job({ parallelism: 99, suspend: '{{args.rev}}' }) } }],
    });
    const resolve = () =>
      resolveMetrics({
        gates: { templates: [{ templateName: 't' }], args: [{ name: 'rev', value: 'abc' }] },
        gate: 'step',
        namespace: 'shop',
        templates: new Map([[templateKey({ templateName: 't' }), spec]]),
        policy: { ...policy, jobs: true },
      });
    expect(resolve).toThrow(
      'metric smoke (template t): provider.job.spec.parallelism 99 must be a whole number from 0 to 10',
    );
  });

  it('args fill every string of the Job', () => {
    const spec = AnalysisTemplateSpec.parse({
      args: [{ name: 'rev' }],
      metrics: [
        {
          name: 'smoke',
          provider: {
            job: {
              spec: {
                template: { spec: { containers: [{ name: 'c', image: 'i', args: ['--rev={{args.rev}}'] }] } },
              },
            },
          },
        },
      ],
    });
    const [m] = resolveMetrics({
      gates: { templates: [{ templateName: 't' }], args: [{ name: 'rev', value: 'abc' }] },
      gate: 'step',
      namespace: 'shop',
      templates: new Map([[templateKey({ templateName: 't' }), spec]]),
      policy: { allowedPrefixes: [], maxTimeoutMs: 30_000, jobs: true },
    });
    expect(JSON.stringify(m?.provider.job)).toContain('"--rev=abc"');
  });
});
