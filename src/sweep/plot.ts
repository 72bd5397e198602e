/**
 * SVG plot of accuracy against mean thinking tokens per question (compute tokens: thinking plus
 * early-exit probes, over all samples of a vote), one polyline per sweep line (the shape of the
 * s1 paper's Figure 1 and Figure 4). Hand-written SVG: no plotting dependency for one chart.
 */
import type { Summary } from './metrics.js';

const W = 760;
const H = 460;
const M = { left: 64, right: 230, top: 40, bottom: 56 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** About `n` round tick values covering [lo, hi] (1-2-5 steps), the last one >= hi. */
export function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) hi = lo + 1;
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((x) => x >= raw) ?? 10 * mag;
  const out: number[] = [];
  // The last tick is at or above hi, so every point lies inside the axis.
  const last = Math.ceil(hi / step - 1e-9) * step;
  for (let v = Math.floor(lo / step) * step; v <= last + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

export function renderSvg(s: Summary, title: string): string {
  const byKey = new Map(s.settings.map((r) => [r.setting, r]));
  const series = s.lines.map((l, i) => ({
    label: l.label,
    color: COLORS[i % COLORS.length]!,
    points: l.settings
      .map((k) => byKey.get(k)!)
      .filter((r) => (r.mean_compute_tokens ?? r.mean_thinking_tokens) !== null)
      // Compute tokens: thinking + probes, all samples (metrics.ts), so every method is charged in full.
      .map((r) => ({ x: (r.mean_compute_tokens ?? r.mean_thinking_tokens)!, y: r.accuracy * 100, label: r.setting })),
  }));
  const xs = series.flatMap((p) => p.points.map((q) => q.x));
  const xTicks = niceTicks(0, xs.length === 0 ? 1 : Math.max(...xs));
  const xMax = xTicks[xTicks.length - 1]!;
  const yTicks = [0, 20, 40, 60, 80, 100];
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const px = (x: number): number => M.left + (x / xMax) * pw;
  const py = (y: number): number => M.top + ph - (y / 100) * ph;
  const f = (v: number): string => v.toFixed(1);
  const o: string[] = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  o.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  o.push(`<text x="${M.left}" y="24" font-size="14" font-weight="bold">${escapeXml(title)}</text>`);
  for (const t of yTicks) {
    o.push(`<line x1="${M.left}" y1="${f(py(t))}" x2="${M.left + pw}" y2="${f(py(t))}" stroke="#e5e5e5"/>`);
    o.push(`<text x="${M.left - 8}" y="${f(py(t) + 4)}" text-anchor="end">${t}</text>`);
  }
  for (const t of xTicks) {
    o.push(`<line x1="${f(px(t))}" y1="${M.top}" x2="${f(px(t))}" y2="${M.top + ph}" stroke="#f0f0f0"/>`);
    o.push(`<text x="${f(px(t))}" y="${M.top + ph + 18}" text-anchor="middle">${t}</text>`);
  }
  o.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  o.push(`<text x="${M.left + pw / 2}" y="${H - 14}" text-anchor="middle">mean thinking tokens per question (incl. probes, all samples)</text>`);
  o.push(`<text transform="translate(18 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">accuracy (%)</text>`);
  series.forEach((sr, i) => {
    const pts = sr.points.map((p) => `${f(px(p.x))},${f(py(p.y))}`).join(' ');
    o.push(`<g class="series" data-label="${escapeXml(sr.label)}">`);
    if (sr.points.length > 1) o.push(`<polyline points="${pts}" fill="none" stroke="${sr.color}" stroke-width="2"/>`);
    for (const p of sr.points) {
      o.push(`<circle cx="${f(px(p.x))}" cy="${f(py(p.y))}" r="4" fill="${sr.color}"><title>${escapeXml(`${p.label}: ${p.y.toFixed(1)}% at ${p.x.toFixed(1)} tokens`)}</title></circle>`);
    }
    o.push('</g>');
    const ly = M.top + 10 + i * 18;
    o.push(`<line x1="${W - M.right + 16}" y1="${ly}" x2="${W - M.right + 36}" y2="${ly}" stroke="${sr.color}" stroke-width="3"/>`);
    o.push(`<text x="${W - M.right + 42}" y="${ly + 4}">${escapeXml(sr.label)}</text>`);
  });
  o.push('</svg>');
  return o.join('\n') + '\n';
}
