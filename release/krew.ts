// The krew plugin: an archive holding the plugin bundle as `kubectl-sluice` (and the LICENSE
// krew requires), and the manifest, `sluice.yaml`, that krew-index takes, naming the archive's
// address and digest. The bundle is JavaScript run by the `node` on the PATH (its shebang), so one
// archive serves every OS and architecture that has Node 24; Windows runs no shebang and is left out.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { stringify } from 'yaml';

/** Where a release's files are downloaded from; `--download-url` sets another. {version} is replaced. */
export const DEFAULT_DOWNLOAD_URL = 'https://github.com/sluice-dev/sluice/releases/download/v{version}';

export const krewArchive = (version: string): string => `kubectl-sluice-${version}.tar.gz`;

/**
 * A reproducible archive: entries sorted, owned by 0:0, dated 1970 (GNU tar), and gzip with no
 * name or time in its header (Node's zlib writes none), so one commit gives one digest.
 */
export function packKrew(root: string, out: string, version: string): string {
  const stage = mkdtempSync(join(tmpdir(), 'sluice-krew-'));
  try {
    copyFileSync(join(out, 'kubectl-sluice.mjs'), join(stage, 'kubectl-sluice'));
    chmodSync(join(stage, 'kubectl-sluice'), 0o755);
    copyFileSync(join(root, 'LICENSE'), join(stage, 'LICENSE'));
    chmodSync(join(stage, 'LICENSE'), 0o644);
    const tar = execFileSync(
      'tar',
      [
        '--sort=name',
        '--owner=0',
        '--group=0',
        '--numeric-owner',
        '--mtime=@0',
        '-cf',
        '-',
        'LICENSE',
        'kubectl-sluice',
      ],
      { cwd: stage, maxBuffer: 64 * 1024 * 1024 },
    );
    const file = krewArchive(version);
    writeFileSync(join(out, file), gzipSync(tar, { level: 9 }));
    return file;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** The krew manifest for the archive in `out`, downloaded from `downloadUrl` (with {version} replaced). */
export function krewManifest(out: string, version: string, downloadUrl = DEFAULT_DOWNLOAD_URL): string {
  const archive = krewArchive(version);
  const sha256 = createHash('sha256')
    .update(readFileSync(join(out, archive)))
    .digest('hex');
  const base = downloadUrl.replaceAll('{version}', version).replace(/\/+$/, '');
  const manifest = {
    apiVersion: 'krew.googlecontainertools.github.com/v1alpha2',
    kind: 'Plugin',
    metadata: { name: 'sluice' },
    spec: {
      version: `v${version}`,
      homepage: 'https://github.com/sluice-dev/sluice',
      shortDescription: 'Steer and watch Sluice progressive-delivery Rollouts',
      description:
        'The kubectl plugin of Sluice, a GitOps progressive-delivery controller: get rollout shows a\n' +
        'release as a tree, status waits for it to end (exit 0 Healthy, 1 Degraded), promote, abort,\n' +
        'retry, pause and resume steer it, list shows Rollouts and AnalysisRuns, with the verbs and\n' +
        'habits of kubectl argo rollouts.\n',
      caveats:
        'The plugin is one JavaScript file run by Node.js 24 or newer, which must be on the PATH.\n' +
        'Completion: kubectl sluice completion bash|zsh|fish; for `kubectl sluice <Tab>` itself,\n' +
        'link the plugin as kubectl_complete-sluice beside it:\n' +
        '  ln -s "$(command -v kubectl-sluice)" "$(dirname "$(command -v kubectl-sluice)")/kubectl_complete-sluice"\n',
      platforms: [
        {
          selector: { matchExpressions: [{ key: 'os', operator: 'In', values: ['linux', 'darwin'] }] },
          uri: `${base}/${archive}`,
          sha256,
          bin: 'kubectl-sluice',
          files: [
            { from: 'kubectl-sluice', to: '.' },
            { from: 'LICENSE', to: '.' },
          ],
        },
      ],
    },
  };
  return stringify(manifest, { lineWidth: 0 });
}
