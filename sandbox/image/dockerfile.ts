// What the Dockerfile says the runtime image holds, read from the Dockerfile itself so that the
// filesystem sandbox/image/rootfs.ts builds cannot drift from it. The reader knows the shapes our
// Dockerfile uses and no others: anything else is refused with the line that holds it, because
// a rootfs built while ignoring an instruction would prove something about another image.

/** The base image's own facts that the Dockerfile relies on without saying them. */
export interface BaseUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

/**
 * The official node image (github.com/nodejs/docker-node): Node in /usr/local/bin, and a `node`
 * user 1000:1000 made with groupadd/useradd. No registry is reachable here to read the image
 * itself, so these are written down rather than checked.
 */
export const NODE_IMAGE = {
  nodePath: '/usr/local/bin/node',
  users: [{ name: 'node', uid: 1000, gid: 1000, home: '/home/node', shell: '/bin/bash' }] as BaseUser[],
  // The image sets no PATH of its own, so a container gets the runtime's default.
  path: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
} as const;

export interface ImageSpec {
  /** The runtime stage's base, e.g. node:24-bookworm-slim. */
  from: string;
  nodeMajor: number;
  /** The Debian release the base is built on (bookworm). */
  suite: string;
  /** The -slim variant: Debian without documentation, manuals and translations. */
  slim: boolean;
  /** What the runtime stage's apt-get install adds, in the Dockerfile's order. */
  packages: string[];
  installRecommends: boolean;
  env: Record<string, string>;
  workdir: string;
  /** Where the bundle lands in the image (absolute). */
  bundlePath: string;
  user: BaseUser;
  entrypoint: string[];
  cmd: string[];
  expose: number[];
}

export class DockerfileShapeError extends Error {
  override readonly name = 'DockerfileShapeError';
}

interface Instruction {
  line: number;
  keyword: string;
  rest: string;
}

/** Instructions with their line numbers; continuations joined, comments dropped. */
export function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending: { line: number; text: string } | undefined;
  text.split('\n').forEach((raw, i) => {
    const trimmed = raw.trim();
    // Docker drops comment and empty lines even inside a continued instruction.
    if (trimmed.startsWith('#') || trimmed === '') return;
    const continued = trimmed.endsWith('\\');
    const piece = continued ? trimmed.slice(0, -1).trim() : trimmed;
    pending = pending
      ? { line: pending.line, text: `${pending.text} ${piece}`.trim() }
      : { line: i + 1, text: piece };
    if (continued) return;
    const m = /^(\S+)\s*(.*)$/.exec(pending.text);
    if (m) out.push({ line: pending.line, keyword: (m[1] as string).toUpperCase(), rest: m[2] as string });
    pending = undefined;
  });
  return out;
}

const fail = (at: Instruction | undefined, why: string): never => {
  throw new DockerfileShapeError(
    `Dockerfile${at ? ` line ${at.line} (${at.keyword} ${at.rest})` : ''}: ${why}. ` +
      'sandbox/image/dockerfile.ts builds the image filesystem from the shapes it knows; teach it this one ' +
      'rather than letting the rootfs differ from the image.',
  );
};

function execForm(at: Instruction): string[] {
  try {
    const v: unknown = JSON.parse(at.rest);
    if (Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === 'string')) return v;
  } catch {
    // falls through to the refusal
  }
  // The shell form would make /bin/sh the container's first process, with other signal handling.
  return fail(at, 'only the exec (JSON array) form is understood');
}

/** `apt-get update && apt-get install … && rm -rf /var/lib/apt/lists/*`, and nothing else. */
function aptInstall(at: Instruction): { packages: string[]; installRecommends: boolean } {
  let packages: string[] | undefined;
  let installRecommends = true;
  for (const command of at.rest.split('&&').map((c) => c.trim().split(/\s+/))) {
    const [tool, verb, ...args] = command;
    if (tool === 'apt-get' && verb === 'update' && args.length === 0) continue;
    if (tool === 'rm' && verb === '-rf' && args.join(' ') === '/var/lib/apt/lists/*') continue;
    if (tool !== 'apt-get' || verb !== 'install' || packages)
      fail(at, `\`${command.join(' ')}\` is not an apt-get install of packages`);
    packages = [];
    for (const arg of args) {
      if (arg === '--no-install-recommends') installRecommends = false;
      else if (['-y', '--yes', '-q', '-qq', '--quiet'].includes(arg)) continue;
      else if (/^[a-z0-9][a-z0-9+.-]*(=[A-Za-z0-9.+:~-]+)?$/.test(arg)) packages.push(arg);
      else fail(at, `apt-get install argument ${arg} is not understood`);
    }
  }
  if (!packages?.length) fail(at, 'a RUN in the runtime stage must install Debian packages');
  return { packages: packages as string[], installRecommends };
}

function envPairs(at: Instruction): Record<string, string> {
  const pairs = at.rest.match(/[A-Za-z_][A-Za-z0-9_]*=("[^"$\\]*"|[^\s"'$\\]*)/g) ?? [];
  if (pairs.join(' ') !== at.rest.trim().replace(/\s+/g, ' ') || pairs.length === 0)
    fail(at, 'only KEY=value pairs without quotes-in-quotes or variables are understood');
  return Object.fromEntries(
    pairs.map((p) => {
      const i = p.indexOf('=');
      return [p.slice(0, i), p.slice(i + 1).replace(/^"(.*)"$/, '$1')];
    }),
  );
}

const SAFE_PATH = /^\/[A-Za-z0-9._/-]*$/;

/** `FROM node:<major>-<debian release>[-slim] [AS name]`: the only base the builder can assemble. */
function nodeBase(at: Instruction) {
  const m = /^node:(\d+)-([a-z]+)(-slim)?(\s+AS\s+\S+)?$/i.exec(at.rest);
  if (!m) return fail(at, 'the base must be an official node:<major>-<debian release>[-slim] image');
  return {
    from: at.rest.split(/\s+/)[0] as string,
    nodeMajor: Number(m[1]),
    suite: m[2] as string,
    slim: m[3] !== undefined,
    stage: m[4]?.trim().split(/\s+/)[1],
  };
}

/**
 * The runtime (last) stage, and that the bundle it copies is the one `npm run build` writes in
 * the build stage — the file sandbox/image/rootfs.ts builds with bin/bundle.mjs.
 */
export function parseDockerfile(text: string): ImageSpec {
  const all = instructions(text);
  const froms = all.flatMap((at, i) => (at.keyword === 'FROM' ? [i] : []));
  if (froms.length !== 2 || froms[0] !== 0)
    fail(all[froms[2] ?? 0], 'expected two stages, a build stage and a runtime stage');
  const build = all.slice(0, froms[1]);
  const runtime = all.slice(froms[1]);
  const builder = nodeBase(build[0] as Instruction);
  const base = nodeBase(runtime[0] as Instruction);
  if (!builder.stage) fail(build[0], 'the build stage needs a name (FROM … AS build)');
  if (!build.some((at) => at.keyword === 'RUN' && at.rest === 'npm run build'))
    fail(build[0], 'the build stage must RUN npm run build, which writes dist/sluice.mjs');
  const buildDir = build.filter((at) => at.keyword === 'WORKDIR').at(-1)?.rest ?? '/';

  let workdir = '/';
  let user: BaseUser | undefined;
  let bundlePath: string | undefined;
  let apt: ReturnType<typeof aptInstall> | undefined;
  const spec: Partial<ImageSpec> = { env: {}, expose: [] };
  for (const at of runtime.slice(1)) {
    switch (at.keyword) {
      case 'ENV':
        Object.assign(spec.env as object, envPairs(at));
        break;
      case 'RUN':
        if (apt) fail(at, 'only one RUN (the apt-get install) is understood in the runtime stage');
        apt = aptInstall(at);
        break;
      case 'WORKDIR':
        if (!SAFE_PATH.test(at.rest)) fail(at, 'WORKDIR must be an absolute path');
        workdir = at.rest;
        break;
      case 'COPY': {
        const m = /^--from=(\S+)\s+(\S+)\s+(\S+)$/.exec(at.rest);
        if (!m || m[1] !== builder.stage || bundlePath)
          fail(at, `only one COPY --from=${builder.stage} <file> <dest> is understood`);
        const [, , source, dest] = m as RegExpExecArray;
        if (source !== `${buildDir.replace(/\/$/, '')}/dist/sluice.mjs`)
          fail(at, `the bundle npm run build writes is ${buildDir}/dist/sluice.mjs`);
        const resolved = (dest as string).startsWith('/')
          ? (dest as string)
          : `${workdir.replace(/\/$/, '')}/${(dest as string).replace(/^\.\//, '')}`;
        bundlePath = resolved.endsWith('/') ? `${resolved}sluice.mjs` : resolved;
        if (!SAFE_PATH.test(bundlePath)) fail(at, 'the destination must be a plain path');
        break;
      }
      case 'USER':
        user = NODE_IMAGE.users.find((u) => u.name === at.rest);
        if (!user) fail(at, `the base image has no user ${at.rest} that the builder knows of`);
        break;
      case 'EXPOSE':
        for (const port of at.rest.split(/\s+/)) {
          if (!/^\d+(\/tcp)?$/.test(port)) fail(at, 'only TCP port numbers are understood');
          spec.expose?.push(Number.parseInt(port, 10));
        }
        break;
      case 'ENTRYPOINT':
        spec.entrypoint = execForm(at);
        break;
      case 'CMD':
        spec.cmd = execForm(at);
        break;
      default:
        fail(at, `${at.keyword} is not understood in the runtime stage`);
    }
  }
  if (!apt) fail(runtime[0], 'the runtime stage installs no packages (git is needed for write-back)');
  if (!bundlePath) fail(runtime[0], 'the runtime stage copies no bundle');
  // Running as root in the image would hide exactly what this exists to find.
  if (!user) fail(runtime[0], 'the runtime stage sets no USER');
  if (!spec.entrypoint) fail(runtime[0], 'the runtime stage has no ENTRYPOINT');
  return {
    from: base.from,
    nodeMajor: base.nodeMajor,
    suite: base.suite,
    slim: base.slim,
    packages: apt?.packages ?? [],
    installRecommends: apt?.installRecommends ?? true,
    env: spec.env ?? {},
    workdir,
    bundlePath: bundlePath as string,
    user: user as BaseUser,
    entrypoint: spec.entrypoint as string[],
    cmd: spec.cmd ?? [],
    expose: spec.expose ?? [],
  };
}
