// One converted document: its YAML Document (so comments on what stays are kept), a plain copy
// that translators read, and what was not carried. Removals wait until commit() and run from
// the last array element back, so every path a translator names is a path of the input file.
import type { Document } from 'yaml';
import { API_VERSION } from '../../crds/common.ts';
import { fieldPath } from '../../crds/validate.ts';
import { type ConvertedKind, judgeObject, type Path } from '../judge.ts';

export interface NotCarried {
  /** Where in the input file, e.g. spec.strategy.canary.steps[2].experiment. */
  path: string;
  reason: string;
}

export interface Converted {
  kind: string;
  name: string;
  /** What it was converted from, when the paths listed are that object's (a Flagger Canary). */
  from?: string;
  doc: Document;
  notCarried: NotCarried[];
  notes: string[];
  /** Nothing Sluice's API would refuse: the API server accepts it as it is. */
  accepted: boolean;
}

/** Metadata the API server writes: state of the old object, not intent to carry. */
const SERVER_METADATA = [
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'managedFields',
  'selfLink',
];

/**
 * Annotations Argo's controller or `kubectl apply` wrote: the old object's bookkeeping (the last
 * applied configuration is the Argo object itself, which a later apply would diff against).
 */
const WRITTEN_ANNOTATION = /^(rollout\.argoproj\.io\/|kubectl\.kubernetes\.io\/last-applied-configuration$)/;

const key = (path: Path) => fieldPath(path);

export class Edit {
  readonly notCarried: NotCarried[] = [];
  readonly notes: string[] = [];
  private pending: { path: Path }[] = [];
  /** Array elements removed so far, by the array's path: to give later findings input paths. */
  private removed = new Map<string, number[]>();

  constructor(
    readonly doc: Document,
    readonly object: Record<string, unknown>,
  ) {}

  get(path: Path): unknown {
    let at: unknown = this.object;
    for (const part of path) at = (at as Record<string | number, unknown> | undefined)?.[part];
    return at;
  }

  /** Sets a field in both copies; callers set only under objects that exist (spec, a metric). */
  set(path: Path, value: unknown): void {
    if (value === undefined) return;
    // As a node, so later removals can walk into it.
    this.doc.setIn(path, this.doc.createNode(value));
    let at = this.object as Record<string | number, unknown>;
    for (const part of path.slice(0, -1)) {
      if (typeof at[part] !== 'object' || at[part] === null) at[part] = {};
      at = at[part] as Record<string | number, unknown>;
    }
    at[path[path.length - 1] as string | number] = value;
  }

  /** Marks a field (or array element) as not carried, saying why; removed at commit(). */
  drop(path: Path, reason: string): void {
    this.notCarried.push({ path: key(this.inputPath(path)), reason });
    this.pending.push({ path });
  }

  /** Removes what needs no word (server-written state). */
  remove(path: Path): void {
    if (this.get(path) !== undefined) this.pending.push({ path });
  }

  /** Records something that was not carried but stays in the output (the API would refuse it). */
  refuse(path: Path, reason: string): void {
    this.notCarried.push({ path: key(this.inputPath(path)), reason });
  }

  note(text: string): void {
    if (!this.notes.includes(text)) this.notes.push(text);
  }

  commit(): void {
    // Deepest and last first, so no removal moves what another one names.
    const order = this.pending.sort((a, b) => comparePaths(b.path, a.path));
    for (const { path } of order) {
      const parent = path.slice(0, -1);
      const last = path[path.length - 1] as string | number;
      const container = this.get(parent);
      if (Array.isArray(container) && typeof last === 'number') {
        container.splice(last, 1);
        const k = key(parent);
        this.removed.set(k, [...(this.removed.get(k) ?? []), this.inputIndex(parent, last)]);
      } else if (container && typeof container === 'object') {
        delete (container as Record<string, unknown>)[last as string];
      }
      this.doc.deleteIn(path);
    }
    this.pending = [];
  }

  /** The index an element now at `index` had in the input. */
  private inputIndex(array: Path, index: number): number {
    const gone = [...(this.removed.get(key(array)) ?? [])].sort((a, b) => a - b);
    let i = index;
    for (const g of gone) if (g <= i) i++;
    return i;
  }

  private inputPath(path: Path): Path {
    return path.map((part, i) => (typeof part === 'number' ? this.inputIndex(path.slice(0, i), part) : part));
  }

  /**
   * Moves the object to Sluice's API group and lets Sluice's own schema decide the rest: keys it
   * has no field for are removed and listed, what it would refuse is listed and left in place.
   */
  finish(kind: ConvertedKind, from?: string): Converted {
    this.set(['apiVersion'], API_VERSION);
    for (const field of SERVER_METADATA) this.remove(['metadata', field]);
    for (const annotation of Object.keys((this.get(['metadata', 'annotations']) as object | null) ?? {}))
      if (WRITTEN_ANNOTATION.test(annotation)) this.remove(['metadata', 'annotations', annotation]);
    this.remove(['status']);
    this.commit();
    const { unknown } = judgeObject(kind, this.object);
    for (const path of unknown)
      this.drop(path, `Sluice's ${kind} has no field "${path[path.length - 1]}" here`);
    this.commit();
    // A step or metric that loses a field Sluice lacks (setCanaryScale, provider.web) and is then
    // refused cannot stand alone: it goes as a whole, rather than being listed twice.
    const gone = new Set<string>();
    for (const problem of judgeObject(kind, this.object).refused) {
      const element = elementWithLoss(problem.path, unknown);
      if (element && !gone.has(key(element))) {
        gone.add(key(element));
        this.drop(element, 'removed whole: it cannot stand without what Sluice has no field for');
      }
    }
    this.commit();
    const { refused } = judgeObject(kind, this.object);
    for (const problem of refused) this.refuse(problem.path, `Sluice refuses it: ${problem.reason}`);
    const metadata = this.object.metadata as { name?: string; namespace?: string } | undefined;
    const name = `${metadata?.namespace ? `${metadata.namespace}/` : ''}${metadata?.name ?? '?'}`;
    if (this.notCarried.length) {
      this.doc.commentBefore = [
        this.doc.commentBefore,
        ' kubectl sluice convert: not carried over',
        ...this.notCarried.map((n) => `   ${n.path}: ${n.reason}`),
      ]
        .filter((line) => line)
        .join('\n');
    }
    return {
      kind,
      name,
      ...(from ? { from } : {}),
      doc: this.doc,
      notCarried: this.notCarried,
      notes: this.notes,
      accepted: refused.length === 0,
    };
  }
}

/** The deepest array element holding both the refused path and a removed unknown key, if any. */
function elementWithLoss(refused: Path, removed: Path[]): Path | undefined {
  for (let n = refused.length; n > 0; n--) {
    const prefix = refused.slice(0, n);
    if (typeof prefix[n - 1] !== 'number') continue;
    if (removed.some((r) => r.length > n && key(r.slice(0, n)) === key(prefix))) return prefix;
  }
  return undefined;
}

function comparePaths(a: Path, b: Path): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] as string | number;
    const y = b[i] as string | number;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x) < String(y) ? -1 : 1;
  }
  return a.length - b.length;
}
