// Helpers for the write-back suites: a release that fails its success-rate gate, the YAML a
// team would keep in git for it, and the one-Secret Role docs/gitops.md asks users to write.
import type { KubernetesObject } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import type { Rollout } from '../../crds/index.ts';
import { canaryApp } from '../../sandbox/apps.ts';
import { applyYaml } from '../harness/apply.ts';

/** Background gates on short windows, and a pause long enough for them to judge the canary. */
export function failingCanary(
  namespace: string,
  image: string,
  name = 'web',
  writeBack?: Rollout['spec']['writeBack'],
) {
  const objects = canaryApp(namespace, {
    name,
    image,
    steps: [{ setWeight: 50 }, { pause: { duration: '60s' } }] as never,
    // A canary just given traffic may have no samples yet: a few empty windows are not a verdict.
    canary: {
      analysis: {
        interval: '3s',
        initialDelay: '6s',
        inconclusiveLimit: 5,
        successRate: { min: 95 },
      } as never,
    },
  });
  if (writeBack) {
    const rollout = objects.find((o) => o.kind === 'Rollout') as Rollout;
    rollout.spec.writeBack = writeBack;
  }
  return objects;
}

/** The objects as one multi-document YAML file, with a comment a revert must keep. */
export const asYaml = (objects: KubernetesObject[]): string =>
  `# ${objects[0]?.metadata?.namespace}: the shop's web tier\n${objects.map((o) => stringify(o)).join('---\n')}`;

export const withImage = (objects: KubernetesObject[], image: string, name = 'web'): KubernetesObject[] =>
  objects.map((o) => {
    if (o.kind !== 'Rollout' || o.metadata?.name !== name) return o;
    const r = structuredClone(o) as unknown as Rollout;
    (r.spec.template.spec.containers[0] as { image?: string }).image = image;
    return r as unknown as KubernetesObject;
  });

/** A Flux-format git Secret and a Role letting the controller's ServiceAccount read that one Secret. */
export async function gitCredentials(
  namespace: string,
  name: string,
  auth: { username: string; password: string },
) {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  await applyYaml(
    [
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace },
        data: { username: b64(auth.username), password: b64(auth.password) },
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'sluice-write-back', namespace },
        rules: [{ apiGroups: [''], resources: ['secrets'], resourceNames: [name], verbs: ['get'] }],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'sluice-write-back', namespace },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'sluice-write-back' },
        subjects: [{ kind: 'ServiceAccount', name: 'sluice', namespace: 'sluice-system' }],
      },
    ]
      .map((o) => stringify(o))
      .join('---\n'),
  );
}
