import { describe, expect, it } from 'vitest';
import { logSubjects, readFileAt } from '../../sandbox/git/repo.ts';
import { waitForEvent } from '../support/apps.ts';
import { assertNoSecretLeaks, controllerOutput, namespaceObjects } from '../support/secrets.ts';
import { WRITE_BACK_AUTH as AUTH, rollBackWithWriteBack } from '../support/write-back.ts';

describe('write-back with an explicit repository (no GitOps tool)', () => {
  it('commits the revert of a rolled-back canary, and refuses when the file is not where spec says', {
    timeout: 240_000,
  }, async () => {
    const {
      ns,
      bare,
      v1,
      badCommit,
      webStable,
      apiStable,
      webDone,
      apiDone,
      controller,
      prom,
      promPassword,
    } = await rollBackWithWriteBack();

    // web: one commit on top of the bad one, restoring v1 byte for byte (only the image differs).
    const failedRevision = webDone.status?.currentRevision;
    expect(webDone.status?.stableRevision).toBe(webStable.status?.stableRevision);
    expect(webDone.status?.writeBack).toMatchObject({ revision: failedRevision, state: 'Committed' });
    expect(readFileAt(bare, 'deploy/web.yaml')).toBe(v1);
    const subjects = logSubjects(bare);
    expect(subjects[0]).toBe(
      `sluice: roll back ${ns}/web from ${failedRevision} to ${webStable.status?.stableRevision}`,
    );
    expect(subjects[1]).toBe('web v2');
    expect(webDone.status?.writeBack?.commit).not.toBe(badCommit);
    const committed = await waitForEvent(ns, 'WriteBackCommitted');
    expect(committed.note).toMatch(/deploy\/web\.yaml back to stable revision/);

    // api: nothing pushed, a Warning, and status saying git still holds the failed version.
    expect(apiDone.status?.writeBack).toMatchObject({
      state: 'Failed',
      revision: apiDone.status?.currentRevision,
    });
    expect(apiDone.status?.writeBack?.message).toMatch(
      /no YAML document for Rollout .*\/api .*under nowhere/,
    );
    expect(apiDone.status?.writeBack?.message).toMatch(/git still holds the failed revision/);
    expect(apiStable.status?.stableRevision).toBe(apiDone.status?.stableRevision);
    expect((await waitForEvent(ns, 'WriteBackFailed')).type).toBe('Warning');
    expect(logSubjects(bare)).toHaveLength(3);

    // Neither the git token (only in its Secret) nor the Prometheus password (only in the
    // controller's environment) reaches the log, Events, Rollouts or AnalysisRuns.
    expect(prom.seen.authorized).toBeGreaterThan(0);
    await assertNoSecretLeaks(
      [AUTH.password, `${AUTH.username}:${AUTH.password}`, promPassword, `sluice:${promPassword}`],
      [controllerOutput(controller), ...namespaceObjects(ns)],
    );
  });
});
