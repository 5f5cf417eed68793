// `kubectl sluice lint -f FILE [--prometheus URL]`: what the API server's schema would refuse in a
// file of Rollouts and templates, and, against a live Prometheus, what each compareToStable gate
// can see in the time its steps allow (the same numbers the controller puts on a run at its start).
import { parseAllDocuments } from 'yaml';
import { assessGate, checksSeenAhead } from '../../analysis/detectability.ts';
import { PrometheusProvider } from '../../analysis/provider.ts';
import { readTraffic } from '../../analysis/traffic-history.ts';
import type { GateKind, Rollout } from '../../crds/index.ts';
import { destinationRuleOf, gatesFor } from '../../crds/index.ts';
import { fieldPath, isSluiceKind, parseResource, type SluiceKind } from '../../crds/validate.ts';
import type { Io } from '../io.ts';
import { judgeObject } from '../judge.ts';
import { readBounded } from '../read-input.ts';
import { type LintDocument, type LintGate, type LintReport, lintFailed, renderLint } from '../render/lint.ts';

/** The whole Prometheus question per Rollout: lint must not hang on an address that does not answer. */
const PROMETHEUS_TIMEOUT_MS = 5000;

/** The compareToStable gates of a Rollout worked out ahead, each with where it sits and its checks. */
export function compareGates(
  rollout: Rollout,
): { label: string; gate: GateKind; stepIndex?: number; checks: string[] }[] {
  const { canary, blueGreen } = rollout.spec.strategy;
  const found = [
    { label: 'background analysis', gate: 'background' as GateKind, gates: canary?.analysis },
    ...(canary?.steps ?? []).map((step, i) => ({
      label: `step ${i + 1} analysis`,
      gate: 'step' as GateKind,
      stepIndex: i,
      gates: step.analysis,
    })),
    {
      label: 'prePromotionAnalysis',
      gate: 'prePromotion' as GateKind,
      gates: blueGreen?.prePromotionAnalysis,
    },
  ];
  return found.flatMap(({ gates, ...where }) => {
    const checks = checksSeenAhead(gates?.compareToStable);
    return checks.length ? [{ ...where, checks }] : [];
  });
}

/**
 * Everything the API server would do to the document, offline: the CRD's CEL rules and the
 * controller's zod schema, each naming its field, and the keys Sluice has no field for, which
 * the API server would drop without a word (a field from another tool, a misspelt one).
 */
function offlineProblems(kind: SluiceKind, object: Record<string, unknown>): string[] {
  if (kind === 'AnalysisRun') return [];
  const verdict = judgeObject(kind, object);
  return [
    ...verdict.refused.map((p) => `${fieldPath(p.path)}: ${p.reason}`),
    ...verdict.unknown.map(
      (p) => `${fieldPath(p)}: Sluice's ${kind} has no such field (the API server would drop it silently)`,
    ),
  ];
}

/** The Services a Rollout's comparison measures: canary and stable (preview and active for blue-green). */
function services(rollout: Rollout): { canary?: string; stable?: string } {
  const { canary, blueGreen } = rollout.spec.strategy;
  return canary
    ? { canary: canary.canaryService, stable: canary.stableService }
    : { canary: blueGreen?.previewService, stable: blueGreen?.activeService };
}

export async function lintFile(
  file: string,
  prometheus: string | undefined,
  namespace: string,
): Promise<LintReport> {
  const text = await readBounded(file);
  const report: LintReport = { file, documents: [] };
  const docs = parseAllDocuments(text);
  const list = Array.isArray(docs) ? docs : [docs];
  const provider =
    prometheus === undefined
      ? undefined
      : new PrometheusProvider({ address: prometheus, timeoutMs: PROMETHEUS_TIMEOUT_MS });
  for (const [index, doc] of list.entries()) {
    if (doc.errors.length) {
      report.documents.push({
        index,
        kind: 'Document',
        name: '',
        refused: `not YAML: ${doc.errors[0]?.message}`,
        gates: [],
      });
      continue;
    }
    const object = doc.toJS() as {
      kind?: unknown;
      metadata?: { name?: unknown; namespace?: unknown };
    } | null;
    if (!object || !isSluiceKind(object.kind)) continue;
    const ns = typeof object.metadata?.namespace === 'string' ? object.metadata.namespace : namespace;
    const name = `${ns}/${typeof object.metadata?.name === 'string' ? object.metadata.name : '?'}`;
    const parsed = parseResource(object.kind, object);
    const entry: LintDocument = { index, kind: object.kind, name, gates: [] };
    report.documents.push(entry);
    const problems = offlineProblems(object.kind, object as Record<string, unknown>);
    if (!parsed.ok || problems.length > 0) {
      entry.refused = problems.join('; ') || (parsed.ok ? '' : parsed.message);
      continue;
    }
    if (object.kind !== 'Rollout') continue;
    const rollout = parsed.value as Rollout;
    const gates = compareGates(rollout);
    if (!gates.length) continue;
    if (!provider) {
      entry.gates = gates.map(
        (g): LintGate => ({
          gate: g.label,
          checks: g.checks,
          note: 'give --prometheus URL to see what it can see',
        }),
      );
      continue;
    }
    const { canary, stable } = services(rollout);
    // Envoy Gateway's sides are clusters found in the live HTTPRoutes: a file alone cannot say them.
    const readsEnvoy = (g: (typeof gates)[number]) =>
      gatesFor(rollout.spec, g.gate, g.stepIndex)?.builtinMetrics === 'envoyGateway';
    const envoyTraffic = {
      missing:
        "builtinMetrics envoyGateway: the gates read the HTTPRoutes' Envoy clusters once the Rollout runs",
    };
    const traffic: Awaited<ReturnType<typeof readTraffic>> = gates.every(readsEnvoy)
      ? envoyTraffic
      : destinationRuleOf(rollout.spec.strategy)
        ? // Under subset routing the sides are revisions, which only the running Rollout knows.
          {
            missing:
              'subset routing: the gates read each revision once it runs (kubectl sluice status shows it)',
          }
        : canary && stable
          ? await readTraffic(
              provider,
              { namespace: ns, service: canary },
              { namespace: ns, service: stable },
            )
          : { missing: 'the Rollout names no Services to compare' };
    if ('failed' in traffic) report.failed = traffic.missing;
    for (const g of gates) {
      const d = assessGate(rollout.spec, g.gate, g.stepIndex, readsEnvoy(g) ? envoyTraffic : traffic);
      entry.gates.push({ gate: g.label, checks: g.checks, ...(d ? { detectability: d } : {}) });
    }
  }
  return report;
}

/** Exit 0: accepted and every gate sees its effect; 1: a refusal, a blind gate, or no answer. */
export async function runLint(
  io: Io,
  file: string,
  prometheus: string | undefined,
  namespace: string,
): Promise<number> {
  const report = await lintFile(file, prometheus, namespace);
  io.out(renderLint(report));
  return lintFailed(report) ? 1 : 0;
}
