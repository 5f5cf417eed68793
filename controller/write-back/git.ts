// The git side of a write-back, without a work tree: fetch the branch tip into a bare repository,
// read the YAML under the Rollout's path straight from git's objects, write the edited blobs,
// build the commit with `commit-tree` (which runs no hook) and push it. A push refused as
// non-fast-forward fetches the new tip and redoes the edit there; an edit that no longer applies
// is a conflict and nothing is pushed. Since nothing is checked out, a hostile repository has no
// file, symlink, attribute, filter or hook that git or Sluice would act on; git-run.ts confines
// git itself. Credentials travel as an HTTP header in git's environment, never in an argument,
// and messages name a category of failure rather than quoting the server.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SourceFile } from './edit.ts';
import {
  checkBranch,
  confinedGit,
  type Git,
  GitCommandError,
  GitOutputTooLarge,
  GitSetupError,
  printable,
  type Transport,
} from './git-run.ts';
import { checkPath, checkUrl } from './policy.ts';
import { displayUrl, type GitAuth, redact, secretForms } from './redact.ts';
import { readTree, type TreeLimits, TreeRefusal, type YamlReader } from './tree.ts';

export { GitSetupError } from './git-run.ts';

export const SLUICE_AUTHOR = { name: 'Sluice', email: 'sluice@sluice.dev' };

export type EditOutcome = { ok: true; files: SourceFile[] } | { ok: false; reason: string; message: string };

export interface PushRequest {
  url: string;
  /** Undefined: the remote's default branch. */
  branch?: string;
  auth?: GitAuth;
  /** Given a reader of the fetched tree, the files to write (paths relative to the repository root). */
  edit(read: YamlReader): Promise<EditOutcome>;
  message: string;
  author?: { name: string; email: string };
  /** Bound on the whole operation. */
  timeoutMs?: number;
  /** Pushes tried before giving up on a branch that keeps moving. Default 3. */
  attempts?: number;
  /** Transports git may use. Default https only. */
  transports?: readonly Transport[];
  limits?: Partial<TreeLimits>;
}

export type PushOutcome =
  | { state: 'Committed'; commit: string; branch: string; files: string[] }
  | { state: 'Skipped'; branch: string; message: string }
  | { state: 'Failed'; reason: string; message: string };

/** A failure worth retrying later (network, auth, timeout). The message names only a category; `detail` is git's redacted words, for the log. */
export class GitTransportError extends Error {
  constructor(
    message: string,
    readonly detail: string,
  ) {
    super(message);
  }
}

export async function pushEdit(req: PushRequest): Promise<PushOutcome> {
  const transports = req.transports ?? ['https'];
  const url = checkUrl(req.url, transports);
  if (!url.ok) return { state: 'Failed', reason: 'Refused', message: url.message };
  const where = displayUrl(url.value);
  let dir: string;
  try {
    dir = await mkdtemp(join(tmpdir(), 'sluice-writeback-'));
  } catch (err) {
    throw new GitSetupError(
      `the controller cannot create a temporary directory in ${tmpdir()} (${(err as NodeJS.ErrnoException).code})`,
    );
  }
  const signal = AbortSignal.timeout(req.timeoutMs ?? 60_000);
  try {
    const git = await confinedGit({
      home: join(dir, 'home'),
      gitDir: join(dir, 'repo.git'),
      transports,
      ...(req.auth ? { auth: req.auth } : {}),
      author: req.author ?? SLUICE_AUTHOR,
      signal,
    });
    const remote = remoteOps(git, url.value);
    const branch = req.branch ?? (await remote.defaultBranch());
    const badBranch = await checkBranch(git, branch);
    if (badBranch) return { state: 'Failed', reason: 'Refused', message: badBranch };
    const skipped = {
      state: 'Skipped' as const,
      branch,
      message: `${where} ${printable(branch)} already holds the stable version`,
    };
    for (let attempt = 1; ; attempt++) {
      const base = await remote.fetch(branch);
      // Only files this reader handed out may be written, with the mode git listed for them.
      const modes = new Map<string, string>();
      const read: YamlReader = async (path) => {
        const p = checkPath(path);
        if (!p.ok) throw new TreeRefusal(p.message);
        const tree = await readTree(git, base, p.value, req.limits);
        for (const [file, mode] of tree.modes) modes.set(file, mode);
        return tree;
      };
      let edit: EditOutcome;
      try {
        edit = await req.edit(read);
      } catch (err) {
        if (err instanceof TreeRefusal) return { state: 'Failed', reason: err.reason, message: err.message };
        throw err;
      }
      if (!edit.ok) {
        // Only the first tip can be "not found"; on a moved branch the edit no longer applying is a conflict.
        if (attempt === 1) return { state: 'Failed', reason: edit.reason, message: edit.message };
        return {
          state: 'Failed',
          reason: 'Conflict',
          message: `${where} ${printable(branch)} moved and the revert conflicts with the new commits (${edit.message})`,
        };
      }
      if (edit.files.length === 0) return skipped;
      const commit = await commitOnto(git, base, edit.files, modes, req.message);
      if (await remote.push(commit, branch))
        return { state: 'Committed', commit, branch, files: edit.files.map((f) => f.path) };
      if (attempt >= (req.attempts ?? 3))
        throw new GitTransportError(
          `git ${where}: ${printable(branch)} kept moving; gave up after ${attempt} pushes`,
          '',
        );
    }
  } catch (err) {
    if (err instanceof GitSetupError || err instanceof GitTransportError) throw err;
    if (err instanceof GitCommandError) throw transportError(err, where, secretForms(req.auth));
    if (err instanceof GitOutputTooLarge) throw new GitTransportError(`git ${where}: ${err.message}`, '');
    if (signal.aborted) throw new GitTransportError(`git ${where}: timed out`, '');
    throw err;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function remoteOps(git: Git, url: string) {
  return {
    async defaultBranch(): Promise<string> {
      const out = await git(['ls-remote', '--symref', '--', url, 'HEAD'], { maxOutput: 64 * 1024 });
      const match = /^ref: refs\/heads\/(\S+)\s+HEAD/m.exec(out);
      if (!match?.[1])
        throw new GitTransportError(`git ${displayUrl(url)}: the remote names no default branch (HEAD)`, '');
      return match[1];
    },
    /** The branch tip, fetched alone: no tags, no history, no submodules. */
    async fetch(branch: string): Promise<string> {
      await git([
        'fetch',
        '--quiet',
        '--no-tags',
        '--no-recurse-submodules',
        '--depth=1',
        '--no-write-fetch-head',
        '--',
        url,
        `+refs/heads/${branch}:refs/sluice/base`,
      ]);
      return (await git(['rev-parse', '--verify', '--quiet', 'refs/sluice/base^{commit}'])).trim();
    },
    /** True when pushed; false when the branch moved (non-fast-forward). */
    async push(commit: string, branch: string): Promise<boolean> {
      try {
        await git([
          'push',
          '--quiet',
          '--no-verify',
          '--porcelain',
          '--',
          url,
          `${commit}:refs/heads/${branch}`,
        ]);
        return true;
      } catch (err) {
        if (err instanceof GitCommandError && isNonFastForward(`${err.stdout}\n${err.stderr}`)) return false;
        throw err;
      }
    },
  };
}

/** A commit on `base` whose tree differs in exactly the given files; no work tree, no hooks. */
async function commitOnto(
  git: Git,
  base: string,
  files: SourceFile[],
  modes: Map<string, string>,
  message: string,
): Promise<string> {
  const indexFile = join(
    await git(['rev-parse', '--absolute-git-dir']).then((s) => s.trim()),
    'sluice-index',
  );
  const env = { GIT_INDEX_FILE: indexFile };
  await git(['read-tree', base], { env });
  for (const f of files) {
    const mode = modes.get(f.path);
    if (!mode)
      throw new Error(`${printable(f.path)} was not read from the fetched tree, so it is not written`);
    const blob = (await git(['hash-object', '-w', '--no-filters', '--stdin'], { input: f.text })).trim();
    await git(['update-index', '--cacheinfo', `${mode},${blob},${f.path}`], { env });
  }
  const tree = (await git(['write-tree'], { env })).trim();
  return (await git(['commit-tree', tree, '-p', base, '-F', '-'], { input: message })).trim();
}

const isNonFastForward = (text: string) => /non-fast-forward|fetch first|\[rejected\]/i.test(text);

/**
 * What went wrong, in words that do not quote the server: git's stderr can carry a remote's
 * banner or tell an open port from a closed one, and status is read by the tenant who chose the
 * URL. The full (redacted) text goes to the controller log through `detail`.
 */
function transportError(err: GitCommandError, where: string, secrets: string[]): GitTransportError {
  const text = err.stderr;
  const detail = redact(text.trim().split('\n').slice(-3).join(' '), secrets);
  let category = 'the repository could not be reached or is not a git repository';
  if (err.timedOut) category = 'timed out';
  else if (
    /HTTP (401|403)|Authentication failed|could not read Username|terminal prompts disabled/i.test(text)
  )
    category = 'the server refused the credentials';
  else if (/transport '.*' not allowed|unsupported protocol/i.test(text))
    category = 'the transport is not allowed';
  else if (/redirect/i.test(text)) category = 'the server answered with a redirect, which is not followed';
  else if (/fsck|bad object|object .* is a .*, not a/i.test(text))
    category = 'the repository sent objects that fail git fsck';
  else if (/couldn't find remote ref|not our ref|invalid refspec/i.test(text))
    category = 'the branch does not exist on the remote';
  return new GitTransportError(`git ${where} (${err.args[0]}): ${category}`, detail);
}
