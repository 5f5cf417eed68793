// How long one write-back takes at the git edge: clone the branch, find the Rollout among many
// YAML files, edit, commit, push — against git's own http-backend with basic auth on loopback,
// so it is git's cost plus ours, without network latency. Also the rebase path: the branch
// moves between clone and push.
// Usage: npx tsx bench/write-back.ts [files=200] [runs=5]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { revertTemplate } from '../controller/write-back/edit.ts';
import { pushEdit } from '../controller/write-back/git.ts';
import { canaryApp } from '../sandbox/apps.ts';
import { commitFiles, createBareRepo } from '../sandbox/git/repo.ts';
import { startGitServer } from '../sandbox/git/server.ts';

const files = Number(process.argv[2] ?? 200);
const runs = Number(process.argv[3] ?? 5);
const AUTH = { username: 'bench', password: 'bench-token' };

const app = (name: string, image: string) =>
  `${canaryApp('shop', { name, image })
    .map((o) => stringify(o))
    .join('---\n')}`;

const root = mkdtempSync(join(tmpdir(), 'sluice-bench-wb-'));
const server = await startGitServer({ root, auth: AUTH });
const url = server.repoUrl('deploy');
const pushUrl = url.replace('http://', `http://${AUTH.username}:${AUTH.password}@`);
createBareRepo(root, 'deploy');
const tree: Record<string, string> = {};
for (let i = 0; i < files; i++) tree[`apps/app-${i}.yaml`] = app(`app-${i}`, `shop/app-${i}:1`);
await commitFiles(pushUrl, tree, 'seed');

const change = (from: number, to: number) => [
  { path: ['spec', 'containers', 0, 'image'], stable: `shop/app-7:${to}`, failed: `shop/app-7:${from}` },
];

async function once(version: number, moveBranch: boolean): Promise<number> {
  await commitFiles(pushUrl, { 'apps/app-7.yaml': app('app-7', `shop/app-7:${version}`) }, `bad v${version}`);
  const started = performance.now();
  const out = await pushEdit({
    url,
    branch: 'main',
    auth: AUTH,
    message: `revert v${version}`,
    timeoutMs: 60_000,
    // The sandbox's git server speaks plain http on loopback.
    transports: ['https', 'http'],
    edit: async (read) => {
      if (moveBranch)
        await commitFiles(pushUrl, { 'README.md': `moved ${version}\n` }, `unrelated ${version}`);
      return revertTemplate(
        (await read('apps')).files,
        { name: 'app-7', namespace: 'shop' },
        change(version, 1),
      );
    },
  });
  if (out.state !== 'Committed') throw new Error(`run ended ${out.state}`);
  return performance.now() - started;
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${s[Math.floor(s.length / 2)]?.toFixed(0)} ms, max ${s.at(-1)?.toFixed(0)} ms`;
};
try {
  const plain: number[] = [];
  const moved: number[] = [];
  for (let i = 0; i < runs; i++) plain.push(await once(100 + i, false));
  for (let i = 0; i < runs; i++) moved.push(await once(200 + i, true));
  console.log(`repository: ${files} YAML files (${files * 4} documents), ${runs} runs each`);
  console.log(`clone + find + edit + commit + push:           ${stats(plain)}`);
  console.log(
    `same, branch moved meanwhile (rebase + retry): ${stats(moved)} (includes the bench's own unrelated push)`,
  );
} finally {
  await server.close();
  rmSync(root, { recursive: true, force: true });
}
