// A file of Argo Rollouts (or Flagger) objects, multi-document, in; the same file for Sluice out.
// Documents of other kinds (Services, VirtualServices, Deployments) pass through untouched.
import { Document, parseAllDocuments, visit } from 'yaml';
import { CliError } from '../errors.ts';
import { convertTemplate } from './analysis.ts';
import { type Converted, Edit } from './edit.ts';
import { convertCanary, type MetricTemplates, metricTemplateKey } from './flagger.ts';
import { convertRollout, type Workloads, workloadKey } from './rollout.ts';

/** A document that is not carried at all: said once, with why. */
export interface Skipped {
  kind: string;
  name: string;
  reason: string;
}

export interface Conversion {
  /** The output file: converted documents and those passed through, in input order. */
  output: string;
  converted: Converted[];
  skipped: Skipped[];
}

/** The bound on documents in one file: a bound on the work one invocation does. */
const MAX_DOCUMENTS = 500;

type Meta = {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: { name?: unknown; namespace?: unknown };
  spec?: unknown;
};

const group = (apiVersion: unknown) => (typeof apiVersion === 'string' ? apiVersion.split('/')[0] : '');
const nameOf = (o: Meta) =>
  `${typeof o.metadata?.namespace === 'string' ? `${o.metadata.namespace}/` : ''}${String(o.metadata?.name ?? '?')}`;

const ARGO_NEVER: Record<string, string> = {
  AnalysisRun: 'AnalysisRuns are created by the controller from the Rollout, never applied',
  Experiment: 'experiments are not a Sluice idea',
};

function render(docs: Document[]): string {
  return docs
    .map((d) => d.toString({ lineWidth: 0, flowCollectionPadding: false }).replace(/^---\n/, ''))
    .join('---\n');
}

/**
 * Fields under an alias cannot be changed in place (the node is shared): such a document is
 * rebuilt from its values, keeping only the comment above it.
 */
function withoutAliases(doc: Document, value: unknown): Document {
  let aliased = false;
  visit(doc, {
    Alias: () => {
      aliased = true;
      return visit.BREAK;
    },
  });
  if (!aliased) return doc;
  const plain = new Document(value);
  plain.commentBefore = doc.commentBefore;
  return plain;
}

export function convertYaml(text: string): Conversion {
  const docs = parseAllDocuments(text);
  const list = Array.isArray(docs) ? docs : [docs];
  if (list.length > MAX_DOCUMENTS) throw new CliError(`more than ${MAX_DOCUMENTS} documents in one file`);
  const objects = list.map((doc, i) => {
    if (doc.errors.length) throw new CliError(`document ${i + 1} is not YAML: ${doc.errors[0]?.message}`);
    return (doc.toJS() ?? {}) as Meta;
  });

  const workloads: Workloads = new Map();
  const metricTemplates: MetricTemplates = new Map();
  for (const o of objects) {
    const spec = (o.spec ?? {}) as { selector?: unknown; template?: unknown };
    if (o.kind === 'Deployment') workloads.set(workloadKey(o.metadata?.namespace, o.metadata?.name), spec);
    if (group(o.apiVersion) === 'flagger.app' && o.kind === 'MetricTemplate')
      metricTemplates.set(metricTemplateKey(o.metadata?.namespace, o.metadata?.name), {
        object: o,
        used: false,
      });
  }

  const out: Document[] = [];
  const converted: Converted[] = [];
  const skipped: Skipped[] = [];
  list.forEach((doc, i) => {
    const o = objects[i] as Meta;
    const g = group(o.apiVersion);
    const kind = String(o.kind);
    if (g === 'argoproj.io') {
      if (kind in ARGO_NEVER) {
        skipped.push({ kind, name: nameOf(o), reason: ARGO_NEVER[kind] as string });
        return;
      }
      const edit = new Edit(withoutAliases(doc, o), structuredClone(o) as Record<string, unknown>);
      let result: Converted;
      if (kind === 'Rollout') result = convertRollout(edit);
      else if (kind === 'AnalysisTemplate' || kind === 'ClusterAnalysisTemplate')
        result = convertTemplate(edit, kind);
      else {
        skipped.push({ kind, name: nameOf(o), reason: `Argo's ${kind} has no Sluice counterpart` });
        return;
      }
      converted.push(result);
      out.push(result.doc);
      return;
    }
    if (g === 'flagger.app') {
      if (kind === 'Canary') {
        for (const result of convertCanary(o as Record<string, unknown>, workloads, metricTemplates)) {
          converted.push(result);
          out.push(result.doc);
        }
      } else if (kind !== 'MetricTemplate') {
        skipped.push({ kind, name: nameOf(o), reason: `Flagger's ${kind} has no Sluice counterpart` });
      }
      return;
    }
    out.push(doc);
  });
  for (const [, t] of metricTemplates) {
    if (!t.used)
      skipped.push({
        kind: 'MetricTemplate',
        name: nameOf(t.object),
        reason:
          'no Canary in the input uses it: Flagger keeps the threshold in the Canary, so a template is converted with the Canary that names it',
      });
  }
  return { output: render(out), converted, skipped };
}
