/**
 * Issue 14's summary: each figure of thinkgate as a ratio to the minimal proxy's
 * (./minimal-proxy.mjs, the floor a gateway that looks at tokens can reach) in the same run,
 * against the goals (reported, never asserted), and the broken streams of every target
 * at every level of every scenario. Pure functions of the scenarios' figures; result.json keeps
 * the raw numbers these come from. Tested in test/bench/vs-minimal.test.ts.
 */
import type { PerRequestFigures } from './cpu.js';
import { usPerToken } from './cpu.js';
import type { TargetFigures } from './figures.js';

/** What vsMinimal() reads of a scenario (./scenario.ts's ScenarioOut has it). */
export interface ScenarioFigures {
  name: string;
  levels: TargetFigures[][];
  perRequest: PerRequestFigures[] | null;
}

export interface RatioRow {
  what: string;
  unit: string;
  minimal: number | null;
  thinkgate: number | null;
  /** thinkgate / minimal. */
  ratio: number | null;
  goal: string | null;
  /** null: no goal, or not measured. */
  met: boolean | null;
}

export interface BrokenRow {
  scenario: string;
  concurrency: number;
  /** Failed streams of each target: HTTP errors, error events, streams without [DONE]. */
  byTarget: Record<string, { errors: number; requests: number }>;
}

export interface VsMinimal {
  rows: RatioRow[];
  broken: BrokenRow[];
}

/** a / b; null when either is missing or b is not positive (a CPU under one clock tick, an added latency that is noise). */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  return a === null || a === undefined || b === null || b === undefined || !(b > 0) ? null : a / b;
}

function row(what: string, unit: string, minimal: number | null, thinkgate: number | null, maxRatio: number | null): RatioRow {
  const r = ratio(thinkgate, minimal);
  return {
    what,
    unit,
    minimal,
    thinkgate,
    ratio: r,
    goal: maxRatio === null ? null : `<= ${maxRatio.toFixed(2)}x`,
    met: maxRatio === null || r === null ? null : r <= maxRatio,
  };
}

const find = (level: readonly TargetFigures[], t: string): TargetFigures | undefined => level.find((f) => f.target === t);

export function vsMinimal(scenarios: readonly ScenarioFigures[]): VsMinimal {
  const rows: RatioRow[] = [];
  const fast = scenarios.find((s) => s.name === 'fast');
  const paced = scenarios.find((s) => s.name === 'paced');
  // Issue 14's goals: CPU per token <= 1.0x fast, <= 1.15x paced; per request <= 1.5x; added p50 TTFT < 1 ms.
  for (const [s, goal, label] of [
    [fast, 1.0, 'fast'],
    [paced, 1.15, 'paced'],
  ] as const) {
    for (const level of s?.levels ?? []) {
      const mn = find(level, 'minimal');
      if (!mn) continue;
      const c = mn.concurrency;
      rows.push(row(`CPU per token, ${label}, ${c} stream${c === 1 ? '' : 's'}`, 'us', usPerToken(mn.cpuSPer1kTokens), usPerToken(find(level, 'thinkgate')?.cpuSPer1kTokens), goal));
      const tf = find(level, 'thinkgate-forcing');
      if (tf) rows.push(row(`  same, with budget forcing (4 segments)`, 'us', usPerToken(mn.cpuSPer1kTokens), usPerToken(tf.cpuSPer1kTokens), null));
    }
  }
  for (const s of scenarios) {
    if (!s.perRequest) continue;
    const mn = s.perRequest.find((p) => p.target === 'minimal');
    const tg = s.perRequest.find((p) => p.target === 'thinkgate');
    if (!mn || !tg) continue;
    const ms = (p: PerRequestFigures): number | null => (p.split ? p.split.perRequestS * 1000 : null);
    rows.push(row('CPU per request (intercept of two stream lengths, 1 stream)', 'ms', ms(mn), ms(tg), 1.5));
    rows.push(row('  CPU of one 1-token stream', 'ms', mn.shortCpuPerRequestMs, tg.shortCpuPerRequestMs, null));
  }
  // Added TTFT at one stream: from the per-request batches when they ran (thousands of 1-token
  // streams beside direct's), else from the fast scenario's 1-stream level (a few requests).
  const pr = scenarios.find((s) => s.perRequest?.some((p) => p.addedTtftP50Ms !== null))?.perRequest;
  const one = fast?.levels.find((l) => l[0]?.concurrency === 1);
  const [mn1, tg1, where] = pr
    ? [pr.find((p) => p.target === 'minimal')?.addedTtftP50Ms, pr.find((p) => p.target === 'thinkgate')?.addedTtftP50Ms, '1-token streams']
    : [one && find(one, 'minimal')?.addedTtftMs?.p50, one && find(one, 'thinkgate')?.addedTtftMs?.p50, 'fast level'];
  if ((mn1 ?? undefined) !== undefined || (tg1 ?? undefined) !== undefined) {
    const mn = mn1 ?? null;
    const tg = tg1 ?? null;
    const r = row(`added p50 TTFT vs direct, 1 stream, ${where} (goal on an idle machine)`, 'ms', mn, tg, null);
    r.goal = 'thinkgate < 1 ms';
    r.met = tg === null ? null : tg < 1;
    rows.push(r);
  }
  const broken: BrokenRow[] = [];
  for (const s of scenarios) {
    for (const level of s.levels) {
      const byTarget: BrokenRow['byTarget'] = {};
      for (const f of level) byTarget[f.target] = { errors: f.errors, requests: f.requests };
      broken.push({ scenario: s.name, concurrency: level[0]?.concurrency ?? 0, byTarget });
    }
  }
  return { rows, broken };
}

const fmt = (v: number | null, d: number): string => (v === null || Number.isNaN(v) ? '—' : v.toFixed(d));

function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/** The Markdown section (load average printed: the TTFT goal is for an idle machine). */
export function renderVsMinimal(v: VsMinimal, loadAvg: { start: readonly number[]; end: readonly number[] }): string {
  const out: string[] = [];
  out.push('## Against the minimal proxy (issue 14; reported, not asserted)');
  out.push('');
  out.push(
    `Load average ${loadAvg.start.map((x) => x.toFixed(1)).join(' ')} at start, ${loadAvg.end.map((x) => x.toFixed(1)).join(' ')} at end ` +
      '(the added-TTFT goal is for an idle machine). CPU from the proxies\' own /proc counters.',
  );
  out.push('');
  out.push(
    table(
      ['what', 'minimal proxy', 'thinkgate', 'ratio', 'goal', 'met'],
      v.rows.map((r) => [
        r.what,
        `${fmt(r.minimal, r.unit === 'us' ? 1 : 3)} ${r.unit}`,
        `${fmt(r.thinkgate, r.unit === 'us' ? 1 : 3)} ${r.unit}`,
        r.ratio === null ? '—' : `**${r.ratio.toFixed(2)}x**`,
        r.goal ?? '—',
        r.met === null ? '—' : r.met ? 'yes' : '**no**',
      ]),
    ),
  );
  if (v.broken.length) {
    const targets = [...new Set(v.broken.flatMap((b) => Object.keys(b.byTarget)))];
    out.push('');
    out.push('Broken streams (failed of sent; goal: 0 for thinkgate at every level and with a stalled loop):');
    out.push('');
    out.push(
      table(
        ['scenario', 'streams', ...targets],
        v.broken.map((b) => [
          b.scenario,
          String(b.concurrency),
          ...targets.map((t) => {
            const x = b.byTarget[t];
            return x ? (x.errors ? `**${x.errors}** / ${x.requests}` : `0 / ${x.requests}`) : '—';
          }),
        ]),
      ),
    );
  }
  return out.join('\n');
}
