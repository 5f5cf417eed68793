// How long `kubectl sluice` takes to start, as a person or a pipeline feels it: the bundled
// plugin the release ships (one file, Node 24), the same file installed by `npm install -g` of
// the release's npm package and run by name from the PATH (through its `#!/usr/bin/env node`),
// and the sources through tsx. Each run is a fresh process printing its help and exiting; no
// cluster is involved.
//   npx tsx bench/plugin-start.ts [--runs 20]
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { bundle } from '../bin/bundle.mjs';
import { installGlobally, packNpm } from '../release/npm.ts';
import { percentile } from './stats.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' } } });
const runs = Number(values.runs);
const root = new URL('..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'sluice-plugin-'));
for (const entry of ['kubectl-sluice', 'sluice'] as const) {
  await bundle({ entry, outfile: join(dir, `${entry}.mjs`), version: '0.0.0-bench' });
  chmodSync(join(dir, `${entry}.mjs`), 0o755);
}
const prefix = join(dir, 'global');
installGlobally(join(dir, packNpm(root, dir, '0.0.0-bench')), prefix);
// The Node a person has on the PATH is the one the installed bin's shebang finds.
const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}` };

/** Wall time (ms) and peak RSS (MB, from GNU time) of one start. */
function once(command: string[]): { ms: number; rssMb: number } {
  const started = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', ...command, '--help'], { encoding: 'utf8', env });
  const ms = performance.now() - started;
  if (r.status !== 0) throw new Error(`${command.join(' ')} --help exited ${r.status}: ${r.stderr}`);
  return { ms, rssMb: Number(r.stderr.trim().split('\n').at(-1)) / 1024 };
}

const report = (label: string, command: string[]) => {
  once(command); // warm the file cache: the figure is a start, not a disk read
  const all = Array.from({ length: runs }, () => once(command));
  const ms = all.map((r) => r.ms);
  const rss = all.map((r) => r.rssMb);
  console.log(
    `| ${label} | ${percentile(ms, 50).toFixed(0)} | ${percentile(ms, 90).toFixed(0)} | ${Math.max(...ms).toFixed(0)} | ${percentile(rss, 50).toFixed(0)} |`,
  );
};

console.log(`Node ${process.version}, ${runs} runs each\n`);
console.log('| plugin | p50 ms | p90 ms | max ms | RSS MB |\n| --- | --- | --- | --- | --- |');
report('bundle (release kubectl-sluice.mjs)', [process.execPath, join(dir, 'kubectl-sluice.mjs')]);
report('npm install -g of the release package (kubectl-sluice on the PATH)', [
  join(prefix, 'bin', 'kubectl-sluice'),
]);
report('sources through tsx (bin/kubectl-sluice.js)', [
  process.execPath,
  join(root, 'bin/kubectl-sluice.js'),
]);
