// The writes analysis makes: run status, run pruning, and the resume signal after Prometheus
// comes back. Kept apart from writer.ts but under the same leadership guard and field manager.
import type { AnalysisRun, AnalysisRunStatus } from '../../crds/index.ts';
import { isConflict, isNotFound, mergePatch, requestJson } from '../kube/client.ts';
import { GuardedWriter, sluicePath } from '../writer.ts';

export class AnalysisWriter extends GuardedWriter {
  /**
   * Replaces the run's status, guarded by resourceVersion: the runner's read may be stale
   * (another replica, a terminate just written). Returns the updated run, or false on conflict.
   */
  async writeRunStatus(run: AnalysisRun, status: AnalysisRunStatus): Promise<AnalysisRun | false> {
    this.guard();
    try {
      return await requestJson<AnalysisRun>(this.kc, {
        method: 'PUT',
        path: sluicePath('analysisruns', run.metadata.namespace ?? 'default', run.metadata.name, 'status'),
        query: { fieldManager: this.fieldManager },
        body: { ...run, status },
      });
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  async readRun(namespace: string, name: string): Promise<AnalysisRun | undefined> {
    try {
      return await requestJson<AnalysisRun>(this.kc, {
        method: 'GET',
        path: sluicePath('analysisruns', namespace, name),
      });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async deleteRun(namespace: string, name: string): Promise<void> {
    this.guard();
    try {
      await requestJson(this.kc, { method: 'DELETE', path: sluicePath('analysisruns', namespace, name) });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /**
   * Leaves a resume signal on the Rollout, as `kubectl sluice resume` would. The reconciler's
   * status writes carry resourceVersion, so this merge patch is never silently overwritten.
   */
  async signalResume(namespace: string, name: string, by: string, at: Date): Promise<void> {
    this.guard();
    await mergePatch(
      this.kc,
      sluicePath('rollouts', namespace, name, 'status'),
      { status: { signals: { resume: { requestedAt: at.toISOString(), by } } } },
      { fieldManager: this.fieldManager },
    );
  }
}
