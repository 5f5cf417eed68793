import { PatchStrategy } from '@kubernetes/client-node';
import { onTestFinished } from 'vitest';
import { stringify } from 'yaml';
import { patchOptions } from '../../controller/kube/client.ts';
import { LOAD_CONFIGMAP, PROFILES_CONFIGMAP, SANDBOX_NAMESPACE } from '../../sandbox/traffic/kube.ts';
import type { Profile } from '../../sandbox/traffic/types.ts';
import { kube } from './kube.ts';

/**
 * Sets keys of the simulator's ConfigMaps with a merge patch (null removes a key), so tests
 * touching different hosts never overwrite each other's entries.
 */
async function patchData(name: string, data: Record<string, string | null>): Promise<void> {
  await kube().core.patchNamespacedConfigMap(
    { name, namespace: SANDBOX_NAMESPACE, body: { data } },
    patchOptions(PatchStrategy.MergePatch),
  );
}

/** Sends `rps` requests per second to `host` until the test ends. */
export async function setLoad(host: string, rps: number): Promise<void> {
  await patchData(LOAD_CONFIGMAP, { [host]: String(rps) });
  onTestFinished(() => patchData(LOAD_CONFIGMAP, { [host]: null }));
}

/** Gives pods running `image` this behaviour until the test ends. */
export async function setProfile(image: string, profile: Partial<Profile>): Promise<void> {
  const key = image.replace(/[^-._a-zA-Z0-9]/g, '_');
  await patchData(PROFILES_CONFIGMAP, { [key]: stringify({ image, ...profile }) });
  onTestFinished(() => patchData(PROFILES_CONFIGMAP, { [key]: null }));
}

/** Sends several kinds of request to `host` (e.g. some with a header) until the test ends. */
export async function setLoadClasses(
  host: string,
  classes: { rps: number; path?: string; headers?: Record<string, string>; sessions?: number }[],
): Promise<void> {
  await patchData(LOAD_CONFIGMAP, { [host]: stringify(classes) });
  onTestFinished(() => patchData(LOAD_CONFIGMAP, { [host]: null }));
}
