import { describe, expect, it } from 'vitest';
import { runDemo } from '../support/demo.ts';

// `npm run demo -- --argocd`, as the README gives it: the same story delivered by Argo CD. It
// exits non-zero unless Argo CD reports Sluice's revert Synced and Healthy and the app ends on v2.
describe('npm run demo -- --argocd', () => {
  it('takes v2 and v3 through git and Argo CD, and ends Healthy on v2 with the revert in git and Synced', async () => {
    const out = await runDemo(['--argocd'], 'Argo CD');
    // The live view is Argo CD's word, never Flux's.
    expect(out).toMatch(/argocd Synced\/Healthy/);
    expect(out).not.toMatch(/flux (Ready|Progressing)/);
  }, 420_000);
});
