import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubectl } from './cluster.ts';
import { CLUSTER_NAME, PATHS, VERSIONS } from './config.ts';
import { SandboxError, say } from './log.ts';
import { run } from './proc.ts';

const FIELD_MANAGER = 'sluice-sandbox';

/**
 * Istio's own CRDs, from the generated YAML inside the istio.io/api Go module. A copy is
 * kept in the cache so later `up`s (and machines without Go) skip the module download.
 */
export async function istioCrdFile(): Promise<string> {
  const cached = join(PATHS.cache, `istio-api-${VERSIONS.istioApi}`, 'customresourcedefinitions.gen.yaml');
  if (existsSync(cached)) return cached;
  say(`downloading istio.io/api@${VERSIONS.istioApi} from the Go module proxy for Istio's CRDs`);
  // Outside any module, so the checkout (not a Go module) has no say in the download.
  const cwd = mkdtempSync(join(tmpdir(), 'sluice-istio-'));
  try {
    const r = await run('go', ['mod', 'download', '-json', `istio.io/api@${VERSIONS.istioApi}`], {
      cwd,
    }).catch((err: Error) => ({ code: 127, stdout: '', stderr: err.message }));
    if (r.code !== 0) {
      throw new SandboxError(
        `could not download istio.io/api@${VERSIONS.istioApi} (is Go installed and the module proxy reachable?):\n${(r.stderr || r.stdout).trim()}`,
      );
    }
    const dir = (JSON.parse(r.stdout) as { Dir?: string }).Dir;
    const source = dir && join(dir, 'kubernetes', 'customresourcedefinitions.gen.yaml');
    if (!source || !existsSync(source)) throw new SandboxError(`istio.io/api module has no ${source}`);
    mkdirSync(join(cached, '..'), { recursive: true });
    copyFileSync(source, cached);
    return cached;
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

export function sluiceCrdFiles(): string[] {
  if (!existsSync(PATHS.crdsDir)) return [];
  // crds/ also holds non-CRD YAML (a kustomization): only files that define CRDs are applied.
  return readdirSync(PATHS.crdsDir)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort()
    .map((f) => join(PATHS.crdsDir, f))
    .filter((f) => /^kind:\s*CustomResourceDefinition\s*$/m.test(readFileSync(f, 'utf8')));
}

/**
 * Server-side applies Istio's and Sluice's CRDs and waits until they are Established. Skipped
 * when the same files were applied to this cluster already (a hash is kept next to it).
 */
export interface CrdResult {
  files: string[];
  skipped: boolean;
  /** Sluice CRD files the API server refused: reported, not fatal (see below). */
  failed: { file: string; error: string }[];
}

/**
 * Server-side applies Istio's and Sluice's CRDs and waits until they are Established. Skipped
 * when the same files were applied to this cluster already (a hash is kept next to it).
 * Istio's CRDs must apply. A Sluice CRD the API server refuses (crds/ is generated and may be
 * mid-change) is reported loudly but does not take the whole sandbox down with it.
 */
export async function applyCrds(): Promise<CrdResult> {
  const istio = await istioCrdFile();
  const files = [istio, ...sluiceCrdFiles()];
  const hash = createHash('sha256');
  for (const f of files) hash.update(f).update(readFileSync(f));
  const digest = hash.digest('hex');
  // Inside the cluster's own directory, so a new cluster never inherits the stamp.
  const stamp = join(PATHS.kwokWorkdir, 'clusters', CLUSTER_NAME, 'sluice-crds.sha256');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === digest)
    return { files, skipped: true, failed: [] };
  const failed: CrdResult['failed'] = [];
  for (const file of files) {
    say(`applying CRDs from ${file}`);
    const r = await kubectl([
      'apply',
      '--server-side',
      '--force-conflicts',
      `--field-manager=${FIELD_MANAGER}`,
      '-f',
      file,
    ]);
    if (r.code === 0) continue;
    const error = (r.stderr || r.stdout).trim();
    if (file === istio) throw new SandboxError(`applying Istio's CRDs from ${file} failed:\n${error}`);
    failed.push({ file, error });
    say(`WARNING: the API server refused ${file}; Sluice resources from it will not work:\n${error}`);
  }
  const wait = await kubectl(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=60s']);
  if (wait.code !== 0)
    throw new SandboxError(`CRDs did not become Established:\n${(wait.stderr || wait.stdout).trim()}`);
  // A refused file is retried by the next `up`.
  if (failed.length === 0) writeFileSync(stamp, digest);
  return { files, skipped: false, failed };
}
