import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiException, PatchStrategy } from '@kubernetes/client-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  errorMessage,
  isConflict,
  isForbidden,
  isGone,
  isNotFound,
  loadKubeConfig,
  makeClients,
  patchOptions,
  resourcePath,
  statusCode,
} from '../../../controller/kube/client.ts';

const KUBECONFIG = `
apiVersion: v1
kind: Config
current-context: one
clusters:
- name: c1
  cluster: {server: "https://one.example:6443"}
- name: c2
  cluster: {server: "https://two.example:6443"}
users:
- name: u
  user: {token: abc}
contexts:
- name: one
  context: {cluster: c1, user: u}
- name: two
  context: {cluster: c2, user: u}
`;

function kubeconfigFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-kc-'));
  const file = join(dir, 'config');
  writeFileSync(file, KUBECONFIG);
  return file;
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('loadKubeConfig', () => {
  it('reads an explicit file and selects a context', () => {
    const file = kubeconfigFile();
    expect(loadKubeConfig({ kubeconfig: file }).getCurrentCluster()?.server).toBe('https://one.example:6443');
    expect(loadKubeConfig({ kubeconfig: file, context: 'two' }).getCurrentCluster()?.server).toBe(
      'https://two.example:6443',
    );
  });

  it('falls back to $KUBECONFIG, ahead of in-cluster config', () => {
    vi.stubEnv('KUBECONFIG', kubeconfigFile());
    vi.stubEnv('KUBERNETES_SERVICE_HOST', '10.0.0.1');
    expect(loadKubeConfig().getCurrentCluster()?.server).toBe('https://one.example:6443');
  });

  it('rejects an unknown context', () => {
    expect(() => loadKubeConfig({ kubeconfig: kubeconfigFile(), context: 'nope' })).toThrow();
  });

  it('builds every client from one config', () => {
    const c = makeClients(loadKubeConfig({ kubeconfig: kubeconfigFile() }));
    for (const k of ['core', 'apps', 'custom', 'coordination', 'events', 'objects'] as const) {
      expect(c[k]).toBeDefined();
    }
  });
});

describe('error classification', () => {
  const api = (code: number) => new ApiException(code, 'x', {}, {});
  it('reads codes from ApiException, watch errors and Status bodies', () => {
    expect(statusCode(api(404))).toBe(404);
    expect(statusCode(Object.assign(new Error('Gone'), { statusCode: 410 }))).toBe(410);
    expect(statusCode({ kind: 'Status', code: 409 })).toBe(409);
    expect(statusCode({ body: { code: 403 } })).toBe(403);
    expect(statusCode(new Error('ECONNREFUSED'))).toBeUndefined();
    expect(statusCode(undefined)).toBeUndefined();
    expect(statusCode('404')).toBeUndefined();
  });

  it('summarises errors in one line for logs', () => {
    const e = new ApiException(
      409,
      'HTTP-Code: 409\nMessage: ...\nBody: ...\nHeaders: ...',
      { message: 'the object has been modified' },
      {},
    );
    expect(errorMessage(e)).toBe('HTTP 409: the object has been modified');
    expect(errorMessage(new ApiException(500, 'x', undefined, {}))).toBe('HTTP 500');
    expect(errorMessage(new Error('ECONNREFUSED'))).toBe('ECONNREFUSED');
    expect(errorMessage({ kind: 'Status', message: 'too old resource version' })).toBe(
      'too old resource version',
    );
    expect(errorMessage(42)).toBe('42');
  });

  it('classifies', () => {
    expect([isNotFound(api(404)), isConflict(api(409)), isForbidden(api(403)), isGone(api(410))]).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(isNotFound(api(409))).toBe(false);
    expect(isConflict(new Error('conflict'))).toBe(false);
  });
});

describe('resourcePath', () => {
  it('builds core, group, cluster-wide and subresource paths', () => {
    expect(resourcePath({ version: 'v1', plural: 'configmaps', namespace: 'x' })).toBe(
      '/api/v1/namespaces/x/configmaps',
    );
    expect(resourcePath({ version: 'v1', plural: 'configmaps' })).toBe('/api/v1/configmaps');
    expect(
      resourcePath({
        group: 'sluice.dev',
        version: 'v1alpha1',
        plural: 'rollouts',
        namespace: 'shop',
        name: 'checkout',
        subresource: 'status',
      }),
    ).toBe('/apis/sluice.dev/v1alpha1/namespaces/shop/rollouts/checkout/status');
  });
});

describe('patchOptions', () => {
  it('adds a middleware that sets the patch content type', () => {
    const o = patchOptions(PatchStrategy.MergePatch);
    expect(o.middleware).toHaveLength(1);
    const headers: Record<string, string> = {};
    const fakeRequest = { setHeaderParam: (k: string, v: string) => (headers[k] = v) };
    // biome-ignore lint/suspicious/noExplicitAny: the middleware's request type is internal to client-node.
    o.middleware![0]!.pre(fakeRequest as any);
    expect(headers['Content-Type']).toBe('application/merge-patch+json');
  });
});
