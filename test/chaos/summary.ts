// Prints the figures chaos scenarios appended to .sandbox/logs/chaos-figures.jsonl as Markdown
// tables, for test/RELIABILITY.md: `npx tsx test/chaos/summary.ts [file] [--since ISO-time]`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PATHS } from '../../sandbox/config.ts';

interface Line {
  scenario: string;
  profile: string;
  seed: number;
  at: string;
  breaches: unknown[];
  [key: string]: unknown;
}

const args = process.argv.slice(2);
const sinceAt = args.indexOf('--since');
const since = sinceAt >= 0 ? Date.parse(args[sinceAt + 1] ?? '') : 0;
const file =
  args.find((a, i) => !a.startsWith('--') && i !== sinceAt + 1) ?? join(PATHS.logs, 'chaos-figures.jsonl');
const lines = readFileSync(file, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as Line)
  .filter((l) => Date.parse(l.at) >= since);

const s = (ms: unknown) => (typeof ms === 'number' ? `${(ms / 1000).toFixed(1)} s` : '–');
const stats = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
  return `min ${s(sorted[0])}, median ${s(q(0.5))}, max ${s(sorted.at(-1))}`;
};

const rows = lines.map((l) => {
  const figures = Object.entries(l)
    .filter(
      ([k]) => !['scenario', 'profile', 'seed', 'at', 'breaches', 'lifetimesMs', 'takeoversMs'].includes(k),
    )
    .map(([k, v]) => `${k} ${/Ms$/.test(k) ? s(v) : Array.isArray(v) ? JSON.stringify(v) : v}`);
  if (Array.isArray(l.lifetimesMs)) figures.push(`controller lifetimes ${stats(l.lifetimesMs as number[])}`);
  if (Array.isArray(l.takeoversMs)) figures.push(`takeovers ${stats(l.takeoversMs as number[])}`);
  return `| ${l.scenario} | ${l.profile} | ${l.seed} | ${l.at} | ${figures.join('; ')} | ${l.breaches.length} |`;
});
process.stdout.write(
  [
    '| scenario | profile | seed | finished | figures | breaches |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n'),
);
for (const l of lines) {
  for (const b of l.breaches) process.stdout.write(`- ${l.scenario}: ${JSON.stringify(b)}\n`);
}
