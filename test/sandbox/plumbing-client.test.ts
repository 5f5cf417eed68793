import { KubeConfig, PatchStrategy, type V1ConfigMap } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  applyPatch,
  isConflict,
  isNotFound,
  loadKubeConfig,
  makeClients,
  mergePatch,
  patchOptions,
  requestJson,
  resourcePath,
} from '../../controller/kube/client.ts';
import { sandbox } from '../harness/env.ts';
import { freshNamespace } from '../harness/namespace.ts';

// The client helpers against the real API server: the patch content types, field managers
// and error classification are what the server says they are, not what we assume.

function kc(): KubeConfig {
  const k = new KubeConfig();
  k.loadFromFile(sandbox().KUBECONFIG);
  return k;
}

const cmPath = (namespace: string, name?: string) =>
  resourcePath({ version: 'v1', plural: 'configmaps', namespace, name });

describe('kube client helpers on the real API server', () => {
  it('loads the sandbox kubeconfig and talks to the server through the typed clients', async () => {
    const c = makeClients(loadKubeConfig({ kubeconfig: sandbox().KUBECONFIG }));
    const ns = await freshNamespace('cl');
    await c.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'typed' } } });
    const list = await c.core.listNamespacedConfigMap({ namespace: ns });
    expect(list.items.some((i) => i.metadata?.name === 'typed')).toBe(true);
  });

  it('merge-patches by path, removing keys with null, under a field manager', async () => {
    const ns = await freshNamespace('cl');
    await requestJson(kc(), {
      method: 'POST',
      path: cmPath(ns),
      body: { metadata: { name: 'm' }, data: { keep: '1', drop: '2' } },
    });
    const patched = await mergePatch<V1ConfigMap>(
      kc(),
      cmPath(ns, 'm'),
      { data: { drop: null, add: '3' } },
      {
        fieldManager: 'sluice',
      },
    );
    expect(patched.data).toEqual({ keep: '1', add: '3' });
    expect(patched.metadata?.managedFields?.some((f) => f.manager === 'sluice')).toBe(true);
  });

  it('applies server-side, and reports a conflict with another manager unless forced', async () => {
    const ns = await freshNamespace('cl');
    const body = (v: string) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'a' },
      data: { w: v },
    });
    await applyPatch(kc(), cmPath(ns, 'a'), body('1'), { fieldManager: 'gitops' });
    const err = await applyPatch(kc(), cmPath(ns, 'a'), body('2'), { fieldManager: 'sluice' }).catch(
      (e) => e,
    );
    expect(isConflict(err)).toBe(true);
    const forced = await applyPatch<V1ConfigMap>(kc(), cmPath(ns, 'a'), body('2'), {
      fieldManager: 'sluice',
      force: true,
    });
    expect(forced.data?.w).toBe('2');
  });

  it('sets the patch content type for the generated clients', async () => {
    const ns = await freshNamespace('cl');
    const c = makeClients(kc());
    await c.core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'g' }, data: { a: '1' } },
    });
    // Without the option the generated client would send this object as a JSON Patch and fail.
    const out = await c.core.patchNamespacedConfigMap(
      { namespace: ns, name: 'g', body: { data: { b: '2' } }, fieldManager: 'sluice' },
      patchOptions(PatchStrategy.MergePatch),
    );
    expect(out.data).toEqual({ a: '1', b: '2' });
  });

  it('classifies not-found and optimistic-concurrency conflicts', async () => {
    const ns = await freshNamespace('cl');
    const missing = await requestJson(kc(), { method: 'GET', path: cmPath(ns, 'nope') }).catch((e) => e);
    expect(isNotFound(missing)).toBe(true);
    const c = makeClients(kc());
    const typedMissing = await c.core
      .readNamespacedConfigMap({ namespace: ns, name: 'nope' })
      .catch((e) => e);
    expect(isNotFound(typedMissing)).toBe(true);

    const created = await requestJson<V1ConfigMap>(kc(), {
      method: 'POST',
      path: cmPath(ns),
      body: { metadata: { name: 'v' } },
    });
    await requestJson(kc(), { method: 'PUT', path: cmPath(ns, 'v'), body: { ...created, data: { x: '1' } } });
    const stale = await requestJson(kc(), {
      method: 'PUT',
      path: cmPath(ns, 'v'),
      body: { ...created, data: { x: '2' } },
    }).catch((e) => e);
    expect(isConflict(stale)).toBe(true);
  });
});
