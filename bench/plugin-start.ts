// How long `kubectl sluice` takes to start, as a person or a pipeline feels it: the bundled
// plugin the release ships (one file, Node 24) against the sources through tsx. Each run is a
// fresh process printing its help and exiting; no cluster is involved.
//   npx tsx bench/plugin-start.ts [--runs 20]
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { bundle } from '../bin/bundle.mjs';
import { percentile } from './stats.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' } } });
const runs = Number(values.runs);
const root = new URL('..', import.meta.url).pathname;
const bundled = join(mkdtempSync(join(tmpdir(), 'sluice-plugin-')), 'kubectl-sluice.mjs');
await bundle({ entry: 'kubectl-sluice', outfile: bundled });

/** Wall time (ms) and peak RSS (MB, from GNU time) of one start. */
function once(argv: string[]): { ms: number; rssMb: number } {
  const started = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, ...argv, '--help'], {
    encoding: 'utf8',
  });
  const ms = performance.now() - started;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} --help exited ${r.status}: ${r.stderr}`);
  return { ms, rssMb: Number(r.stderr.trim().split('\n').at(-1)) / 1024 };
}

const report = (label: string, argv: string[]) => {
  once(argv); // warm the file cache: the figure is a start, not a disk read
  const all = Array.from({ length: runs }, () => once(argv));
  const ms = all.map((r) => r.ms);
  const rss = all.map((r) => r.rssMb);
  console.log(
    `| ${label} | ${percentile(ms, 50).toFixed(0)} | ${percentile(ms, 90).toFixed(0)} | ${Math.max(...ms).toFixed(0)} | ${percentile(rss, 50).toFixed(0)} |`,
  );
};

console.log(`Node ${process.version}, ${runs} runs each\n`);
console.log('| plugin | p50 ms | p90 ms | max ms | RSS MB |\n| --- | --- | --- | --- | --- |');
report('bundle (release kubectl-sluice.mjs)', [bundled]);
report('sources through tsx (bin/kubectl-sluice.js)', [join(root, 'bin/kubectl-sluice.js')]);
