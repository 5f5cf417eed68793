// Argo Rollouts' `job` metric, the pure half: which Job a measurement is, what the tenant's Job
// spec may ask for, and what a Job's status says. controller/analysis/jobs.ts creates, reads
// and deletes the Jobs. A Job runs whatever the template says in the Rollout's namespace with
// the controller's authority to create it, so the spec is bounded here (docs/security.md).
import { createHash } from 'node:crypto';
import type { AnalysisRun, JobProvider } from '../crds/index.ts';
import type { MeasurementPhase } from '../machines/analysis-run.ts';

/** A Job may run at most an hour: a measurement that never ends would hold its gate for ever. */
export const MAX_JOB_SECONDS = 3600;
/** Pods one Job may ask for at once, in all, and retries: a measurement, not a batch workload. */
export const MAX_JOB_PODS = 10;

/** Labels every analysis Job carries, so a person (and `kubectl get jobs -l`) finds its run. */
export const JOB_RUN_LABEL = 'sluice.dev/analysis-run';
export const JOB_METRIC_LABEL = 'sluice.dev/analysis-metric';

/**
 * `<run>-<metric>-<n>` for the n-th measurement, deterministic so a pass that crashed after
 * creating it finds it again. A Job's name becomes a pod label value (63 characters): longer
 * names keep their start and a hash of the whole.
 */
export function jobName(run: string, metric: string, n: number): string {
  const full = `${run}-${metric}-${n}`.toLowerCase().replace(/[^a-z0-9-]/g, '-');
  if (full.length <= 63) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 10);
  return `${full.slice(0, 52).replace(/-+$/, '')}-${hash}`;
}

/** What in a Job spec Sluice will not create, naming the field; undefined when it may run. */
export function jobProblem(job: JobProvider): string | undefined {
  const spec = job.spec as Record<string, unknown>;
  // A manual selector lets a Job adopt, and delete, any pod of the namespace it matches.
  if (spec.manualSelector === true || spec.selector !== undefined) {
    return 'provider.job.spec.selector and manualSelector are not allowed: the Job controller picks its own pods';
  }
  for (const field of ['parallelism', 'completions', 'backoffLimit'] as const) {
    const v = spec[field];
    if (v !== undefined && (!Number.isInteger(v) || (v as number) < 0 || (v as number) > MAX_JOB_PODS)) {
      return `provider.job.spec.${field} ${String(v)} must be a whole number from 0 to ${MAX_JOB_PODS}`;
    }
  }
  const deadline = spec.activeDeadlineSeconds;
  if (
    deadline !== undefined &&
    (!Number.isInteger(deadline) || (deadline as number) < 1 || (deadline as number) > MAX_JOB_SECONDS)
  ) {
    return `provider.job.spec.activeDeadlineSeconds ${String(deadline)} must be from 1 to ${MAX_JOB_SECONDS}`;
  }
  const template = spec.template as { spec?: { restartPolicy?: unknown } } | undefined;
  if (!template?.spec || typeof template.spec !== 'object')
    return 'provider.job.spec.template.spec is required';
  return undefined;
}

/** The Job for one measurement: in the run's namespace, owned by the run, bounded in time and pods. */
export function jobManifest(run: AnalysisRun, metric: string, job: JobProvider, n: number) {
  const name = jobName(run.metadata.name ?? '', metric, n);
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      namespace: run.metadata.namespace,
      labels: {
        ...job.metadata?.labels,
        [JOB_RUN_LABEL]: run.metadata.name ?? '',
        [JOB_METRIC_LABEL]: metric,
      },
      ...(job.metadata?.annotations ? { annotations: job.metadata.annotations } : {}),
      // Deleted with its run. No blockOwnerDeletion: that would need rights on the run's finalizers.
      ownerReferences: [
        {
          apiVersion: run.apiVersion,
          kind: 'AnalysisRun',
          name: run.metadata.name ?? '',
          uid: run.metadata.uid ?? '',
          controller: true,
        },
      ],
    },
    spec: {
      ...job.spec,
      activeDeadlineSeconds: (job.spec.activeDeadlineSeconds as number | undefined) ?? MAX_JOB_SECONDS,
    },
  };
}

interface JobCondition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

/** A Job's outcome as a measurement, or undefined while it runs. */
export function jobVerdict(
  name: string,
  status: { conditions?: JobCondition[]; succeeded?: number; failed?: number } | undefined,
): { phase: MeasurementPhase; message: string } | undefined {
  const done = (type: string) => status?.conditions?.find((c) => c.type === type && c.status === 'True');
  if (done('Complete')) return { phase: 'Successful', message: `Job ${name} succeeded` };
  const failed = done('Failed');
  if (failed) {
    const why = [failed.reason, failed.message].filter(Boolean).join(': ').slice(0, 512);
    return { phase: 'Failed', message: `Job ${name} failed${why ? `: ${why}` : ''}` };
  }
  return undefined;
}
