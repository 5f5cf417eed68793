import { randomBytes } from 'node:crypto';
import { onTestFinished } from 'vitest';
import { kube } from './kube.ts';

/**
 * A namespace of its own for the current test, deleted when the test finishes (pass or fail).
 * Deletion is not awaited to completion: the namespace controller finishes it in the background.
 */
export async function freshNamespace(prefix = 't'): Promise<string> {
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  await kube().core.createNamespace({ body: { metadata: { name, labels: { 'sluice.dev/test': 'true' } } } });
  onTestFinished(async () => {
    await kube()
      .core.deleteNamespace({ name })
      .catch(() => undefined);
  });
  return name;
}
