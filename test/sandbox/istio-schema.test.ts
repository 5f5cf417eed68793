import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { applyYaml, createYaml } from '../harness/apply.ts';
import { freshNamespace } from '../harness/namespace.ts';

const vs = (weight: string, host = 'reviews-stable') => `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
    - name: primary
      route:
        - destination: {host: ${host}}
          weight: ${weight}
        - destination: {host: reviews-canary}
          weight: 20
`;

/** The API server's refusal: HTTP status and the Status message with its field paths. */
async function rejection(yaml: string, ns: string): Promise<{ code: number; message: string }> {
  try {
    await createYaml(yaml, ns);
  } catch (err) {
    if (!(err instanceof ApiException)) throw err;
    const status = JSON.parse(String(err.body)) as { message?: string };
    return { code: err.code, message: status.message ?? String(err.body) };
  }
  throw new Error('the API server accepted an invalid VirtualService');
}

describe("Istio's CRD schema", () => {
  it('accepts a valid VirtualService', async () => {
    const ns = await freshNamespace();
    const [stored] = await applyYaml(vs('80'), ns);
    expect(stored?.metadata?.uid).toBeTruthy();
  });

  it('rejects a route weight that is a string', async () => {
    const ns = await freshNamespace();
    const err = await rejection(vs('"eighty"'), ns);
    expect(err.code).toBe(422);
    expect(err.message).toMatch(/spec\.http\[0\]\.route\[0\]\.weight: Invalid value: "string"/);
    expect(err.message).toMatch(/integer/);
  });

  it('rejects a destination without a host', async () => {
    const ns = await freshNamespace();
    const err = await rejection(
      vs('80', '{}').replace('destination: {host: {}}', 'destination: {subset: v1}'),
      ns,
    );
    expect(err.code).toBe(422);
    expect(err.message).toMatch(/spec\.http\[0\]\.route\[0\]\.destination\.host: Required value/);
  });
});
