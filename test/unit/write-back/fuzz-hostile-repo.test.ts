import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { revertTemplate } from '../../../controller/write-back/edit.ts';
import { GitTransportError, pushEdit } from '../../../controller/write-back/git.ts';
import { FUZZ_PROFILE, FUZZ_SEED } from '../../support/fuzz.ts';
import {
  hostileFiles,
  hostileGround,
  type TreeSpec,
  WEB_REVERT,
  webRollout,
} from '../../support/hostile-repo.ts';

// The hostile-repository cases of the fuzz suite: random trees (odd names, symlinks to outside
// files, directories and the marker, executable hooks, a config that would be git's global one)
// with a random requested path and branch, through the real confined git and a real git server.
// Whatever the input: no hook or helper runs, nothing outside is read or changed, the outcome
// is Committed, Skipped or Failed with a one-line message, or a retryable transport error, and
// a commit changes only regular YAML files under the requested path.
// Replay a failure with SLUICE_FUZZ_SEED=<seed in the describe name>.
const RUNS = { ci: 12, full: 200 }[FUZZ_PROFILE];
const AUTH = { username: 'fuzz', password: 'tok-fuzz-7a1b' };
const rollout = webRollout;
const change = WEB_REVERT;
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const CONTROL = /[\u0000-\u001f]/;

const oddName = fc.oneof(
  fc.constantFrom(
    'apps',
    'web',
    'rollout.yaml',
    'x.yml',
    '-rf',
    '--upload-pack=x',
    'a b',
    'ü.yaml',
    '*.yaml',
    ':(glob)x',
    'HEAD',
    '..yaml',
    '.hidden.yaml',
  ),
  fc
    .string({ minLength: 1, maxLength: 12 })
    .filter((s) => /^[^/\0]+$/.test(s) && s !== '.' && s !== '..' && s.toLowerCase() !== '.git'),
);
const dir = fc.array(oddName, { minLength: 0, maxLength: 3 }).map((parts) => parts.join('/'));

describe(`hostile repositories: fuzz (profile ${FUZZ_PROFILE}, seed ${FUZZ_SEED})`, {
  timeout: 600_000,
}, () => {
  const ground = hostileGround(AUTH);
  const { root, marker, outside } = ground;
  let n = 0;

  const entry = fc.tuple(
    dir,
    oddName,
    fc.oneof(
      fc.constant(rollout('shop/web:2')),
      fc.string({ maxLength: 200 }),
      fc.constantFrom(
        `->${outside}`,
        `->${root}`,
        '->../../..',
        '->/etc/passwd',
        `->${marker}`,
        '->apps/web',
        '->.',
      ),
    ),
    fc.boolean(),
  );
  const tree = fc
    .tuple(
      fc.array(entry, { maxLength: 8 }),
      fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, fc.constant(false)),
    )
    .map(([entries, withRollout]) => {
      const files: TreeSpec = { ...hostileFiles(marker) };
      if (withRollout) files['apps/web/rollout.yaml'] = rollout('shop/web:2');
      for (const [d, name, content, exec] of entries) {
        const path = d ? `${d}/${name}` : name;
        // One entry per path, and never a file where a directory of another entry must go.
        if (
          Object.keys(files).some(
            (p) => p.startsWith(`${path}/`) || path.startsWith(`${p.replace(/\+x$/, '')}/`),
          )
        )
          continue;
        files[exec && !content.startsWith('->') ? `${path}+x` : path] = content;
      }
      return files;
    });
  // Weighted towards the path and branch that exist, so commits are fuzzed as well as refusals.
  const requested = fc.oneof(
    { weight: 3, arbitrary: fc.constant('apps/web') },
    fc.constantFrom('apps/web', '', 'apps', '../..', '/etc', 'apps/../..', ':(top)', '*', '.git'),
    dir,
  );
  const branch = fc.oneof(
    { weight: 4, arbitrary: fc.constant('main') },
    fc.constantFrom(
      `--upload-pack=touch ${marker}`,
      'main..x',
      'a b',
      '@{-1}',
      'refs/heads/main',
      '-',
      'main.lock',
      '',
    ),
    fc.string({ maxLength: 20 }),
  );

  it('no input runs code, reaches outside, or changes anything but the YAML it read', async () => {
    const before = readFileSync(outside, 'utf8');
    const outcomes: Record<string, number> = {};
    await fc.assert(
      fc.asyncProperty(tree, requested, branch, async (files, path, ref) => {
        const name = `r${++n}`;
        let bare: string;
        try {
          bare = ground.seed(name, files);
        } catch {
          return; // a tree git itself will not store (an odd name on this filesystem): nothing to test
        }
        const tip = () => execFileSync('git', ['-C', bare, 'rev-parse', 'main'], { encoding: 'utf8' }).trim();
        const start = tip();
        let out: Awaited<ReturnType<typeof pushEdit>> | undefined;
        try {
          out = await pushEdit({
            url: ground.server.repoUrl(name),
            ...(ref === '' ? {} : { branch: ref }),
            auth: AUTH,
            transports: ['https', 'http'],
            message: 'fuzz\n',
            timeoutMs: 30_000,
            edit: async (read) =>
              revertTemplate((await read(path)).files, { name: 'web', namespace: 'shop' }, [change]),
          });
        } catch (err) {
          // A branch that does not exist on the remote is a transport failure, retried later.
          expect(err).toBeInstanceOf(GitTransportError);
          expect(CONTROL.test((err as Error).message)).toBe(false);
        }
        expect(existsSync(marker)).toBe(false);
        expect(readFileSync(outside, 'utf8')).toBe(before);
        if (out?.state === 'Failed') expect(CONTROL.test(out.message)).toBe(false);
        outcomes[out?.state ?? 'TransportError'] = (outcomes[out?.state ?? 'TransportError'] ?? 0) + 1;
        if (out?.state === 'Committed') {
          const changed = execFileSync('git', ['-C', bare, 'diff', '--name-only', '-z', start, tip()], {
            encoding: 'utf8',
          })
            .split('\0')
            .filter(Boolean);
          expect(changed).toEqual(out.files);
          for (const file of changed) {
            expect(file === path || path === '' || file.startsWith(`${path}/`)).toBe(true);
            expect(
              execFileSync('git', ['-C', bare, 'ls-tree', 'main', '--', file], { encoding: 'utf8' }),
            ).toMatch(/^100(644|755) blob /);
          }
        } else expect(tip()).toBe(start);
        rmSync(bare, { recursive: true, force: true });
      }),
      { seed: FUZZ_SEED, numRuns: RUNS },
    );
    console.log(`fuzz hostile repositories: ${JSON.stringify(outcomes)}`);
  });
});
