/**
 * The result chart as a hand-written SVG (no charting dependency): two panels, relayed
 * tokens/s and added p99 TTFT vs direct, both against concurrency, one line per target. Both
 * axes are logarithmic (concurrency doubles by 4x steps; LiteLLM and thinkgate differ by an
 * order of magnitude). Added latency at or below 0.01 ms (including negative noise) is drawn at
 * 0.01 ms with a hollow marker. A level where every request of a target failed has no point.
 */
import type { TargetFigures } from './figures.js';
import type { BenchResult } from './report.js';

const COLORS: Record<string, string> = {
  direct: '#555555',
  minimal: '#9467bd',
  thinkgate: '#1f77b4',
  'thinkgate-forcing': '#2ca02c',
  litellm: '#d62728',
};
const FLOOR = 0.01;

interface Panel {
  title: string;
  unit: string;
  value: (f: TargetFigures) => number | null;
  skip?: string;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function fmtTick(v: number): string {
  if (v >= 1e6) return `${v / 1e6}M`;
  if (v >= 1e3) return `${v / 1e3}k`;
  return String(v);
}

function panel(x0: number, y0: number, w: number, h: number, p: Panel, levels: TargetFigures[][], targets: string[]): string {
  const cs = levels.map((l) => l[0]?.concurrency ?? 1);
  // A target whose every request failed at a level has no figure there (not a zero).
  const pts = levels.flat().filter((f) => f.target !== p.skip && f.ok > 0);
  const vals = pts.map((f) => p.value(f)).filter((v): v is number => v !== null && Number.isFinite(v));
  const lo = Math.floor(Math.log10(Math.max(FLOOR, Math.min(...vals.map((v) => Math.max(v, FLOOR)), 1))));
  const hi = Math.ceil(Math.log10(Math.max(...vals, 10 ** (lo + 1))));
  const cmin = Math.log2(Math.min(...cs));
  const cmax = Math.max(Math.log2(Math.max(...cs)), cmin + 1);
  const px = (c: number): number => x0 + ((Math.log2(c) - cmin) / (cmax - cmin)) * w;
  const py = (v: number): number => y0 + h - ((Math.log10(Math.max(v, FLOOR)) - lo) / (hi - lo)) * h;
  const s: string[] = [];
  s.push(`<text x="${x0 + w / 2}" y="${y0 - 14}" text-anchor="middle" font-size="14" font-weight="bold">${esc(p.title)}</text>`);
  s.push(`<rect x="${x0}" y="${y0}" width="${w}" height="${h}" fill="none" stroke="#999"/>`);
  for (let e = lo; e <= hi; e++) {
    const y = py(10 ** e);
    s.push(`<line x1="${x0}" y1="${y}" x2="${x0 + w}" y2="${y}" stroke="#e5e5e5"/>`);
    s.push(`<text x="${x0 - 6}" y="${y + 4}" text-anchor="end" font-size="11">${fmtTick(10 ** e)}</text>`);
  }
  for (const c of cs) {
    const x = px(c);
    s.push(`<line x1="${x}" y1="${y0}" x2="${x}" y2="${y0 + h}" stroke="#f0f0f0"/>`);
    s.push(`<text x="${x}" y="${y0 + h + 16}" text-anchor="middle" font-size="11">${c}</text>`);
  }
  s.push(`<text x="${x0 + w / 2}" y="${y0 + h + 34}" text-anchor="middle" font-size="12">concurrent streams</text>`);
  s.push(`<text transform="translate(${x0 - 46},${y0 + h / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(p.unit)}</text>`);
  for (const t of targets) {
    if (t === p.skip) continue;
    const line = levels
      .map((l) => l.find((f) => f.target === t))
      .filter((f): f is TargetFigures => f !== undefined && f.ok > 0)
      .map((f) => ({ c: f.concurrency, v: p.value(f) }))
      .filter((q): q is { c: number; v: number } => q.v !== null && Number.isFinite(q.v));
    if (!line.length) continue;
    const color = COLORS[t] ?? '#000';
    s.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${line.map((q) => `${px(q.c).toFixed(1)},${py(q.v).toFixed(1)}`).join(' ')}"/>`);
    for (const q of line) {
      const hollow = q.v <= FLOOR;
      s.push(
        `<circle cx="${px(q.c).toFixed(1)}" cy="${py(q.v).toFixed(1)}" r="3.5" fill="${hollow ? '#fff' : color}" stroke="${color}"><title>${esc(`${t} @ ${q.c}: ${q.v.toFixed(3)} ${p.unit}`)}</title></circle>`,
      );
    }
  }
  return s.join('\n');
}

export function renderChart(r: BenchResult): string {
  const W = 960;
  const H = 420;
  const targets = [...new Set(r.levels.flat().map((f) => f.target))];
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">`);
  parts.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  const m = r.machine;
  parts.push(
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="13">${esc(`thinkgate bench ${r.startedAt.slice(0, 10)}: ${m.cpus} cores, Node ${m.node}, simulator ${r.settings.sim.tokenDelayMs === 0 ? 'fast mode' : `${r.settings.sim.tokenDelayMs} ms/token`}`)}</text>`,
  );
  parts.push(
    panel(80, 60, 340, 270, { title: 'Relayed tokens per second', unit: 'tokens/s', value: (f) => f.tokPerS }, r.levels, targets),
  );
  parts.push(
    panel(
      580,
      60,
      340,
      270,
      { title: 'Added p99 time to first token vs direct', unit: 'ms', value: (f) => f.addedTtftMs?.p99 ?? null, skip: 'direct' },
      r.levels,
      targets,
    ),
  );
  let lx = 80;
  for (const t of targets) {
    const color = COLORS[t] ?? '#000';
    parts.push(`<line x1="${lx}" y1="${H - 22}" x2="${lx + 24}" y2="${H - 22}" stroke="${color}" stroke-width="3"/>`);
    parts.push(`<text x="${lx + 30}" y="${H - 18}" font-size="12">${esc(t)}</text>`);
    lx += 40 + t.length * 8;
  }
  parts.push(`<text x="${W - 10}" y="${H - 18}" text-anchor="end" font-size="10" fill="#777">log scales; hollow: added latency &lt;= 0.01 ms</text>`);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
