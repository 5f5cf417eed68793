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
import { basename, join } from 'node:path';
import { parse } from 'yaml';
import { kubectl } from './cluster.ts';
import { CLUSTER_NAME, PATHS, VERSIONS } from './config.ts';
import { SandboxError, say } from './log.ts';
import { run } from './proc.ts';

const FIELD_MANAGER = 'sluice-sandbox';

/**
 * A Go module's directory after `go mod download`. Run outside any module, so the checkout
 * (not a Go module) has no say in the download.
 */
async function downloadModule(module: string, version: string): Promise<string> {
  say(`downloading ${module}@${version} from the Go module proxy`);
  const cwd = mkdtempSync(join(tmpdir(), 'sluice-gomod-'));
  try {
    const r = await run('go', ['mod', 'download', '-json', `${module}@${version}`], { cwd }).catch(
      (err: Error) => ({ code: 127, stdout: '', stderr: err.message }),
    );
    if (r.code !== 0) {
      throw new SandboxError(
        `could not download ${module}@${version} (is Go installed and the module proxy reachable?):\n${(r.stderr || r.stdout).trim()}`,
      );
    }
    const dir = (JSON.parse(r.stdout) as { Dir?: string }).Dir;
    if (!dir || !existsSync(dir)) throw new SandboxError(`go mod download gave no directory for ${module}`);
    return dir;
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

/**
 * Istio's own CRDs, from the generated YAML inside the istio.io/api Go module. A copy is
 * kept in the cache so later `up`s (and machines without Go) skip the module download.
 */
export async function istioCrdFile(): Promise<string> {
  const cached = join(PATHS.cache, `istio-api-${VERSIONS.istioApi}`, 'customresourcedefinitions.gen.yaml');
  if (existsSync(cached)) return cached;
  const dir = await downloadModule('istio.io/api', VERSIONS.istioApi);
  const source = join(dir, 'kubernetes', 'customresourcedefinitions.gen.yaml');
  if (!existsSync(source)) throw new SandboxError(`istio.io/api module has no ${source}`);
  mkdirSync(join(cached, '..'), { recursive: true });
  copyFileSync(source, cached);
  return cached;
}

/**
 * The Gateway API's standard channel, as the sigs.k8s.io/gateway-api module ships it: the
 * files its config/crd/kustomization.yaml lists under standard/ (every standard CRD plus the
 * safe-upgrades ValidatingAdmissionPolicy, which is part of the standard install and keeps
 * experimental CRDs from being mixed in). Cached like Istio's.
 */
export async function gatewayApiCrdFiles(): Promise<string[]> {
  const cacheDir = join(PATHS.cache, `gateway-api-${VERSIONS.gatewayApi}`, 'standard');
  // The marker is written last, so a half-copied directory is never taken for a whole one.
  const complete = join(cacheDir, '.complete');
  if (!existsSync(complete)) {
    const dir = await downloadModule('sigs.k8s.io/gateway-api', VERSIONS.gatewayApi);
    const kustomization = parse(readFileSync(join(dir, 'config', 'crd', 'kustomization.yaml'), 'utf8')) as {
      resources?: string[];
    };
    const standard = (kustomization.resources ?? []).filter((r) => r.startsWith('standard/'));
    if (!standard.some((r) => r.endsWith('_httproutes.yaml')))
      throw new SandboxError(
        `sigs.k8s.io/gateway-api@${VERSIONS.gatewayApi} lists no standard HTTPRoute CRD`,
      );
    mkdirSync(cacheDir, { recursive: true });
    for (const r of standard) copyFileSync(join(dir, 'config', 'crd', r), join(cacheDir, basename(r)));
    writeFileSync(complete, `${standard.join('\n')}\n`);
  }
  return readFileSync(complete, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((r) => join(cacheDir, basename(r)));
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

/** What `applyCrds` applied, or that it found the same files applied already. */
export interface CrdResult {
  files: string[];
  skipped: boolean;
  /** Sluice CRD files the API server refused: reported, not fatal (see below). */
  failed: { file: string; error: string }[];
}

/**
 * Server-side applies Istio's, the Gateway API's and Sluice's CRDs and waits until they are
 * Established. Skipped when the same files were applied to this cluster already (a hash is kept
 * next to it). The upstream CRDs must apply. A Sluice CRD the API server refuses (crds/ is
 * generated and may be mid-change) is reported loudly but does not take the whole sandbox down.
 */
export async function applyCrds(): Promise<CrdResult> {
  const istio = await istioCrdFile();
  const upstream = [istio, ...(await gatewayApiCrdFiles())];
  const files = [...upstream, ...sluiceCrdFiles()];
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
    if (upstream.includes(file))
      throw new SandboxError(`applying upstream CRDs from ${file} failed:\n${error}`);
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
