/**
 * `npm run release -- --version 0.2.0 [--out DIR] [--namespace NS]`: everything a release
 * publishes, in dist/release/<version>/ unless told otherwise. The version given here is stamped
 * into the bundles, the image tag, the manifests' labels and the chart, so they cannot disagree.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { bundle } from '../bin/bundle.mjs';
import { packageVersion } from '../controller/version.ts';
import { ensureHelm } from '../sandbox/build.ts';
import { packageChart } from './chart.ts';
import { sha256sums } from './checksums.ts';
import { DEFAULT_DOWNLOAD_URL, krewManifest, packKrew } from './krew.ts';
import {
  composeKustomization,
  IMAGE_REPOSITORY,
  kindOf,
  labelVersion,
  type Manifest,
  render,
  setImage,
} from './manifests.ts';
import { clusterScopedResources, confineTo, namespacedHeader } from './namespaced.ts';
import { packNpm } from './npm.ts';
import { checkReleaseVersion, ReleaseError } from './semver.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DEFAULT_NAMESPACE = 'sluice-system';

export interface ReleaseOptions {
  version: string;
  /** Default dist/release/<version>. */
  out?: string;
  /** Of install-namespaced.yaml; install.yaml keeps deploy/'s own. */
  namespace?: string;
  /** Where the krew manifest says the archive is downloaded from ({version} replaced). */
  downloadUrl?: string;
  /** The checkout to build from; tests point it elsewhere only for the chart. */
  root?: string;
  /**
   * Where a `helm` is, to package the chart as `sluice-<version>.tgz`; the command line builds
   * one (sandbox/build.sh helm, cached). Absent: the chart is released as a directory only.
   */
  helm?: () => Promise<string>;
}

export interface Release {
  out: string;
  /** Paths relative to `out`, SHA256SUMS last. */
  files: string[];
  /** What a person should know: a skipped chart, a tree with uncommitted changes. */
  notes: string[];
}

const git = (root: string, args: string[]): string =>
  execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: 'pipe' }).trim();

function headRevision(root: string, notes: string[]): string {
  let revision: string;
  try {
    revision = git(root, ['rev-parse', 'HEAD']);
  } catch {
    throw new ReleaseError(`cannot read the git commit of ${root}: a release is built from a git checkout`);
  }
  if (git(root, ['status', '--porcelain', '--untracked-files=no']) !== '') {
    notes.push(
      `uncommitted changes: SLUICE_REVISION names ${revision.slice(0, 12)}, not exactly what was built`,
    );
  }
  return revision;
}

/** crds/ lists the generated CRDs by hand; one missing from the list would be missing from the release. */
function composeCrds(root: string): Manifest[] {
  const dir = join(root, 'crds');
  const docs = composeKustomization(dir);
  const listed = new Set(docs.map((d) => String(d.getIn(['spec', 'names', 'plural']))));
  const unlisted = readdirSync(dir).filter(
    (f) => f.endsWith('.yaml') && f !== 'kustomization.yaml' && !listed.has(f.replace(/\.yaml$/, '')),
  );
  if (unlisted.length > 0)
    throw new ReleaseError(`crds/kustomization.yaml does not list ${unlisted.join(', ')}`);
  const other = docs.find((d) => kindOf(d) !== 'CustomResourceDefinition');
  if (other) throw new ReleaseError(`crds/ holds a ${kindOf(other)}, not only CRDs`);
  return docs;
}

function installFile(root: string, version: string): string {
  const docs = composeKustomization(join(root, 'deploy'));
  labelVersion(docs, version);
  setImage(docs, version);
  return render(docs, [
    `Sluice ${version}: its CRDs, namespace ${DEFAULT_NAMESPACE}, RBAC, the controller (${IMAGE_REPOSITORY}:${version})`,
    'and its egress NetworkPolicy, as `kubectl apply -k deploy/` composes them.',
    'Adapt the NetworkPolicy to your cluster before relying on it (see its comment below).',
  ]);
}

function namespacedFile(root: string, version: string, namespace: string): string {
  const all = composeKustomization(join(root, 'deploy'));
  const confined = confineTo(all, namespace, clusterScopedResources(all));
  labelVersion(confined.docs, version);
  setImage(confined.docs, version);
  return render(confined.docs, namespacedHeader(version, namespace, confined));
}

function filesUnder(dir: string, sub: string): string[] {
  return readdirSync(join(dir, sub), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

export async function buildRelease(options: ReleaseOptions): Promise<Release> {
  const version = checkReleaseVersion(options.version);
  const namespace = options.namespace ?? DEFAULT_NAMESPACE;
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace)) {
    throw new ReleaseError(`--namespace "${namespace}" is not a namespace name (lowercase DNS label)`);
  }
  const root = options.root ?? ROOT;
  const out = options.out ?? join(root, 'dist', 'release', version);
  const notes: string[] = [];
  const revision = headRevision(root, notes);
  mkdirSync(out, { recursive: true });

  const write = (file: string, text: string) => writeFileSync(join(out, file), text);
  const crds = composeCrds(root);
  labelVersion(crds, version);
  write(
    'crds.yaml',
    render(crds, [`Sluice ${version}: its CustomResourceDefinitions, for a cluster admin to apply first.`]),
  );
  write('install.yaml', installFile(root, version));
  write('install-namespaced.yaml', namespacedFile(root, version, namespace));
  for (const entry of ['sluice', 'kubectl-sluice'] as const) {
    const outfile = join(out, `${entry}.mjs`);
    await bundle({ entry, outfile, version, revision });
    chmodSync(outfile, 0o755);
  }
  write('image.env', `SLUICE_VERSION=${version}\nSLUICE_REVISION=${revision}\n`);
  const files = ['crds.yaml', 'install.yaml', 'install-namespaced.yaml', 'sluice.mjs', 'kubectl-sluice.mjs'];
  files.push('image.env');
  // The plugin for krew (an archive and its manifest) and both programs as an npm package.
  files.push(packKrew(root, out, version));
  write('sluice.yaml', krewManifest(out, version, options.downloadUrl));
  files.push('sluice.yaml', packNpm(root, out, version));

  rmSync(join(out, 'charts'), { recursive: true, force: true });
  notes.push(packageChart(join(root, 'charts', 'sluice'), out, version));
  try {
    files.push(...filesUnder(out, 'charts'));
  } catch {
    // no chart, no charts/ in the release
  }
  if (options.helm && existsSync(join(out, 'charts', 'sluice'))) {
    const helm = await options.helm();
    execFileSync(helm, ['package', join(out, 'charts', 'sluice'), '-d', out], { stdio: 'pipe' });
    files.push(`sluice-${version}.tgz`);
  }
  write('SHA256SUMS', sha256sums(out, files));
  return { out, files: [...files, 'SHA256SUMS'], notes };
}

const USAGE = `Usage: tsx release/build.ts [--version X.Y.Z] [--out DIR] [--namespace NS] [--download-url URL]

  --version       the release, MAJOR.MINOR.PATCH[-PRERELEASE] (default package.json's)
  --out           where to write (default dist/release/<version>)
  --namespace     the namespace of install-namespaced.yaml (default ${DEFAULT_NAMESPACE})
  --download-url  where the krew manifest says the release's files are ({version} is replaced;
                  default ${DEFAULT_DOWNLOAD_URL})`;

/** Returns the exit code: 0 written, 2 called wrongly or refused, 1 failed on the way. */
export async function main(argv: string[]): Promise<number> {
  let values: { version?: string; out?: string; namespace?: string; 'download-url'?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        version: { type: 'string' },
        out: { type: 'string' },
        namespace: { type: 'string' },
        'download-url': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    console.error(`release: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  try {
    const release = await buildRelease({
      helm: ensureHelm,
      version: values.version ?? packageVersion(),
      ...(values.out ? { out: values.out } : {}),
      ...(values.namespace ? { namespace: values.namespace } : {}),
      ...(values['download-url'] ? { downloadUrl: values['download-url'] } : {}),
    });
    for (const file of release.files) console.log(join(release.out, file));
    for (const note of release.notes) console.log(`note: ${note}`);
    return 0;
  } catch (err) {
    console.error(`release: ${(err as Error).message}`);
    return err instanceof ReleaseError ? 2 : 1;
  }
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
