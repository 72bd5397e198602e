/**
 * One chart for several sweeps (issue 16, item 4): the budget-forcing curve, the "Wait" curve,
 * and the early-exit, reflection-suppression and majority-vote curves come from different grids
 * (a "Wait" sweep needs a minimum, a budget sweep must not have one), so each runs as its own
 * sweep and this merges their summaries: settings and lines named "<sweep>: ...", one plot, and
 * the tokens saved at each accuracy level by every other sweep's settings against the baseline
 * sweep's curve (savings.ts).
 */
import { isPlain } from './grid.js';
import type { Summary } from './metrics.js';
import { settingsTable, savingsTable } from './report.js';
import { tokensSaved } from './savings.js';

export interface NamedSummary {
  name: string;
  summary: Summary;
}

/** The merged summary; `baseline` names the plain budget-forcing sweep the others are measured against. */
export function compareSummaries(parts: readonly NamedSummary[], baseline: string): Summary {
  const base = parts.find((p) => p.name === baseline);
  if (!base) throw new Error(`compare: no sweep named "${baseline}"`);
  const named = (name: string, key: string): string => `${name}: ${key}`;
  const settings = parts.flatMap((p) => p.summary.settings.map((s) => ({ ...s, setting: named(p.name, s.setting) })));
  const lines = parts.flatMap((p) =>
    p.summary.lines.map((l) => ({ ...l, label: named(p.name, l.label), settings: l.settings.map((k) => named(p.name, k)) })),
  );
  // The other sweeps' own reference points (exit=off, nowait=off, vote=1, ext=0) are plain budget
  // forcing again: measured against the curve they would only repeat it.
  const others = settings.filter((s) => !s.setting.startsWith(`${baseline}: `) && (!isPlain(s.params) || (s.params.extensions ?? 0) > 0));
  const accs = parts.map((p) => p.summary.overall.performance);
  return {
    settings,
    lines,
    overall: { control: base.summary.overall.control, scaling: base.summary.overall.scaling, performance: Math.max(...accs) },
    savings: tokensSaved(
      settings.filter((s) => s.setting.startsWith(`${baseline}: `)),
      others,
    ),
  };
}

/** The comparison's markdown: every setting of every sweep, then the savings against the baseline. */
export function renderComparison(s: Summary, meta: { title: string; baseline: string; note?: string }): string {
  const out = [`# ${meta.title}`, ''];
  if (meta.note) out.push(`> ${meta.note}`, '');
  out.push(
    'Compute tokens = thinking tokens + early-exit probe tokens, summed over every sample of a vote: what one answer cost.',
    '',
    ...settingsTable(s),
    '',
    ...savingsTable(s.savings ?? [], `the \`${meta.baseline}\` sweep (plain budget forcing)`),
  );
  return out.join('\n');
}
