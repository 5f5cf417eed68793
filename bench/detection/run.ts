// Detection quality, offline and deterministic: the same seeded corpus of releases judged by a
// Flagger-style gate, an Argo-style gate, Sluice's absolute builtins and compareToStable.
//   npx tsx bench/detection/run.ts [seed=20261127] [healthy=1000] [regressions=300]
import { type CorpusOptions, isRegression, KINDS, type Kind, release } from './corpus.ts';
import { argo, compareToStable, flagger, type Gate, type Outcome, sluiceAbsolute } from './gates.ts';

const seed = Number(process.argv[2] ?? 20261127);
const healthyCount = Number(process.argv[3] ?? 1000);
const regressionCount = Number(process.argv[4] ?? 300);
const RPS = [1, 5, 20, 100, 500];
const opts: CorpusOptions = { seed, intervals: 10, intervalSeconds: 60, canaryWeight: 0.5 };
export const COMPARE = {
  errors: { maxIncreasePercent: 25 },
  latencyP99: { maxIncreasePercent: 20 },
  latencyDistribution: { maxShiftPoints: 10 },
  confidence: 0.99,
  minRequests: 100,
};

const gates: Gate[] = [
  flagger(5),
  argo(3),
  sluiceAbsolute(opts.intervalSeconds),
  compareToStable(opts.intervalSeconds, COMPARE),
];

interface Cell {
  n: number;
  rolledBack: number;
  within2: number;
  held: number;
  looks: number[];
}

const started = performance.now();
const cells = new Map<string, Cell>();
for (const rps of RPS) {
  for (const kind of KINDS) {
    const count = isRegression(kind) ? regressionCount : healthyCount;
    const results = gates.map(() => ({ n: 0, rolledBack: 0, within2: 0, held: 0, looks: [] as number[] }));
    for (let i = 0; i < count; i++) {
      const r = release(opts, rps, kind, i);
      gates.forEach((g, gi) => {
        const o: Outcome = g.judge(r);
        const c = results[gi] as Cell;
        c.n++;
        if (o.rolledBackAt !== undefined) {
          c.rolledBack++;
          c.looks.push(o.rolledBackAt);
          if (o.rolledBackAt <= 2) c.within2++;
        }
        if (o.held) c.held++;
      });
    }
    for (const [gi, g] of gates.entries()) cells.set(`${g.name}|${rps}|${kind}`, results[gi] as Cell);
  }
}

const pct = (a: number, n: number) => `${((100 * a) / n).toFixed(1)}%`;
const median = (xs: number[]) => {
  if (xs.length === 0) return '–';
  const s = [...xs].sort((a, b) => a - b);
  return String(s[Math.floor((s.length - 1) / 2)]);
};

console.log(
  `# Detection quality — seed ${seed}; ${healthyCount} healthy and ${regressionCount} regressed releases per row; ` +
    `${opts.intervals} looks of ${opts.intervalSeconds} s; canary weight ${opts.canaryWeight * 100}%\n`,
);
console.log(
  'Regressions: caught (rolled back within the release) / caught within 2 intervals / median intervals to detect.',
);
console.log('Healthy: false rollbacks (and, for Sluice, releases held for a person: paused or undecided).\n');
const header = ['rps', 'release', ...gates.map((g) => g.name)];
console.log(`| ${header.join(' | ')} |`);
console.log(`| ${header.map(() => '---').join(' | ')} |`);
for (const rps of RPS) {
  for (const kind of KINDS as readonly Kind[]) {
    const row = gates.map((g) => {
      const c = cells.get(`${g.name}|${rps}|${kind}`) as Cell;
      const heldNote = g.name.startsWith('Sluice') && c.held ? ` (held ${pct(c.held, c.n)})` : '';
      return isRegression(kind)
        ? `${pct(c.rolledBack, c.n)} / ${pct(c.within2, c.n)} / ${median(c.looks)}`
        : `${pct(c.rolledBack, c.n)}${heldNote}`;
    });
    console.log(`| ${rps} | ${kind} | ${row.join(' | ')} |`);
  }
}
console.log(`\n${((performance.now() - started) / 1000).toFixed(1)} s`);
