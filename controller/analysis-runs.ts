import { type AnalysisRun, API_VERSION, type Rollout } from '../crds/index.ts';
import type { EffectParams } from '../machines/actions.ts';
import { gatesFor } from '../machines/gates.ts';
import { ROLLOUT_LABEL } from './revision.ts';
import { ownerReference } from './workload.ts';

/**
 * The AnalysisRun object for a gate the machine started. Its name comes from the machine and
 * is deterministic, so creating it twice (after a crash) finds the first one. Measuring is
 * the analysis runner's job; the run carries what it needs: the gate, args and revision.
 */
export function analysisRunFor(rollout: Rollout, start: EffectParams['startAnalysis']): AnalysisRun {
  const gates = gatesFor(rollout.spec, start.gate, start.stepIndex);
  const name = rollout.metadata.name ?? '';
  return {
    apiVersion: API_VERSION,
    kind: 'AnalysisRun',
    metadata: {
      name: start.name,
      namespace: rollout.metadata.namespace,
      labels: { [ROLLOUT_LABEL]: name, 'sluice.dev/gate': start.gate },
      ownerReferences: [ownerReference(rollout)],
    },
    spec: {
      rollout: name,
      revision: start.revision,
      gate: start.gate,
      ...(start.stepIndex === undefined ? {} : { stepIndex: start.stepIndex }),
      ...(gates?.args ? { args: gates.args } : {}),
      metrics: [],
    },
  };
}
