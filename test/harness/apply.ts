import { type KubernetesObject, PatchStrategy } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { kube } from './kube.ts';

/**
 * Server-side applies every document in `yaml` (namespaced into `namespace` when they name
 * none) and returns what the API server stored. Rejections surface as the API's own error,
 * so tests can assert on the validation message.
 */
export async function applyYaml(yaml: string, namespace?: string): Promise<KubernetesObject[]> {
  const out: KubernetesObject[] = [];
  for (const doc of parseAllDocuments(yaml)) {
    const obj = doc.toJS() as KubernetesObject | null;
    if (!obj) continue;
    if (namespace && !obj.metadata?.namespace) obj.metadata = { ...obj.metadata, namespace };
    out.push(
      await kube().objects.patch(
        obj,
        undefined,
        undefined,
        'sluice-test',
        true,
        PatchStrategy.ServerSideApply,
      ),
    );
  }
  return out;
}

/**
 * Creates (POSTs) every document. Unlike server-side apply, whose patch is typed against the
 * schema before validation runs (a wrongly typed field becomes a 500 "failed to create typed
 * patch object"), a create reaches the CRD's validation and gets its 422 with field paths.
 */
export async function createYaml(yaml: string, namespace?: string): Promise<KubernetesObject[]> {
  const out: KubernetesObject[] = [];
  for (const doc of parseAllDocuments(yaml)) {
    const obj = doc.toJS() as KubernetesObject | null;
    if (!obj) continue;
    if (namespace && !obj.metadata?.namespace) obj.metadata = { ...obj.metadata, namespace };
    out.push(await kube().objects.create(obj));
  }
  return out;
}
