import { listRollouts } from '../api.ts';
import type { Io } from '../io.ts';
import type { Kube } from '../kube.ts';
import { renderList } from '../render/table.ts';

export async function runList(kube: Kube, io: Io, allNamespaces: boolean): Promise<number> {
  const rollouts = await listRollouts(kube, allNamespaces);
  if (rollouts.length === 0) {
    // kubectl's wording, on stderr, so scripts reading stdout see an empty table rather than prose.
    io.err(allNamespaces ? 'No resources found' : `No resources found in ${kube.namespace} namespace.`);
    return 0;
  }
  io.out(renderList(rollouts, io.now(), allNamespaces));
  return 0;
}
