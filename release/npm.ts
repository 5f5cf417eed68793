// The npm package a release ships: the two bundles and a package.json written for them, packed by
// `npm pack`. The checkout's own package.json is the development workspace (private, its bin runs
// the TypeScript sources through tsx); this one is what `npm install -g` installs: no
// dependencies, its bin the bundled files, so `kubectl-sluice` starts in a fraction of a second.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReleaseError } from './semver.ts';

export const NPM_PACKAGE = '@sluice-dev/sluice';

/** What `npm pack` names the tarball of NPM_PACKAGE at `version`. */
export const npmTarball = (version: string): string =>
  `${NPM_PACKAGE.replace(/^@/, '').replace('/', '-')}-${version}.tgz`;

/**
 * The package.json: each program on the PATH by its bundle, and `kubectl_complete-sluice`, which
 * kubectl (1.26+) runs to complete `kubectl sluice …` (the plugin answers as its completer when
 * called by that name).
 */
export function npmManifest(version: string): object {
  return {
    name: NPM_PACKAGE,
    version,
    description:
      'Sluice: a GitOps progressive-delivery controller for Kubernetes (sluice) and its kubectl plugin (kubectl-sluice)',
    license: 'Apache-2.0',
    type: 'module',
    engines: { node: '>=24' },
    bin: {
      'kubectl-sluice': 'kubectl-sluice.mjs',
      'kubectl_complete-sluice': 'kubectl-sluice.mjs',
      sluice: 'sluice.mjs',
    },
    files: ['kubectl-sluice.mjs', 'sluice.mjs', 'LICENSE', 'README.md'],
  };
}

const README = (version: string) => `# Sluice ${version}

\`\`\`sh
npm install -g ${npmTarball(version)}   # or ${NPM_PACKAGE}@${version}
kubectl sluice --help
\`\`\`

Puts on the PATH \`kubectl-sluice\`, the kubectl plugin (\`kubectl sluice get rollout NAME\`,
\`status\`, \`promote\`, \`list\`, …), \`kubectl_complete-sluice\`, which kubectl 1.26+ runs to
complete \`kubectl sluice <Tab>\`, and \`sluice\`, the controller. Each is one bundled file run by
Node.js 24 or newer, with no dependencies. Shell completion: \`kubectl sluice completion bash|zsh|fish\`.
`;

/** Writes the package into a scratch directory, packs it into `out`, and returns the tarball's name. */
export function packNpm(root: string, out: string, version: string): string {
  const stage = mkdtempSync(join(tmpdir(), 'sluice-npm-'));
  try {
    for (const file of ['kubectl-sluice.mjs', 'sluice.mjs']) copyFileSync(join(out, file), join(stage, file));
    copyFileSync(join(root, 'LICENSE'), join(stage, 'LICENSE'));
    writeFileSync(join(stage, 'README.md'), README(version));
    writeFileSync(join(stage, 'package.json'), `${JSON.stringify(npmManifest(version), null, 2)}\n`);
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--pack-destination', out], {
        cwd: stage,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        // A scratch directory outside any project: npm reads no one's .npmrc scripts or workspaces.
        env: { ...process.env, npm_config_ignore_scripts: 'true', npm_config_update_notifier: 'false' },
      }),
    ) as { filename: string }[];
    const file = packed[0]?.filename;
    if (file !== npmTarball(version))
      throw new ReleaseError(`npm pack wrote ${file}, not ${npmTarball(version)}`);
    return file;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/**
 * `npm install -g --prefix PREFIX TARBALL`, offline (the package has no dependencies): how the
 * tests and bench:plugin install the package, as a person would; PREFIX/bin then holds its bins.
 */
export function installGlobally(tarball: string, prefix: string): void {
  execFileSync(
    'npm',
    ['install', '-g', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', tarball],
    {
      stdio: 'pipe',
      env: { ...process.env, npm_config_update_notifier: 'false' },
    },
  );
}
