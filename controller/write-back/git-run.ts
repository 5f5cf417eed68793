// Git as a confined tool. Every git the write-back runs gets its configuration from nothing but
// this file: no system or global config, a HOME outside any tree the remote wrote, hooks pointed
// at /dev/null, only the transports the admin allows, no redirects, fsck on every fetched object.
// The repository is bare and no work tree is ever checked out (see git.ts), so nothing the
// remote sends is a file on disk, a filter, an attribute or a hook that git would act on.
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { GitAuth } from './redact.ts';
import { basicToken } from './redact.ts';

export type Transport = 'https' | 'http';

/** git printed more than the caller's cap; it was stopped. */
export class GitOutputTooLarge extends Error {}

/** The controller cannot run git at all (no binary, no writable temp dir): not worth retrying. */
export class GitSetupError extends Error {}

/** git exited non-zero or was stopped; `stderr` is git's own words, unredacted: never show it raw. */
export class GitCommandError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly stderr: string,
    readonly stdout: string,
    readonly timedOut: boolean,
  ) {
    super(`git ${args[0]} failed`);
  }
}

export interface GitRunnerOptions {
  /** A directory the remote never writes to; HOME and the init template point here. */
  home: string;
  /** The bare repository. */
  gitDir: string;
  transports: readonly Transport[];
  auth?: GitAuth;
  author: { name: string; email: string };
  signal: AbortSignal;
}

export interface RunOptions {
  input?: string;
  /** Bytes of stdout accepted before git is stopped; a cap, not a buffer hint. */
  maxOutput?: number;
  env?: Record<string, string>;
}

export type Git = (args: string[], opts?: RunOptions) => Promise<string>;

/**
 * Configuration that wins over anything else git could read (GIT_CONFIG_* is command-line
 * scope). The bare repository's own config is written by `git init` from an empty template, so
 * these plus git's built-in defaults are all the configuration there is.
 */
export function confinedConfig(
  o: Pick<GitRunnerOptions, 'transports' | 'auth' | 'author'>,
): [string, string][] {
  const config: [string, string][] = [
    ['core.hooksPath', '/dev/null'],
    ['core.fsmonitor', 'false'],
    ['core.attributesFile', '/dev/null'],
    ['core.excludesFile', '/dev/null'],
    ['core.symlinks', 'false'],
    ['core.protectNTFS', 'true'],
    ['core.protectHFS', 'true'],
    ['credential.helper', ''],
    ['protocol.allow', 'never'],
    ...o.transports.map((t): [string, string] => [`protocol.${t}.allow`, 'always']),
    // A redirect would carry the Authorization header to a host nobody allowed.
    ['http.followRedirects', 'false'],
    ['submodule.recurse', 'false'],
    ['fetch.recurseSubmodules', 'false'],
    ['fetch.fsckObjects', 'true'],
    ['transfer.fsckObjects', 'true'],
    ['commit.gpgSign', 'false'],
    ['gc.auto', '0'],
    ['maintenance.auto', 'false'],
    ['init.defaultBranch', 'main'],
    ['user.name', o.author.name],
    ['user.email', o.author.email],
  ];
  if (o.auth)
    config.push([
      'http.extraHeader',
      'bearerToken' in o.auth
        ? `Authorization: Bearer ${o.auth.bearerToken}`
        : `Authorization: Basic ${basicToken(o.auth)}`,
    ]);
  return config;
}

/** The whole environment git sees: nothing is inherited but PATH and the admin's proxy and CA settings. */
export function confinedEnv(o: Pick<GitRunnerOptions, 'home' | 'transports' | 'auth' | 'author'>) {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: o.home,
    XDG_CONFIG_HOME: o.home,
    LC_ALL: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_CONFIG_SYSTEM: '/dev/null',
    GIT_ATTR_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    GIT_NO_REPLACE_OBJECTS: '1',
    // Also enforced by protocol.*.allow; this one covers transports git itself spawns.
    GIT_ALLOW_PROTOCOL: o.transports.join(':'),
    GIT_PROTOCOL_FROM_USER: '0',
  };
  // Set by the admin on the controller's Deployment, never by a tenant.
  for (const key of [
    'HTTPS_PROXY',
    'https_proxy',
    'HTTP_PROXY',
    'http_proxy',
    'NO_PROXY',
    'no_proxy',
    'SSL_CERT_FILE',
    'SSL_CERT_DIR',
  ]) {
    const value = process.env[key];
    if (value) env[key] = value;
  }
  const config = confinedConfig(o);
  env.GIT_CONFIG_COUNT = String(config.length);
  config.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  return env;
}

/** Makes the home and the bare repository, and returns a runner bound to them. */
export async function confinedGit(o: GitRunnerOptions): Promise<Git> {
  const env = confinedEnv(o);
  const git: Git = (args, run = {}) =>
    new Promise((resolve, reject) => {
      const child = execFile(
        'git',
        ['--git-dir', o.gitDir, ...args],
        {
          env: { ...env, ...run.env },
          cwd: o.home,
          signal: o.signal,
          maxBuffer: run.maxOutput ?? 4 * 1024 * 1024,
          encoding: 'utf8',
          windowsHide: true,
        },
        (err, stdout, stderr) => {
          if (!err) return resolve(stdout);
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ENOENT')
            return reject(new GitSetupError('the controller has no git binary on its PATH'));
          if (code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER')
            return reject(new GitOutputTooLarge(`git ${args[0]} printed more than ${run.maxOutput} bytes`));
          reject(new GitCommandError(args, String(stderr), String(stdout), o.signal.aborted));
        },
      );
      child.stdin?.on('error', () => {});
      child.stdin?.end(run.input ?? '');
    });
  try {
    await mkdir(join(o.home, 'template'), { recursive: true });
  } catch (err) {
    throw new GitSetupError(
      `the controller cannot write its temporary directory (${(err as NodeJS.ErrnoException).code})`,
    );
  }
  // An empty template: not even the sample hooks of the host's git are copied in.
  await git(['init', '--bare', '--quiet', `--template=${join(o.home, 'template')}`]);
  return git;
}

/** Git's own rules for a branch name (`git check-ref-format`), plus: it may never read as an option. */
export async function checkBranch(git: Git, branch: string): Promise<string | undefined> {
  if (branch.startsWith('-')) return `branch '${printable(branch)}' starts with '-'`;
  try {
    await git(['check-ref-format', `refs/heads/${branch}`]);
    return undefined;
  } catch (err) {
    if (err instanceof GitCommandError && !err.timedOut)
      return `branch '${printable(branch)}' is not a valid git branch name`;
    throw err;
  }
}

/** Bounded, single-line, control characters shown as `?`: safe to put in a message. */
export const printable = (s: string, max = 120): string => {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing them is the point
  const clean = s.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
};
