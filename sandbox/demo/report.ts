// The demo's report: one self-contained HTML page with SVG charts of weight, success rate and
// p99 over time, the gates' thresholds and the moments that mattered. Pure: data in, HTML out.

export interface Sample {
  /** Seconds since the demo started. */
  t: number;
  release: string;
  phase: string;
  weight: number;
  successRate?: number;
  p99Ms?: number;
}

export interface Moment {
  t: number;
  label: string;
  /** `git`: something git did — a commit synced by Flux, or Sluice's revert landing. */
  kind: 'release' | 'promoted' | 'rollback' | 'git';
}

export interface ReportInput {
  title: string;
  samples: Sample[];
  moments: Moment[];
  thresholds: { successRateMin: number; p99MaxMs: number };
  summary: string[];
}

const W = 760;
const H = 170;
const PAD = { left: 52, right: 16, top: 14, bottom: 26 };

const esc = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);

interface Series {
  title: string;
  unit: string;
  values: { t: number; v: number | undefined }[];
  min: number;
  max: number;
  threshold?: { value: number; label: string };
  step?: boolean;
}

function chart(series: Series, tMax: number, moments: Moment[]): string {
  const x = (t: number) => PAD.left + (t / Math.max(tMax, 1)) * (W - PAD.left - PAD.right);
  const span = series.max - series.min || 1;
  const y = (v: number) => PAD.top + (1 - (v - series.min) / span) * (H - PAD.top - PAD.bottom);
  const points = series.values.filter(
    (p): p is { t: number; v: number } => p.v !== undefined && Number.isFinite(p.v),
  );
  let d = '';
  points.forEach((p, i) => {
    const py = y(Math.min(series.max, Math.max(series.min, p.v)));
    if (i === 0) d += `M${x(p.t).toFixed(1)},${py.toFixed(1)}`;
    else if (series.step) d += `H${x(p.t).toFixed(1)}V${py.toFixed(1)}`;
    else d += `L${x(p.t).toFixed(1)},${py.toFixed(1)}`;
  });
  const ticks = [series.min, (series.min + series.max) / 2, series.max]
    .map((v) => `<text x="${PAD.left - 6}" y="${y(v) + 4}" text-anchor="end">${+v.toFixed(2)}</text>`)
    .join('');
  const threshold = series.threshold
    ? `<line class="threshold" x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(series.threshold.value)}" y2="${y(series.threshold.value)}"/>` +
      `<text class="threshold" x="${W - PAD.right}" y="${y(series.threshold.value) - 4}" text-anchor="end">${esc(series.threshold.label)}</text>`
    : '';
  const marks = moments
    .map(
      (m) =>
        `<line class="moment ${m.kind}" x1="${x(m.t)}" x2="${x(m.t)}" y1="${PAD.top}" y2="${H - PAD.bottom}"><title>${esc(m.label)}</title></line>`,
    )
    .join('');
  const timeTicks = [0, tMax / 2, tMax]
    .map((t) => `<text x="${x(t)}" y="${H - 8}" text-anchor="middle">${Math.round(t)}s</text>`)
    .join('');
  return `<figure><figcaption>${esc(series.title)} (${esc(series.unit)})</figcaption>
<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(series.title)}">
<rect class="frame" x="${PAD.left}" y="${PAD.top}" width="${W - PAD.left - PAD.right}" height="${H - PAD.top - PAD.bottom}"/>
${ticks}${timeTicks}${threshold}${marks}<path class="line" d="${d}"/></svg></figure>`;
}

export function renderReport(input: ReportInput): string {
  const tMax = Math.max(1, ...input.samples.map((s) => s.t));
  const rates = input.samples.map((s) => s.successRate).filter((v): v is number => v !== undefined);
  const p99s = input.samples.map((s) => s.p99Ms).filter((v): v is number => v !== undefined);
  const charts = [
    chart(
      {
        title: 'Canary weight',
        unit: '% of traffic',
        values: input.samples.map((s) => ({ t: s.t, v: s.weight })),
        min: 0,
        max: 100,
        step: true,
      },
      tMax,
      input.moments,
    ),
    chart(
      {
        title: 'Canary success rate',
        unit: '% non-5xx',
        values: input.samples.map((s) => ({ t: s.t, v: s.successRate })),
        min: Math.min(input.thresholds.successRateMin - 5, ...rates),
        max: 100,
        threshold: {
          value: input.thresholds.successRateMin,
          label: `gate: ≥ ${input.thresholds.successRateMin}%`,
        },
      },
      tMax,
      input.moments,
    ),
    chart(
      {
        title: 'Canary p99 latency',
        unit: 'ms',
        values: input.samples.map((s) => ({ t: s.t, v: s.p99Ms })),
        min: 0,
        max: Math.max(input.thresholds.p99MaxMs * 1.2, ...p99s),
        threshold: { value: input.thresholds.p99MaxMs, label: `gate: ≤ ${input.thresholds.p99MaxMs} ms` },
      },
      tMax,
      input.moments,
    ),
  ];
  const moments = input.moments
    .map((m) => `<li class="${m.kind}"><b>${Math.round(m.t)}s</b> ${esc(m.label)}</li>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(input.title)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:820px;color:#1b1f24}
h1{font-size:1.4rem} figure{margin:1.2rem 0} figcaption{font-weight:600;margin-bottom:.3rem}
svg text{font-size:11px;fill:#57606a} .frame{fill:#f6f8fa;stroke:#d0d7de}
.line{fill:none;stroke:#0969da;stroke-width:2} .threshold{stroke:#cf222e;stroke-dasharray:5 4;fill:#cf222e}
.moment{stroke-width:1.5} .moment.release{stroke:#8c959f} .moment.promoted{stroke:#1a7f37} .moment.rollback{stroke:#cf222e;stroke-width:2.5} .moment.git{stroke:#8250df;stroke-dasharray:2 3}
li.rollback{color:#cf222e} li.promoted{color:#1a7f37} li.git{color:#8250df}
</style></head><body>
<h1>${esc(input.title)}</h1>
<ul>${input.summary.map((l) => `<li>${esc(l)}</li>`).join('')}</ul>
${charts.join('\n')}
<h2>What happened</h2>
<ol>${moments}</ol>
</body></html>
`;
}
