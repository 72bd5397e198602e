/** summary.md: the per-setting table and the s1 metrics per sweep line, for a PR or a notebook. */
import type { Summary } from './metrics.js';
import type { SavingRow } from './savings.js';

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
  /** --aggregate majority: the gateway voted over each setting's `vote=` samples. */
  aggregate?: string;
}

export function renderMarkdown(s: Summary, meta: ReportMeta): string {
  const out: string[] = [];
  out.push(`# thinkgate sweep: ${meta.model}`, '');
  if (meta.note) out.push(`> ${meta.note}`, '');
  out.push(
    `Endpoint \`${meta.endpoint}\`, dataset \`${meta.dataset}\` (${meta.items} items), grader \`${meta.grader}\`, ` +
      `${meta.samples} sample(s) per item${meta.samples > 1 ? ' with majority vote' : ''}` +
      `${meta.aggregate ? `; served ${meta.aggregate} vote over each setting's \`vote=\` samples` : ''}.`,
    '',
    ...settingsTable(s),
  );
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
  if (s.savings !== undefined) out.push(...savingsTable(s.savings, 'the plain budget-forcing settings of this grid'));
  return out.join('\n');
}

/**
 * The per-setting table. "compute tokens" is what an answer cost: thinking plus early-exit probe
 * tokens, summed over every sample (a vote of n costs n samples); "thinking tokens" is the mean
 * per request as the endpoint reports it (a served vote's is already the sum over its samples).
 */
export function settingsTable(s: Pick<Summary, 'settings'>): string[] {
  const out = [
    '| setting | accuracy | mean thinking tokens | probe tokens | compute tokens | early exits | mean extensions | control | errors |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of s.settings) {
    out.push(
      `| \`${r.setting}\` | ${pct(r.accuracy)} | ${num(r.mean_thinking_tokens)} | ${num(r.mean_probe_tokens)} | ${num(r.mean_compute_tokens)} | ` +
        `${pct(r.early_exit_rate)} | ${num(r.mean_extensions, 2)} | ${pct(r.control)} | ${r.errors} |`,
    );
  }
  return out;
}

/** "Tokens saved at each accuracy level" (savings.ts) as a markdown section. */
export function savingsTable(rows: readonly SavingRow[], against: string): string[] {
  const out = [
    '## Tokens saved at each accuracy level',
    '',
    `Each method setting against ${against}: the compute tokens budget forcing spends for the same ` +
      'accuracy (its curve made monotone, linearly interpolated), minus what the method spent. Negative: the method costs more.',
    '',
    '| setting | accuracy | its compute tokens | budget forcing at that accuracy | saved | saved % |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const why = r.note === undefined ? null : r.note === 'below budget curve' ? 'below its range' : "above its best";
    out.push(
      `| \`${r.setting}\` | ${pct(r.accuracy)} | ${num(r.tokens)} | ${why ?? num(r.budget_tokens)} | ${why === null ? num(r.saved) : '-'} | ${why === null ? pct(r.saved_share) : '-'} |`,
    );
  }
  out.push('');
  return out;
}
