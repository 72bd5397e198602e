/** summary.md: the per-setting table and the s1 metrics per sweep line, for a PR or a notebook. */
import type { Summary } from './metrics.js';

const pct = (x: number | null): string => (x === null ? '-' : `${(x * 100).toFixed(1)}%`);
const num = (x: number | null, d = 1): string => (x === null ? '-' : x.toFixed(d));

export interface ReportMeta {
  model: string;
  endpoint: string;
  dataset: string;
  grader: string;
  samples: number;
  items: number;
  note?: string;
}

export function renderMarkdown(s: Summary, meta: ReportMeta): string {
  const out: string[] = [];
  out.push(`# thinkgate sweep: ${meta.model}`, '');
  if (meta.note) out.push(`> ${meta.note}`, '');
  out.push(
    `Endpoint \`${meta.endpoint}\`, dataset \`${meta.dataset}\` (${meta.items} items), grader \`${meta.grader}\`, ` +
      `${meta.samples} sample(s) per item${meta.samples > 1 ? ' with majority vote' : ''}.`,
    '',
    '| setting | accuracy | mean thinking tokens | mean extensions | control | errors |',
    '|---|---:|---:|---:|---:|---:|',
  );
  for (const r of s.settings) {
    out.push(`| \`${r.setting}\` | ${pct(r.accuracy)} | ${num(r.mean_thinking_tokens)} | ${num(r.mean_extensions, 2)} | ${pct(r.control)} | ${r.errors} |`);
  }
  out.push(
    '',
    'Metrics as defined in the s1 paper, section 3.2: Control = share of runs inside the requested max ' +
      'thinking budget; Scaling = mean pairwise slope of accuracy over mean thinking tokens ' +
      '(accuracy points per 1,000 thinking tokens); Performance = best accuracy.',
    '',
    '| sweep | control | scaling | performance |',
    '|---|---:|---:|---:|',
  );
  for (const l of s.lines) out.push(`| ${l.label} | ${pct(l.control)} | ${num(l.scaling, 2)} | ${pct(l.performance)} |`);
  out.push(`| **all settings** | ${pct(s.overall.control)} | ${num(s.overall.scaling, 2)} | ${pct(s.overall.performance)} |`, '');
  return out.join('\n');
}
