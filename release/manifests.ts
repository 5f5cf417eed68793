/**
 * What `kubectl apply -k deploy/` would apply, composed without kustomize: the kustomizations'
 * `resources` and `namespace` fields, the only two deploy/ uses (any other field is refused, so
 * the release can never silently differ from deploy/). Objects stay YAML documents, so the
 * comments people need (the NetworkPolicy's "adapt before relying on it") reach the release.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Document, isMap, isScalar, isSeq, parse, parseAllDocuments, Scalar, type YAMLMap } from 'yaml';
import { ReleaseError } from './semver.ts';

export type Manifest = Document;

export const VERSION_LABEL = 'app.kubernetes.io/version';
export const IMAGE_REPOSITORY = 'ghcr.io/sluice-dev/sluice';

/** The cluster-scoped kinds deploy/ could hold; everything else takes the namespace. */
const CLUSTER_SCOPED_KINDS = new Set([
  'Namespace',
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleBinding',
  'PriorityClass',
  'StorageClass',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
]);

const UNDERSTOOD_FIELDS = new Set(['apiVersion', 'kind', 'namespace', 'resources']);

export const kindOf = (doc: Manifest): string => String(doc.get('kind'));
export const nameOf = (doc: Manifest): string => String(doc.getIn(['metadata', 'name']));
export const isNamespaced = (doc: Manifest): boolean => !CLUSTER_SCOPED_KINDS.has(kindOf(doc));

function readDocuments(file: string): Manifest[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  const list = Array.isArray(docs) ? docs : [docs];
  for (const doc of list) {
    if (doc.errors.length > 0) throw new ReleaseError(`${file}: ${doc.errors[0]?.message}`);
    // Each document is joined anew by render(); its own `---` would double the separator.
    doc.directives.docStart = null;
  }
  // A stray `---` leaves an empty document; anything else that is not an object is a mistake.
  const objects = list.filter(
    (doc) => !(doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)),
  );
  const other = objects.find((doc) => !isMap(doc.contents));
  if (other)
    throw new ReleaseError(`${file}: a document that is not an object: ${String(other).trim().slice(0, 60)}`);
  return objects;
}

/** Every object a kustomization directory composes, in its order, its namespace applied. */
export function composeKustomization(dir: string): Manifest[] {
  const file = join(dir, 'kustomization.yaml');
  const k = parse(readFileSync(file, 'utf8')) as { namespace?: string; resources?: string[] };
  const unknown = Object.keys(k).filter((key) => !UNDERSTOOD_FIELDS.has(key));
  if (unknown.length > 0) {
    throw new ReleaseError(
      `${file}: release/manifests.ts composes only resources and namespace, not ${unknown.join(', ')}`,
    );
  }
  const docs = (k.resources ?? []).flatMap((resource) => {
    const path = join(dir, resource);
    return statSync(path).isDirectory() ? composeKustomization(path) : readDocuments(path);
  });
  if (k.namespace) for (const doc of docs) setNamespace(doc, k.namespace);
  return docs;
}

/**
 * As kustomize's `namespace:` does: on namespaced objects, and on the ServiceAccounts a binding
 * names, which would otherwise still point at the namespace the file was written for.
 */
export function setNamespace(doc: Manifest, namespace: string): void {
  if (isNamespaced(doc)) doc.setIn(['metadata', 'namespace'], namespace);
  if (kindOf(doc) !== 'RoleBinding' && kindOf(doc) !== 'ClusterRoleBinding') return;
  const subjects = doc.get('subjects');
  for (const subject of isSeq(subjects) ? subjects.items : []) {
    if (isMap(subject) && subject.get('kind') === 'ServiceAccount') subject.set('namespace', namespace);
  }
}

// Quoted, so no YAML reader can take a version for a number.
const quoted = (text: string): Scalar => Object.assign(new Scalar(text), { type: Scalar.QUOTE_DOUBLE });

export function deployments(docs: Manifest[]): Manifest[] {
  return docs.filter((doc) => kindOf(doc) === 'Deployment');
}

function containers(deployment: Manifest): YAMLMap[] {
  const list = deployment.getIn(['spec', 'template', 'spec', 'containers']);
  return isSeq(list) ? list.items.filter(isMap) : [];
}

/**
 * The version label on every object, and on the controller's pods so they say which release they
 * run; never on a selector, which a Deployment cannot change after it is created.
 */
export function labelVersion(docs: Manifest[], version: string): void {
  for (const doc of docs) doc.setIn(['metadata', 'labels', VERSION_LABEL], quoted(version));
  for (const deployment of deployments(docs)) {
    deployment.setIn(['spec', 'template', 'metadata', 'labels', VERSION_LABEL], quoted(version));
  }
}

/** Every container running Sluice runs this release's image. */
export function setImage(docs: Manifest[], version: string): void {
  let images = 0;
  for (const deployment of deployments(docs)) {
    for (const container of containers(deployment)) {
      const image = String(container.get('image') ?? '');
      if (image === IMAGE_REPOSITORY || image.startsWith(`${IMAGE_REPOSITORY}:`)) {
        container.set('image', `${IMAGE_REPOSITORY}:${version}`);
        images++;
      }
    }
  }
  if (images === 0) throw new ReleaseError(`no container in deploy/ runs ${IMAGE_REPOSITORY}`);
}

/** Adds `--name=value` to every Sluice container's args, replacing one already there. */
export function setControllerFlag(docs: Manifest[], name: string, value: string): void {
  for (const deployment of deployments(docs)) {
    for (const container of containers(deployment)) {
      if (!String(container.get('image') ?? '').startsWith(IMAGE_REPOSITORY)) continue;
      const args = container.get('args');
      const given = (isSeq(args) ? args.items : []).map((item) =>
        String(item instanceof Scalar ? item.value : item),
      );
      // `--name value` takes two arguments, `--name=value` one.
      const kept = given.filter(
        (arg, i) => !arg.startsWith(`--${name}=`) && arg !== `--${name}` && given[i - 1] !== `--${name}`,
      );
      container.set('args', deployment.createNode([...kept, `--${name}=${value}`], { flow: true }));
    }
  }
}

/** One multi-document file; `header` lines become comments at its top. */
export function render(docs: Manifest[], header: string[] = []): string {
  const comment = header.map((line) => (line ? `# ${line}` : '#')).join('\n');
  const body = docs.map((doc) => doc.toString({ lineWidth: 0, flowCollectionPadding: false })).join('---\n');
  return comment ? `${comment}\n\n${body}` : body;
}
