// Reading the YAML under a path of a fetched commit, from git's objects rather than a checkout:
// every path is one git itself listed inside the tree, so nothing can point outside it. Symbolic
// links and submodules are listed but never followed, and the number and size of files read are
// capped before a byte of them is read (ls-tree -l gives sizes), each cap with its own message.
import type { SourceFile } from './edit.ts';
import { type Git, GitOutputTooLarge, printable } from './git-run.ts';

export interface TreeLimits {
  /** YAML files read under the path. */
  maxFiles: number;
  /** Bytes of one YAML file. */
  maxFileBytes: number;
  /** Bytes of all YAML files together. */
  maxTotalBytes: number;
  /** Bytes of git's listing of the tree (all files, not only YAML). */
  maxListingBytes: number;
}

export const DEFAULT_TREE_LIMITS: TreeLimits = {
  maxFiles: 500,
  maxFileBytes: 1024 * 1024,
  maxTotalBytes: 16 * 1024 * 1024,
  maxListingBytes: 8 * 1024 * 1024,
};

export interface TreeRead {
  /** Paths relative to the repository root. */
  files: SourceFile[];
  /** YAML-named entries that are symbolic links: not followed, not read. */
  skippedLinks: string[];
  /** Git file mode of each file read, kept when it is written back. */
  modes: Map<string, string>;
}

export type YamlReader = (path: string) => Promise<TreeRead>;

/** The tree cannot be read as asked; the message names the rule. Not retried. */
export class TreeRefusal extends Error {
  constructor(
    message: string,
    readonly reason: 'NotFound' | 'Refused' | 'TooLarge' = 'Refused',
  ) {
    super(message);
  }
}

interface Entry {
  mode: string;
  type: string;
  oid: string;
  size: number;
  path: string;
}

const REGULAR = new Set(['100644', '100755']);
const LINK = '120000';
const SUBMODULE = '160000';
const isYaml = (path: string) => /\.ya?ml$/i.test(path);

/** The YAML files under `path` ('' is the root; already checked by policy.checkPath) of commit `base`. */
export async function readTree(
  git: Git,
  base: string,
  path: string,
  limits: Partial<TreeLimits> = {},
): Promise<TreeRead> {
  const lim = { ...DEFAULT_TREE_LIMITS, ...limits };
  const start =
    path === ''
      ? { mode: '040000', type: 'tree', oid: base, size: 0, path: '' }
      : await walk(git, base, path, lim);
  const entries =
    start.type === 'tree'
      ? (await list(git, start.oid, true, lim)).map((e) => ({
          ...e,
          path: start.path ? `${start.path}/${e.path}` : e.path,
        }))
      : [start];
  const yaml = entries.filter((e) => isYaml(e.path));
  const skippedLinks = yaml.filter((e) => e.mode === LINK).map((e) => e.path);
  const regular = yaml.filter((e) => REGULAR.has(e.mode));
  if (regular.length > lim.maxFiles)
    throw new TreeRefusal(
      `${show(path)} holds ${regular.length} YAML files, more than the ${lim.maxFiles} Sluice reads`,
      'TooLarge',
    );
  const big = regular.find((e) => e.size > lim.maxFileBytes);
  if (big)
    throw new TreeRefusal(
      `${printable(big.path)} is ${big.size} bytes, more than the ${lim.maxFileBytes} Sluice reads of one file`,
      'TooLarge',
    );
  const total = regular.reduce((n, e) => n + e.size, 0);
  if (total > lim.maxTotalBytes)
    throw new TreeRefusal(
      `the YAML under ${show(path)} is ${total} bytes, more than the ${lim.maxTotalBytes} Sluice reads`,
      'TooLarge',
    );
  const files: SourceFile[] = [];
  const modes = new Map(regular.map((e) => [e.path, e.mode]));
  for (const e of regular) {
    const text = await git(['cat-file', 'blob', e.oid], { maxOutput: e.size + 1 });
    files.push({ path: e.path, text });
  }
  return { files: files.sort((a, b) => a.path.localeCompare(b.path)), skippedLinks, modes };
}

const show = (path: string) => (path ? printable(path) : 'the repository root');

/** Follows `path` one component at a time, so a link or submodule on the way is named. */
async function walk(git: Git, base: string, path: string, lim: TreeLimits): Promise<Entry> {
  const parts = path.split('/');
  let tree = base;
  let at = '';
  for (const [i, name] of parts.entries()) {
    at = at ? `${at}/${name}` : name;
    const entry = (await list(git, tree, false, lim)).find((e) => e.path === name);
    if (!entry) throw new TreeRefusal(`${printable(at)} does not exist in the repository`, 'NotFound');
    if (entry.mode === LINK)
      throw new TreeRefusal(
        `${printable(at)} is a symbolic link in the repository; Sluice does not follow links`,
      );
    if (entry.mode === SUBMODULE)
      throw new TreeRefusal(`${printable(at)} is a submodule; Sluice does not read submodules`);
    if (i < parts.length - 1 && entry.type !== 'tree')
      throw new TreeRefusal(`${printable(at)} is a file, not a directory`);
    tree = entry.oid;
    if (i === parts.length - 1) return { ...entry, path: at };
  }
  throw new TreeRefusal('empty path');
}

async function list(git: Git, tree: string, recursive: boolean, lim: TreeLimits): Promise<Entry[]> {
  let out: string;
  try {
    out = await git(['ls-tree', '-z', '-l', ...(recursive ? ['-r'] : []), tree], {
      maxOutput: lim.maxListingBytes,
    });
  } catch (err) {
    if (err instanceof GitOutputTooLarge)
      throw new TreeRefusal(
        `the tree is too large to list (more than ${lim.maxListingBytes} bytes of entries)`,
        'TooLarge',
      );
    throw err;
  }
  return out
    .split('\0')
    .filter(Boolean)
    .map((line) => {
      const tab = line.indexOf('\t');
      const [mode = '', type = '', oid = '', size = ''] = line.slice(0, tab).split(/\s+/);
      return { mode, type, oid, size: size === '-' ? 0 : Number(size), path: line.slice(tab + 1) };
    });
}
