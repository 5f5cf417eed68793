// An SVG chart of the scale results: one panel per measure, one line per controller, N on the x
// axis. Hand-written SVG so the harness needs no charting package.

export interface Series {
  name: string;
  color: string;
  /** [N, value]; NaN values are left out (not measured). */
  points: [number, number][];
}

export interface Panel {
  title: string;
  unit: string;
  series: Series[];
}

const W = 420;
const H = 260;
const M = { left: 60, right: 16, top: 30, bottom: 40 };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A round upper bound for an axis: 1, 2 or 5 times a power of ten. */
export function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return ([1, 2, 5, 10].find((m) => m * p >= v) ?? 10) * p;
}

function panel(p: Panel, x0: number): string {
  const pts = p.series.flatMap((s) => s.points.filter(([, v]) => Number.isFinite(v)));
  const xs = [...new Set(pts.map(([n]) => n))].sort((a, b) => a - b);
  const xMax = Math.max(1, ...xs);
  const yMax = niceMax(Math.max(0, ...pts.map(([, v]) => v)));
  const px = (n: number) => x0 + M.left + (n / xMax) * (W - M.left - M.right);
  const py = (v: number) => M.top + (1 - v / yMax) * (H - M.top - M.bottom);
  const out: string[] = [];
  out.push(`<text x="${x0 + W / 2}" y="18" text-anchor="middle" font-weight="bold">${esc(p.title)}</text>`);
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    out.push(
      `<line x1="${x0 + M.left}" x2="${x0 + W - M.right}" y1="${py(v)}" y2="${py(v)}" stroke="#ddd"/>`,
      `<text x="${x0 + M.left - 6}" y="${py(v) + 4}" text-anchor="end">${+v.toPrecision(3)}</text>`,
    );
  }
  for (const n of xs) {
    out.push(`<text x="${px(n)}" y="${H - M.bottom + 16}" text-anchor="middle">${n}</text>`);
  }
  out.push(
    `<text x="${x0 + W / 2}" y="${H - 6}" text-anchor="middle">Rollouts (N)</text>`,
    `<text x="${x0 + 14}" y="${H / 2}" text-anchor="middle" transform="rotate(-90 ${x0 + 14} ${H / 2})">${esc(p.unit)}</text>`,
  );
  p.series.forEach((s, i) => {
    const ok = s.points.filter(([, v]) => Number.isFinite(v)).sort((a, b) => a[0] - b[0]);
    if (ok.length > 0) {
      const d = ok.map(([n, v], j) => `${j ? 'L' : 'M'}${px(n).toFixed(1)},${py(v).toFixed(1)}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
      for (const [n, v] of ok)
        out.push(`<circle cx="${px(n).toFixed(1)}" cy="${py(v).toFixed(1)}" r="3" fill="${s.color}"/>`);
    }
    const ly = M.top + 4 + i * 16;
    out.push(
      `<rect x="${x0 + M.left + 8}" y="${ly}" width="10" height="10" fill="${s.color}"/>`,
      `<text x="${x0 + M.left + 22}" y="${ly + 9}">${esc(s.name)}</text>`,
    );
  });
  return out.join('\n');
}

/** Panels side by side in one SVG document. */
export function renderChart(panels: readonly Panel[]): string {
  const body = panels.map((p, i) => panel(p, i * W)).join('\n');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W * panels.length}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    body,
    '</svg>',
    '',
  ].join('\n');
}
