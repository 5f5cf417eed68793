import { describe, expect, it } from 'vitest';
import { assertNoSecretLeaks } from '../../support/secrets.ts';

// The leak check itself: a check that cannot fail would make every test using it pass.
describe('assertNoSecretLeaks', () => {
  it('assertNoSecretLeaks finds a secret in each form it can leak in', async () => {
    const secret = 'p@ss word/1';
    for (const text of [secret, encodeURIComponent(secret), Buffer.from(secret).toString('base64')]) {
      await expect(
        assertNoSecretLeaks([secret], [{ name: 'sample', read: () => `x ${text} y` }]),
      ).rejects.toThrow(/secret found in what the controller emitted:\nsample: /);
    }
    await expect(
      assertNoSecretLeaks([secret], [{ name: 'sample', read: () => 'clean' }]),
    ).resolves.toBeUndefined();
  });
});
