// The git side of a write-back: clone the branch into a temporary directory, let the caller
// edit, commit, push. A push refused as non-fast-forward is rebased on the new tip and retried;
// a rebase conflict means no push. Credentials travel as an HTTP header in git's environment
// (GIT_CONFIG_*), never in a URL, an argument or a file, and every message is redacted.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { type SimpleGit, simpleGit } from 'simple-git';
import type { SourceFile } from './edit.ts';
import { basicToken, displayUrl, type GitAuth, redact, secretForms } from './redact.ts';

export const SLUICE_AUTHOR = { name: 'Sluice', email: 'sluice@sluice.dev' };

export type EditOutcome = { ok: true; files: SourceFile[] } | { ok: false; reason: string; message: string };

export interface PushRequest {
  url: string;
  /** Undefined: the remote's default branch. */
  branch?: string;
  auth?: GitAuth;
  /** Given the checked-out tree, the files to write (paths relative to the repository root). */
  edit(root: string): Promise<EditOutcome>;
  message: string;
  author?: { name: string; email: string };
  /** Bound on the whole operation. */
  timeoutMs?: number;
  /** Pushes tried before giving up on a branch that keeps moving. Default 3. */
  attempts?: number;
}

export type PushOutcome =
  | { state: 'Committed'; commit: string; branch: string; files: string[] }
  | { state: 'Skipped'; branch: string; message: string }
  | { state: 'Failed'; reason: string; message: string };

/** A failure worth retrying later (network, auth, timeout); the message is already redacted. */
export class GitTransportError extends Error {}

const GIT_ENV = [
  'GIT_CONFIG_COUNT',
  'GIT_CONFIG_KEY_0',
  'GIT_CONFIG_VALUE_0',
  'GIT_TERMINAL_PROMPT',
  'GIT_CONFIG_NOSYSTEM',
];

export async function pushEdit(req: PushRequest): Promise<PushOutcome> {
  const secrets = secretForms(req.auth);
  const dir = await mkdtemp(join(tmpdir(), 'sluice-writeback-'));
  const where = displayUrl(req.url);
  try {
    const git = client(dir, req);
    await git.init().addRemote('origin', req.url);
    const branch = req.branch ?? (await defaultBranch(git));
    await git.fetch('origin', branch);
    await git.checkout(['-B', branch, 'FETCH_HEAD']);
    const edit = await req.edit(dir);
    if (!edit.ok) return { state: 'Failed', reason: edit.reason, message: edit.message };
    if (edit.files.length === 0)
      return { state: 'Skipped', branch, message: `${where} ${branch} already holds the stable version` };
    for (const f of edit.files) await writeFile(join(dir, f.path), f.text);
    const author = req.author ?? SLUICE_AUTHOR;
    await git.addConfig('user.name', author.name).addConfig('user.email', author.email);
    await git.add(edit.files.map((f) => f.path));
    await git.commit(req.message);
    for (let attempt = 1; ; attempt++) {
      try {
        await git.push('origin', `HEAD:refs/heads/${branch}`);
        const commit = (await git.revparse(['HEAD'])).trim();
        return { state: 'Committed', commit, branch, files: edit.files.map((f) => f.path) };
      } catch (err) {
        if (!isNonFastForward(err) || attempt >= (req.attempts ?? 3)) throw err;
      }
      await git.fetch('origin', branch);
      try {
        await git.rebase(['FETCH_HEAD']);
      } catch {
        await git.rebase(['--abort']).catch(() => undefined);
        return {
          state: 'Failed',
          reason: 'Conflict',
          message: `${where} ${branch} moved and the revert conflicts with the new commits`,
        };
      }
      const ahead = Number((await git.raw(['rev-list', '--count', 'FETCH_HEAD..HEAD'])).trim());
      if (ahead === 0)
        return { state: 'Skipped', branch, message: `${where} ${branch} already holds the stable version` };
    }
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    throw new GitTransportError(
      redact(`git ${where}: ${text.trim().split('\n').slice(-3).join(' ')}`, secrets),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function client(dir: string, req: PushRequest): SimpleGit {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    // A private HOME: no user config, credential helper or askpass of the host leaks in.
    HOME: dir,
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
  };
  if (req.auth) {
    env.GIT_CONFIG_COUNT = '1';
    env.GIT_CONFIG_KEY_0 = 'http.extraHeader';
    env.GIT_CONFIG_VALUE_0 =
      'bearerToken' in req.auth
        ? `Authorization: Bearer ${req.auth.bearerToken}`
        : `Authorization: Basic ${basicToken(req.auth)}`;
  }
  return simpleGit({
    baseDir: dir,
    allowEnvironment: GIT_ENV,
    unsafe: { allowUnsafeConfigEnvCount: true },
    timeout: { block: req.timeoutMs ?? 60_000 },
    ...(req.timeoutMs ? { abort: AbortSignal.timeout(req.timeoutMs) } : {}),
  }).env(env);
}

async function defaultBranch(git: SimpleGit): Promise<string> {
  const out = await git.raw(['ls-remote', '--symref', 'origin', 'HEAD']);
  const match = /^ref: refs\/heads\/(\S+)\s+HEAD/m.exec(out);
  if (!match?.[1]) throw new Error('the remote names no default branch (HEAD)');
  return match[1];
}

const isNonFastForward = (err: unknown) =>
  /non-fast-forward|fetch first|\[rejected\]|failed to push some refs/i.test(String((err as Error)?.message));

/** The YAML files under `path` (a directory or one file) of a checked-out tree. */
export async function readYamlFiles(root: string, path: string): Promise<SourceFile[]> {
  const start = join(root, path);
  const out: SourceFile[] = [];
  const visit = async (at: string): Promise<void> => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(at, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOTDIR') return;
      out.push({ path: relative(root, at).split(sep).join('/'), text: await readFile(at, 'utf8') });
      return;
    }
    for (const e of entries) {
      if (e.name === '.git') continue;
      const full = join(at, e.name);
      if (e.isDirectory()) await visit(full);
      else if (/\.ya?ml$/i.test(e.name))
        out.push({ path: relative(root, full).split(sep).join('/'), text: await readFile(full, 'utf8') });
    }
  };
  await visit(start);
  return out.sort((a, b) => a.path.localeCompare(b.path));
}
