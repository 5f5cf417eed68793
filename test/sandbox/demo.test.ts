import { describe, it } from 'vitest';
import { runDemo } from '../support/demo.ts';

// The README's first command, run as a user would: it exits non-zero unless v2 was promoted,
// v3 rolled back, the revert committed to git and applied by Flux, and the app ended on v2.
describe('npm run demo', () => {
  it('takes v2 and v3 through git and Flux, and ends Healthy on v2 with the revert in git', async () => {
    await runDemo([], 'Flux');
  }, 420_000);
});
