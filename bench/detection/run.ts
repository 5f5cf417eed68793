// Detection quality, offline and deterministic: the same seeded corpus of releases judged by a
// Flagger-style gate, an Argo-style gate, Sluice's absolute builtins, compareToStable, and an
// oracle that knows what no gate can (the stable's true rates and the onset).
//   npx tsx bench/detection/run.ts [corpus=a|b] [healthy=1000] [regressions=300]
// Corpus a is the one the gates were tuned on; b was made after, with another seed and shape.
import { CORPUS_A, CORPUS_B, isRegression, KINDS, type Kind, release } from './corpus.ts';
import { argo, compareToStable, flagger, type Gate, type Outcome, sluiceAbsolute } from './gates.ts';
import { oracle } from './oracle.ts';

const corpusName = process.argv[2] ?? 'a';
const shape = { a: CORPUS_A, b: CORPUS_B }[corpusName];
if (!shape) throw new Error(`unknown corpus ${corpusName}: a or b`);
const healthyCount = Number(process.argv[3] ?? 1000);
const regressionCount = Number(process.argv[4] ?? 300);
const RPS = [1, 5, 20, 100, 500];
export const COMPARE = {
  errors: { maxIncreasePercent: 25 },
  latencyP99: { maxIncreasePercent: 20 },
  latencyDistribution: { maxShiftPoints: 10 },
  confidence: 0.99,
  minRequests: 100,
};
// The oracle counts canary requests slower than (1 + the p99 allowance) × the stable's true p99.
const opts = {
  ...shape,
  oracleLatencyFactors: [1 + COMPARE.latencyP99.maxIncreasePercent / 100],
};

const gates: Gate[] = [
  flagger(5),
  argo(3),
  sluiceAbsolute(opts.intervalSeconds),
  compareToStable(opts.intervalSeconds, COMPARE),
];
const oracleConfig = {
  alpha: 1 - COMPARE.confidence,
  errorIncreasePercent: COMPARE.errors.maxIncreasePercent,
  latencyFactorIndex: 0,
};
const oracleFor = (kind: Kind) =>
  oracle(
    oracleConfig,
    kind.startsWith('errors') ? 'errors' : kind.startsWith('latency') ? 'latency' : 'both',
  );
const ORACLE = oracleFor('healthy').name;

interface Cell {
  n: number;
  rolledBack: number;
  within2: number;
  held: number;
  incidentHeld: number;
  waiting: number;
  /** Intervals from the regression's onset to the rollback. */
  looks: number[];
}

const started = performance.now();
const cells = new Map<string, Cell>();
const names = [...gates.map((g) => g.name), ORACLE];
for (const rps of RPS) {
  for (const kind of KINDS) {
    const count = isRegression(kind) ? regressionCount : healthyCount;
    const judges = [...gates, oracleFor(kind)];
    const results: Cell[] = judges.map(() => ({
      n: 0,
      rolledBack: 0,
      within2: 0,
      held: 0,
      incidentHeld: 0,
      waiting: 0,
      looks: [],
    }));
    for (let i = 0; i < count; i++) {
      const r = release(opts, rps, kind, i);
      judges.forEach((g, gi) => {
        const o: Outcome = g.judge(r);
        const c = results[gi] as Cell;
        c.n++;
        if (o.rolledBackAt !== undefined) {
          c.rolledBack++;
          const after = o.rolledBackAt - r.onset;
          c.looks.push(after);
          if (after <= 2) c.within2++;
        }
        if (o.held) c.held++;
        if (o.incidentHeld) c.incidentHeld++;
        if (o.waiting) c.waiting++;
      });
    }
    for (const [gi, name] of names.entries()) cells.set(`${name}|${rps}|${kind}`, results[gi] as Cell);
  }
}

const pct = (a: number, n: number) => `${((100 * a) / n).toFixed(1)}%`;
const median = (xs: number[]) => {
  if (xs.length === 0) return '–';
  const s = [...xs].sort((a, b) => a - b);
  return String(s[Math.floor((s.length - 1) / 2)]);
};

console.log(
  `# Detection quality — corpus ${corpusName} (seed ${opts.seed}); ${healthyCount} healthy and ${regressionCount} regressed releases per row; ` +
    `${opts.intervals} looks of ${opts.intervalSeconds} s; canary weight ${opts.canaryWeight * 100}%; ` +
    `baseline errors ${opts.baseline[0] * 100}–${opts.baseline[1] * 100}%; incidents ${opts.incident.length.join('–')} looks at ` +
    `${opts.incident.errorRatio[0] * 100}–${opts.incident.errorRatio[1] * 100}%; regressions from look ${opts.onset + 1}\n`,
);
console.log(
  "Regressions: caught (rolled back within the release) / caught within 2 intervals of the onset / median intervals from the onset to detect [caught as a share of the oracle's catches].",
);
console.log(
  'Healthy: false rollbacks (for Sluice: and releases held for a person: paused or undecided; absolute: and releases still holding for a shared incident, or waiting for a passing look after an undecided one, at the end).\n',
);
const header = ['rps', 'release', ...names];
console.log(`| ${header.join(' | ')} |`);
console.log(`| ${header.map(() => '---').join(' | ')} |`);
for (const rps of RPS) {
  for (const kind of KINDS as readonly Kind[]) {
    const best = cells.get(`${ORACLE}|${rps}|${kind}`) as Cell;
    const row = names.map((name) => {
      const c = cells.get(`${name}|${rps}|${kind}`) as Cell;
      if (isRegression(kind)) {
        const share =
          name === ORACLE || best.rolledBack === 0
            ? ''
            : ` [${((100 * c.rolledBack) / best.rolledBack).toFixed(0)}%]`;
        return `${pct(c.rolledBack, c.n)} / ${pct(c.within2, c.n)} / ${median(c.looks)}${share}`;
      }
      const notes = [
        name.startsWith('Sluice') && c.held ? `held ${pct(c.held, c.n)}` : '',
        c.incidentHeld ? `incident hold ${pct(c.incidentHeld, c.n)}` : '',
        c.waiting ? `waiting ${pct(c.waiting, c.n)}` : '',
      ].filter(Boolean);
      return `${pct(c.rolledBack, c.n)}${notes.length ? ` (${notes.join(', ')})` : ''}`;
    });
    console.log(`| ${rps} | ${kind} | ${row.join(' | ')} |`);
  }
}
console.log(`\n${((performance.now() - started) / 1000).toFixed(1)} s`);
