/**
 * What the s1 paper reports for a test-time scaling method (Muennighoff et al., "s1: Simple
 * test-time scaling", arXiv:2501.19393, section 3.2 "Metrics"), computed over the settings A of
 * one sweep, where a is the thinking compute of a setting and f(a) its accuracy:
 *   Control     = 1/|A| * sum_a 1(a_min <= a <= a_max): here per run, the share of runs whose
 *                 thinking span stayed inside the requested max budget (runs with no max are not counted).
 *   Scaling     = 1/C(|A|,2) * sum_{a<b} (f(b) - f(a)) / (b - a): the mean pairwise slope of accuracy
 *                 over mean thinking tokens, settings taken in budget order; reported in accuracy
 *                 percentage points per 1,000 thinking tokens. Pairs with equal compute have no slope
 *                 and are left out.
 *   Performance = max_a f(a): the best accuracy.
 */
import {
  DIMENSION_LABEL,
  DIMENSIONS,
  dimensionRank,
  isPlain,
  settingKey,
  showValue,
  type Dimension,
  type Setting,
} from './grid.js';
import { tokensSaved, type SavingRow } from './savings.js';
import type { ItemRecord } from './records.js';

export interface SettingSummary {
  setting: string;
  params: Setting;
  items: number;
  errors: number;
  /** Share of items whose majority-vote answer is correct (errored items count as wrong). */
  accuracy: number;
  /** Mean over items of the per-item mean thinking tokens; null when none were reported. */
  mean_thinking_tokens: number | null;
  /**
   * Mean over items of what each answer cost: thinking plus early-exit probe tokens of ALL its
   * samples (a vote of 4 costs 4 samples). The x axis of the plot and of the savings table, so
   * that methods are compared at their full cost. Null when no thinking tokens were reported.
   */
  mean_compute_tokens: number | null;
  /** Mean over items of the probe tokens (all samples); 0 without early exit. */
  mean_probe_tokens: number;
  /** Share of samples whose thinking early exit closed; null when none probed. */
  early_exit_rate: number | null;
  mean_extensions: number;
  /** Share of sample runs inside the requested max budget; null without a max. */
  control: number | null;
}

export interface SweepLine {
  /** "max sweep (ext=1)" */
  label: string;
  dimension: Dimension | null;
  /** Setting keys in budget order. */
  settings: string[];
  control: number | null;
  scaling: number | null;
  performance: number;
}

export interface Summary {
  settings: SettingSummary[];
  lines: SweepLine[];
  overall: { control: number | null; scaling: number | null; performance: number };
  /**
   * Tokens saved at each accuracy level against plain budget forcing (savings.ts): each setting
   * that uses early exit, reflection suppression or a vote, against the curve of the grid's plain
   * settings. Absent when the grid has no such setting or fewer than two plain ones.
   */
  savings?: SavingRow[];
}

export function summarizeSetting(setting: Setting, records: readonly ItemRecord[]): SettingSummary {
  const tokens = records.map((r) => r.thinking_tokens).filter((t): t is number => t !== null);
  const runs = records.flatMap((r) => r.samples.map((s) => s.within_budget)).filter((w): w is boolean => w !== null);
  const compute = records.map(computeTokens).filter((t): t is number => t !== null);
  const samples = records.flatMap((r) => r.samples);
  const probed = samples.filter((s) => (s.probe_tokens ?? 0) > 0 || s.exited === true);
  return {
    setting: settingKey(setting),
    params: setting,
    items: records.length,
    errors: records.filter((r) => r.error !== undefined).length,
    accuracy: records.length === 0 ? 0 : records.filter((r) => r.correct).length / records.length,
    mean_thinking_tokens: tokens.length === 0 ? null : avg(tokens),
    mean_compute_tokens: compute.length === 0 ? null : avg(compute),
    mean_probe_tokens: records.length === 0 ? 0 : avg(records.map((r) => r.samples.reduce((a, s) => a + (s.probe_tokens ?? 0), 0))),
    early_exit_rate: probed.length === 0 ? null : probed.filter((s) => s.exited === true).length / probed.length,
    mean_extensions: records.length === 0 ? 0 : avg(records.map((r) => r.extensions)),
    control: runs.length === 0 ? null : runs.filter(Boolean).length / runs.length,
  };
}

/** An answer's full cost (records.ts ItemRecord.compute_tokens); older records: thinking x samples. */
export function computeTokens(r: ItemRecord): number | null {
  if (r.compute_tokens !== undefined) return r.compute_tokens;
  return r.thinking_tokens === null ? null : r.thinking_tokens * Math.max(1, r.samples.length);
}

/** Scaling (see the header): percentage points of accuracy per 1,000 thinking tokens. */
export function scaling(points: readonly { tokens: number | null; accuracy: number }[]): number | null {
  const slopes: number[] = [];
  for (let i = 0; i < points.length; i++)
    for (let j = i + 1; j < points.length; j++) {
      const a = points[i]!;
      const b = points[j]!;
      if (a.tokens === null || b.tokens === null || a.tokens === b.tokens) continue;
      slopes.push(((b.accuracy - a.accuracy) * 100 * 1000) / (b.tokens - a.tokens));
    }
  return slopes.length === 0 ? null : avg(slopes);
}

/** Control over several settings: pooled over their runs, weighted by run count. */
function pooledControl(rows: readonly SettingSummary[], runsOf: (s: SettingSummary) => number): number | null {
  let inside = 0;
  let runs = 0;
  for (const r of rows) {
    if (r.control === null) continue;
    const n = runsOf(r);
    inside += r.control * n;
    runs += n;
  }
  return runs === 0 ? null : inside / runs;
}

/**
 * Lines: for each swept dimension, the settings that differ only along it, in budget order
 * (the paper's Figure 1 / Figure 4 curves). With nothing swept, one line of the single setting.
 */
export function buildLines(rows: readonly SettingSummary[], swept: readonly Dimension[], runsOf: (s: SettingSummary) => number): SweepLine[] {
  const line = (label: string, dimension: Dimension | null, members: SettingSummary[]): SweepLine => ({
    label,
    dimension,
    settings: members.map((m) => m.setting),
    control: pooledControl(members, runsOf),
    scaling: scaling(members.map((m) => ({ tokens: m.mean_thinking_tokens, accuracy: m.accuracy }))),
    performance: Math.max(...members.map((m) => m.accuracy)),
  });
  if (swept.length === 0) return rows.length === 0 ? [] : [line('single setting', null, [...rows])];
  const out: SweepLine[] = [];
  for (const d of swept) {
    const others = DIMENSIONS.filter((x) => x !== d && swept.includes(x));
    const groups = new Map<string, SettingSummary[]>();
    for (const r of rows) {
      const k = others.map((x) => `${DIMENSION_LABEL[x]}=${showValue(r.params, x)}`).join(' ');
      groups.set(k, [...(groups.get(k) ?? []), r]);
    }
    for (const [k, members] of groups) {
      members.sort((a, b) => dimensionRank(a.params, d) - dimensionRank(b.params, d));
      out.push(line(`${DIMENSION_LABEL[d]} sweep${k === '' ? '' : ` (${k})`}`, d, members));
    }
  }
  return out;
}

export function summarize(grid: readonly Setting[], records: readonly ItemRecord[], swept: readonly Dimension[]): Summary {
  const byKey = new Map<string, ItemRecord[]>();
  for (const r of records) byKey.set(r.setting, [...(byKey.get(r.setting) ?? []), r]);
  const rows = grid.map((s) => summarizeSetting(s, byKey.get(settingKey(s)) ?? []));
  const runCount = new Map(rows.map((r) => [r.setting, (byKey.get(r.setting) ?? []).flatMap((x) => x.samples).filter((s) => s.within_budget !== null).length]));
  const runsOf = (s: SettingSummary): number => runCount.get(s.setting) ?? 0;
  const ordered = [...rows].sort((a, b) => (a.mean_thinking_tokens ?? 0) - (b.mean_thinking_tokens ?? 0));
  const plain = rows.filter((r) => isPlain(r.params));
  const methods = rows.filter((r) => !isPlain(r.params));
  const savings = plain.length >= 2 && methods.length > 0 ? tokensSaved(plain, methods) : undefined;
  return {
    ...(savings === undefined ? {} : { savings }),
    settings: rows,
    lines: buildLines(rows, swept, runsOf),
    overall: {
      control: pooledControl(rows, runsOf),
      scaling: scaling(ordered.map((m) => ({ tokens: m.mean_thinking_tokens, accuracy: m.accuracy }))),
      performance: rows.length === 0 ? 0 : Math.max(...rows.map((r) => r.accuracy)),
    },
  };
}

function avg(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}
