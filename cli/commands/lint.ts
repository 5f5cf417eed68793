// `kubectl sluice lint -f FILE [--prometheus URL]`: what the API server's schema would refuse in a
// file of Rollouts and templates, and, against a live Prometheus, what each compareToStable gate
// can see in the time its steps allow (the same numbers the controller puts on a run at its start)
// and which windows a run would widen for its scrape interval (resolve's own notes).
import { parseAllDocuments } from 'yaml';
import { assessGate, checksSeenAhead } from '../../analysis/detectability.ts';
import { PrometheusProvider } from '../../analysis/provider.ts';
import { type FoundTemplates, InvalidAnalysis, resolveGate, templateKey } from '../../analysis/resolve.ts';
import { ScrapeIntervalCache, type ScrapeIntervalSource } from '../../analysis/scrape-interval.ts';
import { readTraffic } from '../../analysis/traffic-history.ts';
import { comparedService, measuredService } from '../../controller/analysis/runs.ts';
import type { AnalysisTemplateSpec, GateKind, Gates, Rollout } from '../../crds/index.ts';
import { destinationRuleOf, gatesFor, progressDeadlineMs } from '../../crds/index.ts';
import { fieldPath, isSluiceKind, parseResource, type SluiceKind } from '../../crds/validate.ts';
import type { Io } from '../io.ts';
import { judgeObject } from '../judge.ts';
import { readBounded } from '../read-input.ts';
import {
  type LintDocument,
  type LintGate,
  type LintReport,
  type LintWindow,
  lintFailed,
  renderLint,
} from '../render/lint.ts';

/** The whole Prometheus question per Rollout: lint must not hang on an address that does not answer. */
const PROMETHEUS_TIMEOUT_MS = 5000;

type GateSite = { label: string; gate: GateKind; stepIndex?: number; gates: Gates };

/** Every gate a Rollout has, each with where it sits. */
function gateSites(rollout: Rollout): GateSite[] {
  const { canary, blueGreen } = rollout.spec.strategy;
  const sites: (Omit<GateSite, 'gates'> & { gates: Gates | undefined })[] = [
    { label: 'background analysis', gate: 'background', gates: canary?.analysis },
    ...(canary?.steps ?? []).map((step, i) => ({
      label: `step ${i + 1} analysis`,
      gate: 'step' as GateKind,
      stepIndex: i,
      gates: step.analysis,
    })),
    { label: 'prePromotionAnalysis', gate: 'prePromotion', gates: blueGreen?.prePromotionAnalysis },
    { label: 'postPromotionAnalysis', gate: 'postPromotion', gates: blueGreen?.postPromotionAnalysis },
  ];
  return sites.flatMap((s) => (s.gates ? [{ ...s, gates: s.gates }] : []));
}

/** The compareToStable gates of a Rollout worked out ahead, each with where it sits and its checks. */
export function compareGates(
  rollout: Rollout,
): { label: string; gate: GateKind; stepIndex?: number; checks: string[] }[] {
  return gateSites(rollout).flatMap(({ gates, ...where }) => {
    const checks = checksSeenAhead(gates.compareToStable);
    return checks.length ? [{ ...where, checks }] : [];
  });
}

/**
 * What the controller would widen in each gate with Prometheus scraping every `scrapeMs`: resolve's
 * own notes, for the builtins and for the file's templates that query the default Prometheus.
 * Templates not in the file are left out (the run names them when it starts); a gate that cannot
 * be resolved from the file alone (Envoy's clusters, a template elsewhere only) says nothing here.
 */
export function windowNotes(
  rollout: Rollout,
  namespace: string,
  scrapeMs: number,
  templates: FoundTemplates,
): LintWindow[] {
  return gateSites(rollout).flatMap((site) => {
    const known = site.gates.templates?.filter((ref) => templates.has(templateKey(ref)));
    const service = measuredService(rollout, site.gate);
    const stableService = comparedService(rollout, site.gate);
    try {
      const { notes } = resolveGate({
        gates: { ...site.gates, ...(known ? { templates: known } : {}) },
        gate: site.gate,
        namespace,
        ...(service === undefined ? {} : { service }),
        ...(stableService === undefined ? {} : { stableService }),
        templates,
        scrapeIntervals: new Map([['', scrapeMs]]),
        progressDeadlineSeconds: progressDeadlineMs(rollout.spec) / 1000,
      });
      return notes.map((note) => ({ gate: site.label, note }));
    } catch (err) {
      if (err instanceof InvalidAnalysis) return [];
      throw err;
    }
  });
}

/** The file's templates a Rollout in `namespace` can name: its namespace's and the cluster's. */
function templatesFor(found: readonly FileTemplate[], namespace: string): FoundTemplates {
  const out: FoundTemplates = new Map();
  for (const t of found) {
    if (t.clusterScope || t.namespace === namespace)
      out.set(templateKey({ templateName: t.name, clusterScope: t.clusterScope }), t.spec);
  }
  return out;
}

interface FileTemplate {
  name: string;
  namespace: string;
  clusterScope: boolean;
  spec: AnalysisTemplateSpec;
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

export interface LintDeps {
  /** Where the Prometheus' scrape interval is read. Default: its /api/v1/status/config, 5 s deadline. */
  scrapeIntervals?: ScrapeIntervalSource;
}

/** The file's templates, for the window check of the Rollouts that name them. */
function fileTemplates(list: readonly { toJS(): unknown }[], namespace: string): FileTemplate[] {
  return list.flatMap((doc) => {
    const object = doc.toJS() as {
      kind?: unknown;
      metadata?: { name?: unknown; namespace?: unknown };
    } | null;
    const kind = object?.kind;
    if (kind !== 'AnalysisTemplate' && kind !== 'ClusterAnalysisTemplate') return [];
    const parsed = parseResource(kind, object);
    if (!parsed.ok || typeof object?.metadata?.name !== 'string') return [];
    const ns = typeof object.metadata.namespace === 'string' ? object.metadata.namespace : namespace;
    const clusterScope = kind === 'ClusterAnalysisTemplate';
    return [{ name: object.metadata.name, namespace: ns, clusterScope, spec: parsed.value.spec }];
  });
}

export async function lintFile(
  file: string,
  prometheus: string | undefined,
  namespace: string,
  deps: LintDeps = {},
): Promise<LintReport> {
  const text = await readBounded(file);
  const report: LintReport = { file, documents: [] };
  const docs = parseAllDocuments(text);
  const list = Array.isArray(docs) ? docs : [docs];
  const provider =
    prometheus === undefined
      ? undefined
      : new PrometheusProvider({ address: prometheus, timeoutMs: PROMETHEUS_TIMEOUT_MS });
  const templates = fileTemplates(
    list.filter((d) => d.errors.length === 0),
    namespace,
  );
  // Asked once, and only when a Rollout has a gate: a file of templates needs no Prometheus.
  let scrape: Promise<number | undefined> | undefined;
  const scrapeMs = (address: string) => {
    scrape ??= (deps.scrapeIntervals ?? new ScrapeIntervalCache({ timeoutMs: PROMETHEUS_TIMEOUT_MS })).get(
      address,
    );
    return scrape;
  };
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
    if (prometheus !== undefined && gateSites(rollout).length > 0) {
      const ms = await scrapeMs(prometheus);
      if (ms === undefined)
        report.windowsUnchecked = `Prometheus at ${prometheus} did not say its scrape interval`;
      else {
        const windows = windowNotes(rollout, ns, ms, templatesFor(templates, ns));
        if (windows.length) entry.windows = windows;
      }
    }
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
