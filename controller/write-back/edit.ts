// The edit a write-back commits: in the YAML files under the Rollout's path, return the fields
// that changed to the stable revision's values, touching nothing else. Scalars are replaced in
// place in the source text, so comments, quoting and layout stay byte for byte; only an edit
// that adds or removes a field goes through the yaml Document API (comments survive, spacing
// may not). Pure: files in, files out.
import { type Document, isScalar, parseAllDocuments, parse as parseYaml, type Scalar } from 'yaml';
import { sameJson } from '../revision.ts';
import { type FieldChange, type Path, showPath } from './template-diff.ts';

export interface SourceFile {
  path: string;
  text: string;
}

export interface RolloutRef {
  name: string;
  namespace: string;
}

export type EditResult =
  | { ok: true; files: SourceFile[]; rolloutFile: string }
  | { ok: false; reason: 'NotFound' | 'Unplaced'; message: string };

interface Splice {
  start: number;
  end: number;
  text: string;
}

interface Parsed {
  file: SourceFile;
  docs: Document.Parsed[];
  splices: Splice[];
  structural: boolean;
}

const TEMPLATE: Path = ['spec', 'template'];
const isYaml = (path: string) => /\.ya?ml$/i.test(path);
const isKustomization = (path: string) => /(^|\/)kustomization\.ya?ml$/i.test(path);

/** Returns the edited files (only those that changed), or why nothing can be pushed. */
export function revertTemplate(files: SourceFile[], target: RolloutRef, changes: FieldChange[]): EditResult {
  const parsed = files.filter((f) => isYaml(f.path)).map(parseFile);
  const found = parsed.flatMap((p) => p.docs.filter((d) => isRollout(d, target)).map((doc) => ({ p, doc })));
  if (found.length !== 1) {
    return {
      ok: false,
      reason: 'NotFound',
      message:
        found.length === 0
          ? `no YAML document for Rollout ${target.namespace}/${target.name} (apiVersion sluice.dev/*)`
          : `Rollout ${target.namespace}/${target.name} is defined ${found.length} times (${found.map((f) => f.p.file.path).join(', ')})`,
    };
  }
  const { p: home, doc } = found[0] as { p: Parsed; doc: Document.Parsed };
  const kustomizations = parsed.filter((p) => isKustomization(p.file.path));
  for (const change of changes) {
    const placed =
      placeInRollout(home, doc, change) ||
      (change.path.at(-1) === 'image' && placeInImages(kustomizations, doc, change));
    if (!placed) {
      return {
        ok: false,
        reason: 'Unplaced',
        message: `cannot find where ${showPath(change.path)} = ${JSON.stringify(change.failed)} is set (not in ${home.file.path}, nor in a kustomization images: entry)`,
      };
    }
  }
  const edited = parsed
    .filter((p) => p.splices.length > 0 || p.structural)
    .map((p) => ({ before: p.file.text, after: render(p) }))
    .filter(({ before, after }) => before !== after.text)
    .map(({ after }) => after);
  return { ok: true, files: edited, rolloutFile: home.file.path };
}

function parseFile(file: SourceFile): Parsed {
  return { file, docs: parseAllDocuments(file.text) as Document.Parsed[], splices: [], structural: false };
}

function render(p: Parsed): SourceFile {
  if (p.structural) return { path: p.file.path, text: p.docs.map((d) => d.toString()).join('') };
  let text = p.file.text;
  for (const s of [...p.splices].sort((a, b) => b.start - a.start)) {
    text = text.slice(0, s.start) + s.text + text.slice(s.end);
  }
  return { path: p.file.path, text };
}

function isRollout(doc: Document.Parsed, target: RolloutRef): boolean {
  const apiVersion = doc.get('apiVersion');
  if (typeof apiVersion !== 'string' || !apiVersion.startsWith('sluice.dev/')) return false;
  if (doc.get('kind') !== 'Rollout' || doc.getIn(['metadata', 'name']) !== target.name) return false;
  const namespace = doc.getIn(['metadata', 'namespace']);
  return namespace === undefined || namespace === target.namespace;
}

const valueAt = (doc: Document.Parsed, path: Path): unknown => {
  const node = doc.getIn(path, true);
  if (node === undefined || node === null) return undefined;
  return typeof (node as { toJSON?: unknown }).toJSON === 'function'
    ? (node as { toJSON(): unknown }).toJSON()
    : node;
};

/** The field as written in the Rollout's own YAML. */
function placeInRollout(p: Parsed, doc: Document.Parsed, change: FieldChange): boolean {
  const path = [...TEMPLATE, ...change.path];
  const written = valueAt(doc, path);
  if (change.failed === undefined) {
    // Stable had a field the failed template dropped: add it back where its parent is.
    if (written !== undefined || !doc.hasIn(path.slice(0, -1))) return false;
    doc.setIn(path, doc.createNode(change.stable));
    p.structural = true;
    return true;
  }
  if (!sameJson(written, change.failed)) return false;
  if (change.stable === undefined) {
    doc.deleteIn(path);
    p.structural = true;
    return true;
  }
  return setValue(p, doc, path, change.stable);
}

/** Replaces a value: in place when both are scalars, through the Document API otherwise. */
function setValue(p: Parsed, doc: Document.Parsed, path: Path, value: unknown): boolean {
  const node = doc.getIn(path, true);
  if (isScalar(node) && isPlainValue(value) && node.range) {
    const text = scalarText(node, value);
    if (text !== undefined) {
      p.splices.push({ start: node.range[0], end: node.range[1], text });
      // Also in the tree, in case a later edit of this file has to re-render it whole.
      node.value = value;
      return true;
    }
  }
  doc.setIn(path, doc.createNode(value));
  p.structural = true;
  return true;
}

const isPlainValue = (v: unknown): v is string | number | boolean =>
  typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

/** The value written in the scalar's own style; undefined for block scalars (left to the Document API). */
function scalarText(node: Scalar, value: string | number | boolean): string | undefined {
  const s = String(value);
  switch (node.type) {
    case 'QUOTE_DOUBLE':
      return JSON.stringify(s);
    case 'QUOTE_SINGLE':
      return `'${s.replace(/'/g, "''")}'`;
    case 'PLAIN': {
      if (typeof value !== 'string') return s;
      if (s.trim() === s && !/[#\n]/.test(s) && readsBack(s, (v) => v === s)) return s;
      // A plain scalar that was not a string (a kustomize newTag of 2) may stay unquoted.
      if (typeof node.value !== 'string' && readsBack(s, (v) => typeof v !== 'object' && String(v) === s))
        return s;
      return JSON.stringify(s);
    }
    default:
      return undefined;
  }
}

function readsBack(text: string, ok: (v: unknown) => boolean): boolean {
  try {
    return ok(parseYaml(text));
  } catch {
    return false;
  }
}

// --- kustomize `images:` -------------------------------------------------------------------

export interface ImageRef {
  name: string;
  tag?: string;
  digest?: string;
}

/** `registry:5000/shop/web:1.2@sha256:…` → name, tag, digest. */
export function parseImage(image: string): ImageRef {
  const [rest, digest] = image.split('@', 2) as [string, string | undefined];
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  const ref: ImageRef =
    colon > slash ? { name: rest.slice(0, colon), tag: rest.slice(colon + 1) } : { name: rest };
  if (digest) ref.digest = digest;
  return ref;
}

export const showImage = (ref: ImageRef): string =>
  `${ref.name}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;

interface ImageEntry {
  name: string;
  newName?: string;
  newTag?: string;
  digest?: string;
}

/** What kustomize makes of an image written in a resource, given one `images:` entry. */
export function applyImageEntry(written: ImageRef, entry: ImageEntry): ImageRef {
  const out: ImageRef = { name: entry.newName ?? written.name };
  const tag = entry.newTag ?? (entry.digest ? undefined : written.tag);
  if (tag) out.tag = tag;
  const digest = entry.digest ?? (entry.newTag ? undefined : written.digest);
  if (digest) out.digest = digest;
  return out;
}

function placeInImages(kustomizations: Parsed[], rollout: Document.Parsed, change: FieldChange): boolean {
  const written = valueAt(rollout, [...TEMPLATE, ...change.path]);
  if (typeof written !== 'string' || typeof change.failed !== 'string' || typeof change.stable !== 'string')
    return false;
  const source = parseImage(written);
  const failed = showImage(parseImage(change.failed));
  for (const k of kustomizations) {
    for (const doc of k.docs) {
      const images = valueAt(doc, ['images']);
      if (!Array.isArray(images)) continue;
      const index = images.findIndex(
        (e: Record<string, unknown>) =>
          e?.name === source.name && showImage(applyImageEntry(source, stringsOf(e))) === failed,
      );
      if (index < 0) continue;
      setImageEntry(k, doc, index, stringsOf(images[index]), source, parseImage(change.stable));
      return true;
    }
  }
  return false;
}

const stringsOf = (e: Record<string, unknown>): ImageEntry => {
  const out: ImageEntry = { name: String(e.name) };
  for (const key of ['newName', 'newTag', 'digest'] as const)
    if (e[key] !== undefined) out[key] = String(e[key]);
  return out;
};

/** Changes only the entry's fields that must differ for kustomize to produce `stable`. */
function setImageEntry(
  p: Parsed,
  doc: Document.Parsed,
  index: number,
  entry: ImageEntry,
  source: ImageRef,
  stable: ImageRef,
): void {
  const at = (key: string): Path => ['images', index, key];
  const want: ImageEntry = { name: entry.name };
  if (stable.name !== source.name || entry.newName !== undefined) want.newName = stable.name;
  if (stable.tag !== undefined && (stable.tag !== source.tag || entry.newTag !== undefined))
    want.newTag = stable.tag;
  if (stable.digest !== undefined) want.digest = stable.digest;
  for (const key of ['newName', 'newTag', 'digest'] as const) {
    if (want[key] === entry[key]) continue;
    if (want[key] === undefined) {
      doc.deleteIn(at(key));
      p.structural = true;
    } else if (entry[key] === undefined) {
      doc.setIn(at(key), want[key]);
      p.structural = true;
    } else {
      setValue(p, doc, at(key), want[key]);
    }
  }
}
