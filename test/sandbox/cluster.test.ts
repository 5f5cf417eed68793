import { AuthorizationV1Api } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { applyYaml } from '../harness/apply.ts';
import { kube } from '../harness/kube.ts';
import { freshNamespace } from '../harness/namespace.ts';
import { waitFor } from '../harness/wait.ts';

describe('sandbox control plane', () => {
  it('runs a Deployment: the ReplicaSet controller creates pods, the scheduler places them, kwok makes them Ready', async () => {
    const ns = await freshNamespace();
    await applyYaml(
      `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: app, image: "example.com/web:1.0.0"}]}
`,
      ns,
    );
    const dep = await waitFor(
      async () => {
        const d = await kube().apps.readNamespacedDeployment({ name: 'web', namespace: ns });
        return d.status?.readyReplicas === 3 ? d : false;
      },
      { description: `deployment ${ns}/web to have 3 ready replicas`, timeout: 60_000 },
    );
    expect(dep.status?.availableReplicas).toBe(3);

    const pods = await kube().core.listNamespacedPod({ namespace: ns, labelSelector: 'app=web' });
    expect(pods.items).toHaveLength(3);
    const nodes = await kube().core.listNode();
    const fakeNodes = new Set(nodes.items.map((n) => n.metadata?.name));
    for (const pod of pods.items) {
      expect(pod.metadata?.ownerReferences?.[0]?.kind).toBe('ReplicaSet');
      expect(fakeNodes.has(pod.spec?.nodeName)).toBe(true);
      expect(pod.status?.phase).toBe('Running');
      expect(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    }
  });

  it('authorizes with RBAC: a service account without bindings may not list pods', async () => {
    const ns = await freshNamespace();
    const authz = kube().kc.makeApiClient(AuthorizationV1Api);
    const review = await authz.createSubjectAccessReview({
      body: {
        spec: {
          user: `system:serviceaccount:${ns}:nobody`,
          resourceAttributes: { namespace: ns, verb: 'list', resource: 'pods' },
        },
      },
    });
    expect(review.status?.allowed).toBe(false);
  });
});
