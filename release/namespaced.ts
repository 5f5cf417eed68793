/**
 * The install a namespace admin can apply: nothing cluster-scoped. The controller's ClusterRole
 * becomes a Role and its binding a RoleBinding in the namespace, the controller runs with
 * `--namespace` (controller/flags.ts) so it watches nothing else, and whatever a Role cannot
 * grant is dropped and said.
 */
import { isMap, isScalar, isSeq, type YAMLMap } from 'yaml';
import { isNamespaced, kindOf, type Manifest, nameOf, setControllerFlag, setNamespace } from './manifests.ts';

/** Built-in cluster-scoped resources a controller's ClusterRole might name, as `group/plural`. */
const BUILTIN_CLUSTER_SCOPED = [
  '/namespaces',
  '/nodes',
  '/persistentvolumes',
  'apiextensions.k8s.io/customresourcedefinitions',
  'rbac.authorization.k8s.io/clusterroles',
  'rbac.authorization.k8s.io/clusterrolebindings',
  'storage.k8s.io/storageclasses',
  'scheduling.k8s.io/priorityclasses',
  'admissionregistration.k8s.io/validatingwebhookconfigurations',
  'admissionregistration.k8s.io/mutatingwebhookconfigurations',
];

/** What going without a grant means for the controller, where the code says more than "cluster-scoped". */
const CONSEQUENCES: Record<string, string> = {
  'sluice.dev/clusteranalysistemplates':
    'in namespace mode the controller does not watch them (controller/main.ts); a gate naming a ' +
    'ClusterAnalysisTemplate reads it with a GET, which fails until a cluster admin grants ' +
    '`get clusteranalysistemplates` to this ServiceAccount',
};

export interface Dropped {
  rule: string;
  consequence: string;
}

/** Cluster-scoped resources: the built-in ones and those our CRDs declare `scope: Cluster`. */
export function clusterScopedResources(docs: Manifest[]): Set<string> {
  const scoped = new Set(BUILTIN_CLUSTER_SCOPED);
  for (const doc of docs) {
    if (kindOf(doc) === 'CustomResourceDefinition' && doc.getIn(['spec', 'scope']) === 'Cluster') {
      scoped.add(`${doc.getIn(['spec', 'group'])}/${doc.getIn(['spec', 'names', 'plural'])}`);
    }
  }
  return scoped;
}

const scalars = (node: unknown): string[] =>
  isSeq(node) ? node.items.map((item) => String(isScalar(item) ? item.value : item)) : [];

/** Removes what a Role cannot hold from a rule list; returns what went. */
function narrowRules(role: Manifest, clusterScoped: Set<string>): Dropped[] {
  const rules = role.get('rules');
  if (!isSeq(rules)) return [];
  const dropped: Dropped[] = [];
  rules.items = rules.items.filter((rule) => {
    if (!isMap(rule)) return true;
    if (rule.has('nonResourceURLs')) {
      const urls = scalars(rule.get('nonResourceURLs')).join(', ');
      dropped.push({ rule: `nonResourceURLs ${urls}`, consequence: 'a Role cannot grant URLs' });
      return false;
    }
    const groups = scalars(rule.get('apiGroups'));
    const resources = rule.get('resources');
    if (!isSeq(resources)) return true;
    resources.items = resources.items.filter((item) => {
      const resource = String(isScalar(item) ? item.value : item);
      const base = resource.split('/')[0];
      const group = groups.find((g) => clusterScoped.has(`${g}/${base}`));
      if (group === undefined) return true;
      const verbs = scalars((rule as YAMLMap).get('verbs')).join(', ');
      dropped.push({
        rule: `${verbs} ${resource} (${group || 'core'})`,
        consequence: CONSEQUENCES[`${group}/${base}`] ?? 'cluster-scoped, which a Role cannot grant',
      });
      return false;
    });
    return resources.items.length > 0;
  });
  return dropped;
}

export interface Confined {
  docs: Manifest[];
  /** Rules taken out of the Roles. */
  dropped: Dropped[];
  /** Cluster-scoped objects besides the CRDs and the Namespace, as `Kind name`. */
  leftOut: string[];
}

/**
 * The namespaced variant of `docs` (consumed: the documents are changed in place). Only the
 * ClusterRoles a ClusterRoleBinding grants (the controller's) become Roles; others, such as the
 * aggregated roles for people, mean something only cluster-wide and are left out, like the CRDs
 * and the Namespace. `clusterScoped` comes from clusterScopedResources over the CRDs.
 */
export function confineTo(docs: Manifest[], namespace: string, clusterScoped: Set<string>): Confined {
  const bindings = docs.filter((d) => kindOf(d) === 'ClusterRoleBinding');
  const bound = new Set(
    bindings
      .filter((b) => b.getIn(['roleRef', 'kind']) === 'ClusterRole')
      .map((b) => String(b.getIn(['roleRef', 'name']))),
  );
  const converted = new Set(
    docs.filter((d) => kindOf(d) === 'ClusterRole' && bound.has(nameOf(d))).map(nameOf),
  );
  const kept: Manifest[] = [];
  const dropped: Dropped[] = [];
  const leftOut: string[] = [];
  for (const doc of docs) {
    const kind = kindOf(doc);
    if (kind === 'ClusterRole' && converted.has(nameOf(doc))) {
      doc.set('kind', 'Role');
      dropped.push(...narrowRules(doc, clusterScoped));
    } else if (kind === 'ClusterRoleBinding') {
      doc.set('kind', 'RoleBinding');
      // A RoleBinding may still name a ClusterRole it was not given here (`view`, say).
      if (converted.has(String(doc.getIn(['roleRef', 'name'])))) doc.setIn(['roleRef', 'kind'], 'Role');
    } else if (!isNamespaced(doc)) {
      if (kind !== 'CustomResourceDefinition' && kind !== 'Namespace') leftOut.push(`${kind} ${nameOf(doc)}`);
      continue;
    }
    setNamespace(doc, namespace);
    kept.push(doc);
  }
  setControllerFlag(kept, 'namespace', namespace);
  return { docs: kept, dropped, leftOut };
}

/** Word-wraps a list item for a comment, continuation lines indented under its text. */
function item(text: string, width = 96): string[] {
  const lines: string[] = [];
  let line = '  -';
  for (const word of text.split(' ')) {
    if (line.length + 1 + word.length > width && line.trim() !== '-') {
      lines.push(line);
      line = '   ';
    }
    line += ` ${word}`;
  }
  return [...lines, line];
}

/** The comment at the top of install-namespaced.yaml: what is missing and what to do about it. */
export function namespacedHeader(
  version: string,
  namespace: string,
  { dropped, leftOut }: Pick<Confined, 'dropped' | 'leftOut'>,
): string[] {
  return [
    `Sluice ${version}, confined to namespace ${namespace}: what a namespace admin can apply.`,
    '',
    'No CustomResourceDefinitions: a namespace admin cannot install CRDs (they are cluster-wide).',
    'A cluster admin applies crds.yaml from this release once, before this file.',
    `No Namespace either: ${namespace} must exist.`,
    `The controller runs with --namespace=${namespace} and watches nothing else; its ClusterRole is a`,
    `Role and its ClusterRoleBinding a RoleBinding, both in ${namespace}.`,
    ...(leftOut.length === 0
      ? []
      : [
          'Left out, being cluster-wide (install.yaml has them, for a cluster admin):',
          ...item(leftOut.join(', ')),
        ]),
    '',
    ...(dropped.length === 0
      ? ['Nothing was dropped from the Role.']
      : [
          'Dropped from the Role, being cluster-scoped:',
          ...dropped.flatMap((d) => item(`${d.rule}: ${d.consequence}.`)),
        ]),
    '',
    `Write-back discovery reads Flux and Argo CD objects in ${namespace} only; where they live`,
    'elsewhere (argocd, flux-system), grant `get` on them there to ServiceAccount sluice.',
  ];
}
