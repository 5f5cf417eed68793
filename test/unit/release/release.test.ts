import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { buildRelease, main, type Release } from '../../../release/build.ts';
import { installGlobally } from '../../../release/npm.ts';
import { ReleaseError } from '../../../release/semver.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;
const VERSION = '0.2.0';
const LABEL = 'app.kubernetes.io/version';

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

const tmp = mkdtempSync(join(tmpdir(), 'sluice-release-'));
const out = join(tmp, 'out');
let release: Release;

function objects(file: string): K8sObject[] {
  const docs = parseAllDocuments(readFileSync(join(out, file), 'utf8'));
  const list = Array.isArray(docs) ? docs : [docs];
  for (const doc of list) expect(doc.errors).toEqual([]);
  return list.map((doc) => doc.toJS() as K8sObject);
}

const sourceCrds = (): K8sObject[] =>
  readdirSync(join(ROOT, 'crds'))
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .map((f) => parse(readFileSync(join(ROOT, 'crds', f), 'utf8')) as K8sObject);

/** The one object of that kind (and name), in the shape the test reads. */
function only<T>(objs: K8sObject[], kind: string, name?: string): T {
  const found = objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  expect(found, `${kind} ${name ?? ''}`).toHaveLength(1);
  return found[0] as unknown as T;
}

const deployment = (objs: K8sObject[]) => {
  const found = objs.filter((o) => o.kind === 'Deployment');
  expect(found).toHaveLength(1);
  return found[0] as K8sObject & {
    spec: { template: { spec: { containers: { name: string; image: string; args: string[] }[] } } };
  };
};

beforeAll(async () => {
  release = await buildRelease({ version: VERSION, out, namespace: 'team-a' });
}, 120_000);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('npm run release', () => {
  it('writes every file, and nothing it does not list', () => {
    const chart = release.files.filter((f) => f.startsWith('charts/sluice/'));
    expect(chart).toContain('charts/sluice/Chart.yaml');
    expect(chart).toContain('charts/sluice/templates/deployment.yaml');
    expect(release.files).toEqual([
      'crds.yaml',
      'install.yaml',
      'install-namespaced.yaml',
      'sluice.mjs',
      'kubectl-sluice.mjs',
      'image.env',
      `kubectl-sluice-${VERSION}.tar.gz`,
      'sluice.yaml',
      `sluice-dev-sluice-${VERSION}.tgz`,
      ...chart,
      'SHA256SUMS',
    ]);
    const top = new Set(release.files.map((f) => f.split('/')[0]));
    expect(readdirSync(out).sort()).toEqual([...top].sort());
    // Packaging with helm is the command line's (helm is built on demand); here, the directory.
    expect(release.notes).toContain(
      `chart ${join(ROOT, 'charts', 'sluice')} → ${join(out, 'charts', 'sluice')} (version ${VERSION})`,
    );
    expect(parse(readFileSync(join(out, 'charts/sluice/Chart.yaml'), 'utf8'))).toMatchObject({
      version: VERSION,
      appVersion: VERSION,
    });
  });

  it('crds.yaml holds exactly the generated CRDs, unchanged but for the version label', () => {
    const crds = objects('crds.yaml');
    const source = sourceCrds();
    expect(crds.map((c) => c.metadata.name).sort()).toEqual(source.map((c) => c.metadata.name).sort());
    for (const crd of crds) {
      expect(crd.metadata.labels?.[LABEL]).toBe(VERSION);
      delete crd.metadata.labels;
      expect(crd).toEqual(source.find((s) => s.metadata.name === crd.metadata.name));
    }
  });

  it('install.yaml is deploy/ as kustomize composes it, versioned', () => {
    const objs = objects('install.yaml');
    for (const crd of sourceCrds()) {
      expect(
        objs.some((o) => o.kind === 'CustomResourceDefinition' && o.metadata.name === crd.metadata.name),
      ).toBe(true);
    }
    expect(objs.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name)).toEqual(['sluice-system']);
    for (const o of objs) expect(o.metadata.labels?.[LABEL], `${o.kind} ${o.metadata.name}`).toBe(VERSION);
    const clusterScoped = ['CustomResourceDefinition', 'Namespace', 'ClusterRole', 'ClusterRoleBinding'];
    for (const o of objs) {
      expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBe(
        clusterScoped.includes(o.kind) ? undefined : 'sluice-system',
      );
    }
    const binding = only<{ subjects: { namespace: string }[] }>(objs, 'ClusterRoleBinding');
    expect(binding.subjects.map((s) => s.namespace)).toEqual(['sluice-system']);
    const controller = deployment(objs);
    expect(controller.spec.template.spec.containers.map((c) => c.image)).toEqual([
      `ghcr.io/sluice-dev/sluice:${VERSION}`,
    ]);
    expect(controller.spec.template.spec.containers[0]?.args).not.toContainEqual(
      expect.stringMatching(/^--namespace/),
    );
    // The comments people must read survive the composition.
    expect(readFileSync(join(out, 'install.yaml'), 'utf8')).toContain('ADAPT BEFORE RELYING ON IT');
  });

  it('install-namespaced.yaml holds nothing cluster-scoped and confines the controller', () => {
    const text = readFileSync(join(out, 'install-namespaced.yaml'), 'utf8');
    const objs = objects('install-namespaced.yaml');
    const kinds = objs.map((o) => o.kind);
    for (const kind of ['ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'Namespace']) {
      expect(kinds).not.toContain(kind);
    }
    for (const o of objs) {
      expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBe('team-a');
      expect(o.metadata.labels?.[LABEL]).toBe(VERSION);
    }
    const controller = deployment(objs).spec.template.spec.containers[0]!;
    expect(controller.args).toContain('--namespace=team-a');
    expect(controller.image).toBe(`ghcr.io/sluice-dev/sluice:${VERSION}`);

    const role = only<{ rules: { resources: string[] }[] }>(objs, 'Role', 'sluice-controller');
    const resources = role.rules.flatMap((r) => r.resources);
    expect(resources).toContain('analysistemplates');
    expect(resources).not.toContain('clusteranalysistemplates');
    const binding = only<{ roleRef: { kind: string }; subjects: { namespace: string }[] }>(
      objs,
      'RoleBinding',
      'sluice-controller',
    );
    expect(binding.roleRef.kind).toBe('Role');
    expect(binding.subjects.map((s) => s.namespace)).toEqual(['team-a']);
    // Only the controller's ClusterRole becomes a Role: every Role here is bound to something here,
    // and the cluster-wide roles for people are named as left out instead.
    const boundRoles = objs
      .filter((o) => o.kind === 'RoleBinding')
      .map((o) => (o.roleRef as { name: string }).name);
    for (const r of objs.filter((o) => o.kind === 'Role')) expect(boundRoles).toContain(r.metadata.name);
    const install = objects('install.yaml');
    const granted = install
      .filter((o) => o.kind === 'ClusterRoleBinding')
      .map((o) => (o.roleRef as { name: string }).name);
    const unbound = install.filter((o) => o.kind === 'ClusterRole' && !granted.includes(o.metadata.name));
    for (const r of unbound) expect(text).toContain(`ClusterRole ${r.metadata.name}`);
    // The header says why CRDs are absent and what the Role lost.
    const header = text.slice(0, text.indexOf('\napiVersion'));
    expect(header).toMatch(/^# .*namespace admin cannot install CRDs/m);
    expect(header).toMatch(/^# +- get, list, watch clusteranalysistemplates \(sluice\.dev\)/m);
  });

  it('SHA256SUMS is the digest of every other file', () => {
    const lines = readFileSync(join(out, 'SHA256SUMS'), 'utf8').trimEnd().split('\n');
    const listed = lines.map((line) => {
      const [digest, file] = line.split('  ');
      expect(digest).toBe(
        createHash('sha256')
          .update(readFileSync(join(out, file!)))
          .digest('hex'),
      );
      return file;
    });
    expect(listed).toEqual(release.files.filter((f) => f !== 'SHA256SUMS'));
  });

  it('image.env names the version and the commit of HEAD', () => {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    expect(readFileSync(join(out, 'image.env'), 'utf8')).toBe(
      `SLUICE_VERSION=${VERSION}\nSLUICE_REVISION=${head}\n`,
    );
  });

  it('stamps the version into both bundles, which run alone', () => {
    const sluice = spawnSync(process.execPath, [join(out, 'sluice.mjs'), '--version'], {
      cwd: tmp,
      encoding: 'utf8',
    });
    expect(sluice.stdout).toBe(`sluice ${VERSION}\n`);
    expect(sluice.status).toBe(0);
    const plugin = spawnSync(
      process.execPath,
      [join(out, 'kubectl-sluice.mjs'), 'version', '--kubeconfig', join(tmp, 'no-kubeconfig')],
      { cwd: tmp, encoding: 'utf8' },
    );
    expect(plugin.stdout).toMatch(
      new RegExp(`^client: ${VERSION.replaceAll('.', '\\.')} \\([0-9a-f]{12}\\)\n`),
    );
    expect(plugin.stdout).toContain(
      `controller: unknown (kubeconfig "${join(tmp, 'no-kubeconfig')}" does not exist)`,
    );
    expect(plugin.status).toBe(0);
    // Not even a deprecation warning: tr46's punycode is the npm package's, bundled.
    expect(plugin.stderr).toBe('');
  });
});

describe('the plugin for krew and both programs for npm', () => {
  it('sluice.yaml is a krew Plugin naming the archive, its digest and what to link', () => {
    const archive = `kubectl-sluice-${VERSION}.tar.gz`;
    const manifest = parse(readFileSync(join(out, 'sluice.yaml'), 'utf8'));
    expect(manifest).toMatchObject({
      apiVersion: 'krew.googlecontainertools.github.com/v1alpha2',
      kind: 'Plugin',
      metadata: { name: 'sluice' },
      spec: { version: `v${VERSION}`, shortDescription: expect.any(String) },
    });
    expect(manifest.spec.caveats).toContain('Node.js 24');
    expect(manifest.spec.platforms).toEqual([
      {
        selector: { matchExpressions: [{ key: 'os', operator: 'In', values: ['linux', 'darwin'] }] },
        uri: `https://github.com/sluice-dev/sluice/releases/download/v${VERSION}/${archive}`,
        sha256: createHash('sha256')
          .update(readFileSync(join(out, archive)))
          .digest('hex'),
        bin: 'kubectl-sluice',
        files: [
          { from: 'kubectl-sluice', to: '.' },
          { from: 'LICENSE', to: '.' },
        ],
      },
    ]);
    // The archive holds the bundle itself, executable, and the LICENSE krew insists on.
    const listing = execFileSync('tar', ['-tvzf', join(out, archive)], { encoding: 'utf8' })
      .trim()
      .split('\n');
    expect(listing).toEqual([
      expect.stringMatching(/^-rw-r--r-- 0\/0 .* LICENSE$/),
      expect.stringMatching(/^-rwxr-xr-x 0\/0 .* kubectl-sluice$/),
    ]);
    const inside = execFileSync('tar', ['-xzOf', join(out, archive), 'kubectl-sluice'], {
      maxBuffer: 64 << 20,
    });
    expect(inside.equals(readFileSync(join(out, 'kubectl-sluice.mjs')))).toBe(true);
  });

  it('the archive is the same for the same commit, and --download-url moves the address', async () => {
    const again = join(tmp, 'again');
    await buildRelease({
      version: VERSION,
      out: again,
      downloadUrl: 'https://mirror.example/sluice/{version}/',
    });
    const archive = `kubectl-sluice-${VERSION}.tar.gz`;
    expect(readFileSync(join(again, archive)).equals(readFileSync(join(out, archive)))).toBe(true);
    expect(parse(readFileSync(join(again, 'sluice.yaml'), 'utf8')).spec.platforms[0].uri).toBe(
      `https://mirror.example/sluice/${VERSION}/${archive}`,
    );
  }, 120_000);

  it('npm install -g of the packed package puts kubectl-sluice, its completer and sluice on the PATH, bundled', () => {
    const prefix = join(tmp, 'global');
    installGlobally(join(out, `sluice-dev-sluice-${VERSION}.tgz`), prefix);
    const installed = JSON.parse(
      readFileSync(join(prefix, 'lib/node_modules/@sluice-dev/sluice/package.json'), 'utf8'),
    );
    expect(installed).toMatchObject({
      name: '@sluice-dev/sluice',
      version: VERSION,
      engines: { node: '>=24' },
    });
    // Nothing to install beside it: the bundles are the whole program.
    expect(installed.dependencies).toBeUndefined();
    expect(readdirSync(join(prefix, 'bin')).sort()).toEqual([
      'kubectl-sluice',
      'kubectl_complete-sluice',
      'sluice',
    ]);
    // Run as a person's shell runs it: by name from the PATH, through its #!/usr/bin/env node.
    const env = {
      ...process.env,
      PATH: `${join(prefix, 'bin')}:${dirname(process.execPath)}:${process.env.PATH}`,
    };
    const run = (program: string, args: string[]) =>
      spawnSync(program, args, { cwd: tmp, encoding: 'utf8', env });
    const version = run('kubectl-sluice', ['version', '--kubeconfig', join(tmp, 'none')]);
    expect(version.status).toBe(0);
    expect(version.stdout).toMatch(new RegExp(`^client: ${VERSION.replaceAll('.', '\\.')} \\(`));
    expect(version.stderr).toBe('');
    expect(run('sluice', ['--version']).stdout).toBe(`sluice ${VERSION}\n`);
    expect(run('kubectl_complete-sluice', ['pro']).stdout).toBe(
      'promote\tcontinue past a pause, or (--full) skip every remaining step\n:4\n',
    );
    // The bundle, not sources: no tsx loader, nothing imported from a .ts file.
    expect(readFileSync(join(prefix, 'bin', 'kubectl-sluice'), 'utf8')).not.toMatch(
      /tsx\/esm|from ['"][^'"]+\.ts['"]|import\(['"][^'"]+\.ts['"]\)/,
    );
  }, 60_000);
});

describe('refusals', () => {
  it('refuses a version that is not a release, writing nothing', async () => {
    const nowhere = join(tmp, 'refused');
    await expect(buildRelease({ version: 'v0.2.0', out: nowhere })).rejects.toThrow(ReleaseError);
    await expect(buildRelease({ version: '0.2', out: nowhere })).rejects.toThrow(/not a semantic version/);
    expect(existsSync(nowhere)).toBe(false);
  });

  it('refuses a namespace that cannot be one', async () => {
    await expect(
      buildRelease({ version: VERSION, out: join(tmp, 'x'), namespace: 'Team_A' }),
    ).rejects.toThrow(/not a namespace name/);
  });

  it('says why on the command line and exits 2', async () => {
    const errors: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((t: string) => errors.push(t));
    expect(await main(['--version', '1.0.0+build.5', '--out', join(tmp, 'y')])).toBe(2);
    expect(errors).toEqual([
      'release: --version "1.0.0+build.5" has build metadata, which an image tag and a label cannot hold; expected MAJOR.MINOR.PATCH[-PRERELEASE], e.g. 0.2.0',
    ]);
    vi.restoreAllMocks();
  });
});
