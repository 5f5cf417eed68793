// Runs programs inside the image's filesystem (sandbox/image/rootfs.ts) the way deploy/'s pod
// runs the image: the root read-only, the Deployment's emptyDirs the only writable places, the
// pod's user with no capabilities and no privilege escalation, the image's ENTRYPOINT, WORKDIR
// and environment. bwrap builds the mount tree; the host network is shared, so the program
// reaches the sandbox's API server, Prometheus and git server on loopback as the host does.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { V1Deployment } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { NODE_IMAGE } from '../../sandbox/image/dockerfile.ts';
import type { ImageRootfs } from '../../sandbox/image/rootfs.ts';
import { ROOT } from '../support/fixtures.ts';
import type { Launched, Launcher } from './controller.ts';

/** What deploy/deployment.yaml asks of the container, as far as a filesystem sandbox can give it. */
export interface PodRun {
  uid: number;
  gid: number;
  /** Supplementary groups: the image's /etc/group entries naming the user, as container runtimes add. */
  groups: number[];
  env: Record<string, string>;
  /** The emptyDir mounts: a fresh tmpfs each, the pod's only writable places. */
  writable: { path: string; bytes?: number }[];
  noNewPrivs: boolean;
  dropAllCapabilities: boolean;
}

class PodShapeError extends Error {
  override readonly name = 'PodShapeError';
}

const QUANTITY: Record<string, number> = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 };

function bytes(quantity: string | undefined): number | undefined {
  if (quantity === undefined) return undefined;
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(quantity);
  if (!m) throw new PodShapeError(`deploy/deployment.yaml: sizeLimit ${quantity} is not understood`);
  return Number(m[1]) * (m[2] ? (QUANTITY[m[2]] as number) : 1);
}

/** A user's ids by the image's own /etc/passwd and /etc/group, as runc and containerd find them. */
function idsIn(rootfs: string, uid: number): { gid: number; groups: number[] } {
  const passwd = readFileSync(join(rootfs, 'etc/passwd'), 'utf8').split('\n');
  const entry = passwd.map((l) => l.split(':')).find((f) => Number(f[2]) === uid && f[2] !== '');
  // A uid the image does not know runs with group 0, as containerd does.
  const gid = entry ? Number(entry[3]) : 0;
  const name = entry?.[0];
  const groups = readFileSync(join(rootfs, 'etc/group'), 'utf8')
    .split('\n')
    .map((l) => l.split(':'))
    .filter((f) => name !== undefined && (f[3] ?? '').split(',').includes(name))
    .map((f) => Number(f[2]));
  return { gid, groups };
}

/**
 * deploy/deployment.yaml's container, read rather than restated. The kustomization's namespace is
 * what a `fieldRef: metadata.namespace` resolves to.
 */
export function podRun(image: ImageRootfs): PodRun {
  const deployment: V1Deployment = parse(readFileSync(join(ROOT, 'deploy/deployment.yaml'), 'utf8'));
  const namespace: string = parse(readFileSync(join(ROOT, 'deploy/kustomization.yaml'), 'utf8')).namespace;
  const pod = deployment.spec?.template.spec;
  const c = pod?.containers[0];
  if (!pod || !c || pod.containers.length !== 1) {
    throw new PodShapeError('deploy/deployment.yaml: expected one container');
  }
  const podSecurity = pod.securityContext ?? {};
  const security = c.securityContext ?? {};
  if (security.readOnlyRootFilesystem !== true) {
    throw new PodShapeError(
      'deploy/deployment.yaml: the harness binds the image read-only; a writable root is not modelled',
    );
  }
  const uid = security.runAsUser ?? podSecurity.runAsUser ?? image.spec.user.uid;
  const ids = idsIn(image.dir, uid);
  const writable = (c.volumeMounts ?? []).map((m) => {
    const emptyDir = pod.volumes?.find((v) => v.name === m.name)?.emptyDir;
    if (!emptyDir) throw new PodShapeError(`deploy/deployment.yaml: volume ${m.name} is not an emptyDir`);
    return { path: m.mountPath, bytes: bytes(emptyDir.sizeLimit as string | undefined) };
  });
  const env: Record<string, string> = {
    PATH: NODE_IMAGE.path,
    ...image.spec.env,
    // The runtime sets HOME from the image's /etc/passwd when the image does not.
    HOME: image.spec.env.HOME ?? (uid === image.spec.user.uid ? image.spec.user.home : '/'),
  };
  for (const e of c.env ?? []) {
    if (typeof e.value === 'string') env[e.name] = e.value;
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[e.name] = namespace;
    else throw new PodShapeError(`deploy/deployment.yaml: env ${e.name} comes from somewhere not modelled`);
  }
  return {
    uid,
    gid: security.runAsGroup ?? podSecurity.runAsGroup ?? ids.gid,
    groups: ids.groups,
    env,
    writable,
    noNewPrivs: security.allowPrivilegeEscalation === false,
    dropAllCapabilities: (security.capabilities?.drop ?? []).includes('ALL'),
  };
}

/** Where the harness puts the controller's kubeconfig inside (the pod's token would be under /run). */
export const KUBECONFIG_INSIDE = '/run/secrets/sluice/kubeconfig';

/**
 * The bwrap command that runs `argv` as the pod runs its container. bwrap needs root to build the
 * tree from root-owned files; setpriv, from the image's own util-linux, then becomes the pod's
 * user, as runc does after mounting, so the program holds the pod's real uid rather than root
 * renamed in a user namespace: file permissions in the image are checked as they will be.
 */
export function inImageCommand(
  image: ImageRootfs,
  argv: string[],
  opts: { env?: Record<string, string>; kubeconfig?: string; pod?: PodRun } = {},
): { file: string; args: string[] } {
  if (process.getuid?.() !== 0) {
    throw new Error(
      'running in the image filesystem needs root (bwrap mounts it, setpriv becomes the pod user)',
    );
  }
  const pod = opts.pod ?? podRun(image);
  const env = { ...pod.env, ...opts.env };
  const args = ['--ro-bind', image.dir, '/', '--dev', '/dev', '--proc', '/proc'];
  for (const w of pod.writable) {
    // emptyDir is world-writable; its sizeLimit (an eviction threshold there) is a hard limit here.
    args.push('--perms', '0777', ...(w.bytes ? ['--size', String(w.bytes)] : []), '--tmpfs', w.path);
  }
  if (opts.kubeconfig) {
    // /run is an empty directory of the read-only image: a mount point made there, then read-only again.
    // bwrap would make the parents 0700 (root's), which the pod's user could not enter.
    args.push('--tmpfs', '/run', '--perms', '0755', '--dir', dirname(KUBECONFIG_INSIDE));
    args.push('--ro-bind', opts.kubeconfig, KUBECONFIG_INSIDE, '--remount-ro', '/run');
  }
  args.push(
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    // The ENTRYPOINT is the container's first process: node is pid 1, as in the pod.
    '--as-pid-1',
    '--die-with-parent',
    '--chdir',
    image.spec.workdir,
    '--clearenv',
    ...Object.entries(env).flatMap(([k, v]) => ['--setenv', k, v]),
    '--info-fd',
    '3',
    '--',
    '/usr/bin/setpriv',
    `--reuid=${pod.uid}`,
    `--regid=${pod.gid}`,
    ...(pod.groups.length > 0 ? [`--groups=${pod.groups.join(',')}`] : ['--clear-groups']),
    '--inh-caps=-all',
    ...(pod.dropAllCapabilities ? ['--bounding-set=-all'] : []),
    ...(pod.noNewPrivs ? ['--no-new-privs'] : []),
    '--',
    ...argv,
  );
  return { file: '/usr/bin/bwrap', args };
}

/** Starts `argv` in the image; the pid is the program's own (bwrap's child), for signals and /proc. */
export function spawnInImage(
  image: ImageRootfs,
  argv: string[],
  opts: Parameters<typeof inImageCommand>[2] = {},
): Launched {
  const { file, args } = inImageCommand(image, argv, opts);
  const proc = spawn(file, args, { env: {}, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  let info = '';
  const pid = new Promise<number>((resolve, reject) => {
    const fd3 = proc.stdio[3];
    fd3?.on('data', (d: Buffer) => {
      info += d.toString();
      const m = /"child-pid"\s*:\s*(\d+)/.exec(info);
      if (m) resolve(Number(m[1]));
    });
    proc.once('exit', () => reject(new Error(`bwrap exited before starting ${argv.join(' ')}`)));
  });
  // Nobody may ask; an early exit is then reported by the exit code, not an unhandled rejection.
  pid.catch(() => {});
  return {
    proc,
    pid: () => pid,
    signal(signal) {
      // bwrap passes no signals on: the program (pid 1 inside) gets them directly, as from a kubelet.
      pid.then(
        (p) => {
          try {
            process.kill(p, signal);
          } catch {
            // already gone
          }
        },
        () => {},
      );
      if (signal === 'SIGKILL') proc.kill(signal);
    },
  };
}

/** Runs `argv` in the image to its end: stdout, stderr and the exit code. */
export function runInImage(
  image: ImageRootfs,
  argv: string[],
  opts: Parameters<typeof inImageCommand>[2] = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { proc } = spawnInImage(image, argv, opts);
  let stdout = '';
  let stderr = '';
  proc.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  proc.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) => proc.once('close', (code) => resolve({ code, stdout, stderr })));
}

/**
 * startController's launcher for the image: the image's ENTRYPOINT with the controller's
 * arguments in place of its CMD (as a pod's `args` replace it), the pod's environment with the
 * test's additions, and the kubeconfig bound read-only where the program can read it.
 */
export const inImage =
  (image: ImageRootfs): Launcher =>
  ({ args, kubeconfig, env }) =>
    spawnInImage(image, [...image.spec.entrypoint, ...args(KUBECONFIG_INSIDE)], { env, kubeconfig });
