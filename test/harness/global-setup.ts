import type { TestProject } from 'vitest/node';
import { down, sandboxHealthy, type UpOptions, up } from '../../sandbox/lifecycle.ts';
import { releaseLease, takeLease, withSandboxLock } from '../../sandbox/lock.ts';

/**
 * Brings the sandbox up once per run. A sandbox that is already running (a person's, or CI's
 * started by .ci/run) is reused and left running. One started by a test run is stopped when
 * the last test run using it finishes; concurrent runs in one checkout hold leases on it.
 */
export function sandboxSetup(opts: UpOptions): (project: TestProject) => Promise<() => Promise<void>> {
  return async (project) => {
    const env = await withSandboxLock(async () => {
      const reused = await sandboxHealthy();
      // `up` on a healthy sandbox takes about a second and still re-applies CRDs that changed
      // in crds/ since it started, so a reused sandbox serves what the checkout holds.
      const e = await up(opts);
      takeLease(!reused);
      return e;
    });
    project.provide('sandbox', env);
    return () =>
      withSandboxLock(async () => {
        if (releaseLease()) await down();
      });
  };
}

export default sandboxSetup({ flux: true });
