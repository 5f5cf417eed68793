import { describe, expect, it } from 'vitest';
import { allSettledOrThrow } from '../../../controller/all-settled.ts';

describe('allSettledOrThrow', () => {
  it('returns every value in order', async () => {
    await expect(allSettledOrThrow([Promise.resolve(1), Promise.resolve('two')])).resolves.toEqual([
      1,
      'two',
    ]);
  });

  it('throws the first error only after the slower write has finished', async () => {
    let slowFinished = false;
    const slow = new Promise<void>((resolve) =>
      setImmediate(() => {
        slowFinished = true;
        resolve();
      }),
    );
    const failing = Promise.reject(new Error('409 conflict'));
    await expect(allSettledOrThrow([failing, slow])).rejects.toThrow('409 conflict');
    expect(slowFinished).toBe(true);
  });
});
