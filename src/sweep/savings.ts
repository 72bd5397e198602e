/**
 * "Tokens saved at each accuracy level" (issue 16, item 4): how many thinking tokens a method
 * (early exit, reflection suppression, a majority vote, "Wait" extensions) spends for the
 * accuracy it reaches, against what plain budget forcing spends for the same accuracy.
 *
 * The budget-forcing curve is its settings' (compute tokens, accuracy) points made monotone: in
 * token order, each point's accuracy is the best reached at or below its cost (a larger budget
 * that scores lower is not the cheapest way to that accuracy). The tokens budget forcing needs
 * for accuracy a are read off it by linear interpolation between the two points around a. Outside
 * the curve's range there is no honest number: below its cheapest point the saving is unknown
 * (budget forcing might get there for less), above its best it is out of reach, and the row says
 * which. Costs are compute tokens (thinking + probes, all samples: metrics.ts), so a vote of 4
 * is charged for 4 samples.
 */
/** What the savings table reads of a setting's summary (metrics.ts, SettingSummary). */
type SettingCost = { setting: string; accuracy: number; mean_compute_tokens: number | null };

export interface SavingRow {
  setting: string;
  accuracy: number;
  /** The method's mean compute tokens per question. */
  tokens: number;
  /** What budget forcing spends for the same accuracy; null outside its curve (see `note`). */
  budget_tokens: number | null;
  /** budget_tokens - tokens (negative: the method costs more); null with budget_tokens. */
  saved: number | null;
  /** saved / budget_tokens. */
  saved_share: number | null;
  note?: 'below budget curve' | 'above budget curve';
}

export interface CurvePoint {
  tokens: number;
  accuracy: number;
}

/** The monotone budget-forcing curve: in token order, accuracy = best so far; equal accuracies keep the cheapest. */
export function budgetCurve(points: readonly CurvePoint[]): CurvePoint[] {
  const sorted = [...points].sort((a, b) => a.tokens - b.tokens || b.accuracy - a.accuracy);
  const out: CurvePoint[] = [];
  for (const p of sorted) {
    const best = out.length === 0 ? -1 : out[out.length - 1]!.accuracy;
    if (p.accuracy > best) out.push({ tokens: p.tokens, accuracy: p.accuracy });
  }
  return out;
}

/** Tokens budget forcing needs for `accuracy` on `curve` (budgetCurve's), or why there is no number. */
export function tokensFor(curve: readonly CurvePoint[], accuracy: number): number | 'below' | 'above' {
  if (curve.length === 0) return 'above';
  const first = curve[0]!;
  const last = curve[curve.length - 1]!;
  if (accuracy > last.accuracy + 1e-12) return 'above';
  if (accuracy < first.accuracy - 1e-12) return 'below';
  for (let i = 0; i < curve.length; i++) {
    const b = curve[i]!;
    if (accuracy <= b.accuracy + 1e-12) {
      if (i === 0) return b.tokens;
      const a = curve[i - 1]!;
      return a.tokens + ((accuracy - a.accuracy) / (b.accuracy - a.accuracy)) * (b.tokens - a.tokens);
    }
  }
  return 'above';
}

/** One row per method setting, by accuracy then cost. */
export function tokensSaved(budget: readonly SettingCost[], methods: readonly SettingCost[]): SavingRow[] {
  const curve = budgetCurve(
    budget.filter((r) => r.mean_compute_tokens !== null).map((r) => ({ tokens: r.mean_compute_tokens!, accuracy: r.accuracy })),
  );
  const rows: SavingRow[] = [];
  for (const m of methods) {
    if (m.mean_compute_tokens === null) continue;
    const need = tokensFor(curve, m.accuracy);
    const row: SavingRow = { setting: m.setting, accuracy: m.accuracy, tokens: m.mean_compute_tokens, budget_tokens: null, saved: null, saved_share: null };
    if (typeof need === 'number') {
      row.budget_tokens = need;
      row.saved = need - m.mean_compute_tokens;
      row.saved_share = need > 0 ? row.saved / need : null;
    } else row.note = need === 'below' ? 'below budget curve' : 'above budget curve';
    rows.push(row);
  }
  return rows.sort((a, b) => a.accuracy - b.accuracy || a.tokens - b.tokens);
}
