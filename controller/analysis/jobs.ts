// The `job` metric's side effects: create the measurement's Job, read its outcome, delete the
// ones a run no longer needs. The controller's ClusterRole grants nothing on Jobs: an admin who
// enables the provider (--analysis-job-provider) grants `get`, `create` and `delete` on jobs per
// namespace (docs/security.md), so Kubernetes' own RBAC says where a template may run a Job.
// Jobs are read with a GET when a measurement is due, not watched: a watch would need `list`
// cluster-wide.
import { jobManifest, jobProblem, jobVerdict } from '../../analysis/job.ts';
import type { Taken } from '../../analysis/measure.ts';
import type { AnalysisRun, RunMetric } from '../../crds/index.ts';
import {
  errorMessage,
  isForbidden,
  isNotFound,
  requestJson,
  resourcePath,
  statusCode,
} from '../kube/client.ts';
import { GuardedWriter } from '../writer.ts';

interface Job {
  metadata?: { name?: string; ownerReferences?: { uid?: string; controller?: boolean }[] };
  status?: Parameters<typeof jobVerdict>[1];
}

/** A measurement whose Job still runs: nothing is recorded, the run looks again shortly. */
export const STILL_RUNNING = 'running' as const;

const jobsPath = (namespace: string, name?: string) =>
  resourcePath({ group: 'batch', version: 'v1', plural: 'jobs', namespace, ...(name ? { name } : {}) });

export class JobMeasurer extends GuardedWriter {
  /** The n-th measurement of `metric`: its Job's outcome, creating the Job first if needed. */
  async measure(run: AnalysisRun, metric: RunMetric, n: number): Promise<Taken | typeof STILL_RUNNING> {
    const spec = metric.provider.job;
    const error = (message: string): Taken => ({ metric: metric.name, phase: 'Error', message });
    if (!spec) return error('not a Job metric');
    const problem = jobProblem(spec);
    if (problem) return error(problem);
    const manifest = jobManifest(run, metric.name, spec, n);
    const { name, namespace } = manifest.metadata;
    const ns = namespace ?? 'default';
    try {
      const job = (await this.read(ns, name)) ?? (await this.create(ns, manifest));
      if (!ownedBy(job, run)) {
        return error(`a Job named ${name} exists that this run did not create; delete it to measure`);
      }
      const verdict = jobVerdict(name, job.status);
      return verdict ? { metric: metric.name, ...verdict } : STILL_RUNNING;
    } catch (err) {
      if (isForbidden(err)) {
        return error(
          `the controller may not create or read Jobs in namespace ${ns}: the cluster admin grants it per namespace (docs/security.md, "Job metrics")`,
        );
      }
      if (statusCode(err) === 422 || statusCode(err) === 400) {
        return error(`the API server refused Job ${name}: ${errorMessage(err).slice(0, 1024)}`);
      }
      return { ...error(`Job ${name}: ${errorMessage(err).slice(0, 512)}`), unreachable: true };
    }
  }

  /** Deletes the Job a run's metric would be waiting on, with its pods; gone already is fine. */
  async stop(run: AnalysisRun, metric: RunMetric, n: number): Promise<void> {
    if (!metric.provider.job) return;
    const { name, namespace } = jobManifest(run, metric.name, metric.provider.job, n).metadata;
    this.guard();
    try {
      await requestJson(this.kc, {
        method: 'DELETE',
        path: jobsPath(namespace ?? 'default', name),
        body: { propagationPolicy: 'Background' },
      });
    } catch (err) {
      if (!isNotFound(err) && !isForbidden(err)) throw err;
    }
  }

  private async read(namespace: string, name: string): Promise<Job | undefined> {
    try {
      return await requestJson<Job>(this.kc, { method: 'GET', path: jobsPath(namespace, name) });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private async create(namespace: string, manifest: ReturnType<typeof jobManifest>): Promise<Job> {
    this.guard();
    try {
      return await requestJson<Job>(this.kc, { method: 'POST', path: jobsPath(namespace), body: manifest });
    } catch (err) {
      // Created by a pass that did not see its answer: read what is there.
      if (statusCode(err) === 409) return (await this.read(namespace, manifest.metadata.name)) ?? {};
      throw err;
    }
  }
}

/** Names prove nothing: only a Job whose controller reference carries this run's uid is its measurement. */
const ownedBy = (job: Job, run: AnalysisRun): boolean =>
  job.metadata?.ownerReferences?.some((o) => o.controller === true && o.uid === run.metadata.uid) === true;
