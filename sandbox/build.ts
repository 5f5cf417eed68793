import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { kubectlPath, kwokctlPath, PATHS, VERSIONS } from './config.ts';
import { SandboxError, say } from './log.ts';
import { run } from './proc.ts';

export function binaries(): Record<string, string> {
  return {
    'kube-apiserver': join(PATHS.k8sBin, 'kube-apiserver'),
    'kube-controller-manager': join(PATHS.k8sBin, 'kube-controller-manager'),
    'kube-scheduler': join(PATHS.k8sBin, 'kube-scheduler'),
    kubectl: kubectlPath(),
    etcd: PATHS.etcdBin,
    kwok: join(PATHS.kwokBin, 'kwok'),
    kwokctl: kwokctlPath(),
  };
}

/** Runs sandbox/build.sh only when a binary is missing; it caches by version under ~/.cache/sluice. */
export async function ensureBuilt(): Promise<void> {
  const missing = Object.entries(binaries()).filter(([, p]) => !existsSync(p));
  if (missing.length === 0) return;
  say(`building ${missing.map(([n]) => n).join(', ')} from the Go module proxy into ${PATHS.cache}`);
  say('the first build takes several minutes (measured cold: ~9 min on 2 cores); progress follows');
  const r = await run('bash', [PATHS.buildScript, 'all'], { stream: true });
  if (r.code !== 0) {
    const reason = /Go is not installed/.test(r.stderr)
      ? 'Go is not installed: install Go >= 1.26 (https://go.dev/dl/), make sure `go` is on PATH, and run `npm run sandbox:up` again.'
      : `the build failed (exit ${r.code}); build logs are in ${PATHS.buildLogs}, the failing step's last lines are above.`;
    throw new SandboxError(`sandbox build: ${reason}`);
  }
  const still = Object.entries(binaries()).filter(([, p]) => !existsSync(p));
  if (still.length > 0) {
    throw new SandboxError(`sandbox build finished but ${still.map(([, p]) => p).join(', ')} is missing`);
  }
}

export const helmPath = (): string => join(PATHS.cache, `helm-${VERSIONS.helm}`, 'helm');

/** Helm, for the chart's tests: built from its Go module once (about 2 minutes), then cached. */
export async function ensureHelm(): Promise<string> {
  if (existsSync(helmPath())) return helmPath();
  say(`building helm ${VERSIONS.helm} from the Go module proxy into ${PATHS.cache}`);
  const r = await run('bash', [PATHS.buildScript, 'helm'], {
    stream: true,
    env: { ...process.env, HELM_VERSION: VERSIONS.helm },
  });
  if (r.code !== 0 || !existsSync(helmPath()))
    throw new SandboxError(`helm build failed (exit ${r.code}); logs in ${PATHS.buildLogs}`);
  return helmPath();
}

export const krewPath = (): string => join(PATHS.cache, `krew-${VERSIONS.krew}`, 'krew');

/**
 * krew and its validate-krew-manifest, for the release's krew manifest: built from the Go module
 * once (about 40 s), then cached. Returns the directory holding both.
 */
export async function ensureKrew(): Promise<string> {
  if (existsSync(krewPath())) return join(krewPath(), '..');
  say(`building krew ${VERSIONS.krew} from the Go module proxy into ${PATHS.cache}`);
  const r = await run('bash', [PATHS.buildScript, 'krew'], {
    stream: true,
    env: { ...process.env, KREW_VERSION: VERSIONS.krew },
  });
  if (r.code !== 0 || !existsSync(krewPath()))
    throw new SandboxError(`krew build failed (exit ${r.code}); logs in ${PATHS.buildLogs}`);
  return join(krewPath(), '..');
}
