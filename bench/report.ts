/**
 * The benchmark's result: its JSON shape, the headline ratios, the targets of issue 6 checked
 * (reported, never asserted), and the Markdown printed to the terminal and written beside the
 * JSON. Pure functions of the result; tested in test/bench/report.test.ts.
 */
import type { TargetFigures } from './figures.js';
import type { LeakResult } from './leak.js';
import type { ScenarioOut } from './scenario.js';
import type { Settings } from './settings.js';
import { renderTracingOverhead, type TracingOverhead } from './tracing-overhead.js';
import { renderVsMinimal, type VsMinimal } from './vs-minimal.js';

export interface HeadlineRow {
  concurrency: number;
  /** thinkgate relay tokens/s divided by direct's. */
  thinkgateVsDirect: number | null;
  forcingVsDirect: number | null;
  /** thinkgate relay tokens/s divided by LiteLLM's. */
  thinkgateVsLiteLLM: number | null;
  /** LiteLLM's CPU seconds per 1k tokens divided by thinkgate's. */
  liteLLMCpuPerToken: number | null;
  thinkgateAddedTtftMs: { p50: number; p99: number } | null;
  liteLLMAddedTtftMs: { p50: number; p99: number } | null;
  thinkgateAddedGapP99Ms: number | null;
  liteLLMAddedGapP99Ms: number | null;
}

export interface TargetCheck {
  what: string;
  goal: string;
  value: string;
  met: boolean | null;
}

export interface BenchResult {
  /** 2: scenarios, the minimal proxy, CPU per request (issue 14). */
  version: 2;
  startedAt: string;
  durationS: number;
  machine: {
    cpus: number;
    cpuModel: string;
    memGiB: number;
    freeMemGiB: number;
    kernel: string;
    node: string;
    commit: string | null;
    /** os.loadavg() at start and end: above ~2 on 2 cores, something else was running. */
    loadAvgStart: number[];
    loadAvgEnd: number[];
    /** RLIMIT_NOFILE of the orchestrator; its children raise the soft limit to the hard one. */
    fdLimit: { soft: number; hard: number };
  };
  settings: Settings;
  litellm: string;
  /** The fast scenario's levels (the headline, the chart and issue 6's targets read these). */
  levels: TargetFigures[][];
  headline: HeadlineRow[];
  leak: LeakResult | null;
  /** Every scenario with its raw figures: fast, then paced and stall when run. */
  scenarios: ScenarioOut[];
  vsMinimal: VsMinimal;
  /** --tracing: thinkgate with tracing on / off; absent or null without it. */
  tracing?: TracingOverhead | null;
  /** --twin-config: the twin gateway / the base one; absent or null without it. */
  twin?: TracingOverhead | null;
}

const ratio = (a: number | null | undefined, b: number | null | undefined): number | null =>
  a === null || a === undefined || b === null || b === undefined || b === 0 ? null : a / b;

export function headline(levels: readonly TargetFigures[][]): HeadlineRow[] {
  return levels.map((level) => {
    const get = (name: string): TargetFigures | undefined => level.find((f) => f.target === name);
    const d = get('direct');
    const tg = get('thinkgate');
    const tf = get('thinkgate-forcing');
    const ll = get('litellm');
    return {
      concurrency: level[0]?.concurrency ?? 0,
      thinkgateVsDirect: ratio(tg?.tokPerS, d?.tokPerS),
      forcingVsDirect: ratio(tf?.tokPerS, d?.tokPerS),
      thinkgateVsLiteLLM: ratio(tg?.tokPerS, ll?.tokPerS),
      liteLLMCpuPerToken: ratio(ll?.cpuSPer1kTokens, tg?.cpuSPer1kTokens),
      thinkgateAddedTtftMs: tg?.addedTtftMs ?? null,
      liteLLMAddedTtftMs: ll?.addedTtftMs ?? null,
      thinkgateAddedGapP99Ms: tg?.addedGapMs?.p99 ?? null,
      liteLLMAddedGapP99Ms: ll?.addedGapMs?.p99 ?? null,
    };
  });
}

/** Issue 6's targets, checked against this run (null: not measured in this run). */
export function checkTargets(r: BenchResult): TargetCheck[] {
  const at = (c: number, t: string): TargetFigures | undefined => r.levels.flat().find((f) => f.concurrency === c && f.target === t);
  const out: TargetCheck[] = [];
  const c1 = at(1, 'thinkgate');
  out.push({
    what: 'added p50 TTFT vs direct, concurrency 1',
    goal: '< 2 ms',
    value: c1?.addedTtftMs ? `${fmt(c1.addedTtftMs.p50, 2)} ms` : 'n/a',
    met: c1?.addedTtftMs ? c1.addedTtftMs.p50 < 2 : null,
  });
  const c256 = at(256, 'thinkgate');
  out.push({
    what: 'added p99 inter-token gap, 256 streams',
    goal: '< 5 ms',
    value: c256?.addedGapMs ? `${fmt(c256.addedGapMs.p99, 2)} ms` : 'n/a',
    met: c256?.addedGapMs ? c256.addedGapMs.p99 < 5 : null,
  });
  const l256 = at(256, 'litellm');
  const x = ratio(c256?.tokPerS, l256?.tokPerS);
  out.push({
    what: 'relay throughput vs LiteLLM, 256 streams',
    goal: '>= 3x',
    value: x === null ? 'n/a' : `${fmt(x, 1)}x`,
    met: x === null ? null : x >= 3,
  });
  // Levels where requests failed count failed segments too: judge the error-free ones.
  const forcing = r.levels.flat().filter((f) => f.target === 'thinkgate-forcing' && f.budgetForcing && f.errors === 0);
  if (forcing.length) {
    const f = forcing[0]!;
    const bf = f.budgetForcing!;
    const oneTripEach = forcing.every((g) => Math.abs(g.upstream.requests - g.budgetForcing!.segments) < 0.01);
    out.push({
      what: 'one upstream request per segment (forcing)',
      goal: 'upstream requests = segments',
      value:
        `${fmt(bf.segments, 2)} segments, ${fmt(f.upstream.requests, 2)} upstream requests per request (c=${f.concurrency}); ` +
        `${fmt(bf.extensions, 2)} extensions, ${fmt(bf.truncatedShare * 100, 0)}% truncated; levels without errors: ${forcing.map((g) => g.concurrency).join(', ')}`,
      met: oneTripEach,
    });
    const fresh = f.upstream.promptTokens - f.upstream.cachedPromptTokens;
    out.push({
      what: 'continuations re-send only cached prefixes',
      goal: 'uncached prompt tokens ~ first prompt + inserted ids',
      value: `${fmt(f.upstream.promptTokens, 0)} prompt tokens sent per request, ${fmt(f.upstream.cachedPromptTokens, 0)} of them cached (${fmt((100 * f.upstream.cachedPromptTokens) / Math.max(1, f.upstream.promptTokens), 1)}%), ${fmt(fresh, 0)} not`,
      met: null,
    });
  }
  if (r.leak) {
    out.push({
      what: `RSS trend over ${r.leak.requests} sequential requests`,
      goal: 'no growth trend',
      value: `RSS ${fmt(r.leak.rssSlopeKiBPer1k, 1)} KiB / 1k requests (r2 ${fmt(r.leak.rssR2, 2)}), heap after GC ${fmt(r.leak.heapSlopeKiBPer1k, 1)} KiB / 1k (r2 ${fmt(r.leak.heapR2, 2)})`,
      // Under 64 KiB per 1,000 requests: under 1.3 MiB over the whole check, inside RSS noise.
      met: r.leak.errors === 0 && r.leak.heapSlopeKiBPer1k < 64 && r.leak.rssSlopeKiBPer1k < 64,
    });
  }
  return out;
}

export function fmt(v: number | null | undefined, digits: number): string {
  if (v === null || v === undefined || Number.isNaN(v)) return 'n/a';
  return v.toFixed(digits);
}

const signed = (v: number | null | undefined, digits: number): string =>
  v === null || v === undefined || Number.isNaN(v) ? '—' : `${v >= 0 ? '+' : ''}${v.toFixed(digits)}`;

function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

function figuresTable(levels: readonly TargetFigures[][]): string {
  return table(
    ['target', 'streams', 'req/s', 'tok/s', 'TTFT p50', 'TTFT p99', '+TTFT p50', '+TTFT p99', 'gap p50', 'gap p99', '+gap p99', 'proxy CPU s / 1k tok', 'tok / read', 'peak RSS MiB', 'RSS / stream KiB', 'errors'],
    levels.flat().map((f) => [
      f.target,
      String(f.concurrency),
      fmt(f.reqPerS, 1),
      fmt(f.tokPerS, 0),
      fmt(f.ttftMs.p50, 2),
      fmt(f.ttftMs.p99, 2),
      signed(f.addedTtftMs?.p50, 2),
      signed(f.addedTtftMs?.p99, 2),
      fmt(f.gapMs.p50, 3),
      fmt(f.gapMs.p99, 2),
      signed(f.addedGapMs?.p99, 2),
      f.cpuSPer1kTokens === null ? '—' : fmt(f.cpuSPer1kTokens, 4),
      fmt(f.tokensPerRead, 1),
      f.peakRssMiB === null ? '—' : fmt(f.peakRssMiB, 1),
      // Below 16 streams (peak - idle) / streams is garbage-collector noise, not a per-stream cost.
      f.rssPerStreamKiB === null || f.concurrency < 16 ? '—' : fmt(f.rssPerStreamKiB, 1),
      f.errors ? `**${f.errors}**` : '0',
    ]),
  );
}

export function renderMarkdown(r: BenchResult): string {
  const s = r.settings;
  const m = r.machine;
  const out: string[] = [];
  out.push(`# thinkgate benchmark, ${r.startedAt}`);
  out.push('');
  out.push(
    `Machine: ${m.cpus} cores (${m.cpuModel}), ${fmt(m.memGiB, 0)} GiB, Linux ${m.kernel}, Node ${m.node}` +
      (m.commit ? `, thinkgate ${m.commit}` : '') +
      `. Load average ${m.loadAvgStart.map((x) => x.toFixed(1)).join(' ')} at start, ${m.loadAvgEnd.map((x) => x.toFixed(1)).join(' ')} at end` +
      `. Mode \`${s.mode}\`, ${fmt(r.durationS, 0)} s.`,
  );
  out.push(
    `Simulator (a scripted fake model, not a real LLM): ${s.sim.think} thinking tokens, ${s.sim.extend} after each "Wait", ` +
      `${s.sim.answer} answer tokens, ${s.sim.tokenDelayMs === 0 ? `no per-token delay, ${s.sim.tokensPerWrite} tokens per socket write (fast mode)` : `${s.sim.tokenDelayMs} ms per token`}; ` +
      `${s.sims} simulator process${s.sims === 1 ? '' : 'es'}. Open-file limit ${m.fdLimit.soft} (hard ${m.fdLimit.hard}). ` +
      `Forcing: min = max thinking tokens = ${s.forcing.min}. ${s.rounds} measured rounds per level after a warm-up, targets interleaved. ` +
      `LiteLLM: ${r.litellm}${s.targets.includes('litellm') && s.levels.some((c) => c > s.litellmMaxConcurrency) ? ` (not above ${s.litellmMaxConcurrency} streams)` : ''}.`,
  );
  out.push('');
  out.push('## Headline');
  out.push('');
  out.push(
    table(
      ['streams', 'thinkgate tok/s vs direct', 'forcing tok/s vs direct', 'thinkgate tok/s vs LiteLLM', 'CPU per token, LiteLLM / thinkgate', 'added TTFT p50 / p99 (ms), thinkgate', 'same, LiteLLM', 'added gap p99 (ms), thinkgate / LiteLLM'],
      r.headline.map((h) => [
        String(h.concurrency),
        h.thinkgateVsDirect === null ? '—' : `${fmt(h.thinkgateVsDirect * 100, 0)}%`,
        h.forcingVsDirect === null ? '—' : `${fmt(h.forcingVsDirect * 100, 0)}%`,
        h.thinkgateVsLiteLLM === null ? '—' : `**${fmt(h.thinkgateVsLiteLLM, 1)}x**`,
        h.liteLLMCpuPerToken === null ? '—' : `${fmt(h.liteLLMCpuPerToken, 1)}x`,
        h.thinkgateAddedTtftMs ? `${signed(h.thinkgateAddedTtftMs.p50, 2)} / ${signed(h.thinkgateAddedTtftMs.p99, 2)}` : '—',
        h.liteLLMAddedTtftMs ? `${signed(h.liteLLMAddedTtftMs.p50, 2)} / ${signed(h.liteLLMAddedTtftMs.p99, 2)}` : '—',
        `${signed(h.thinkgateAddedGapP99Ms, 2)} / ${signed(h.liteLLMAddedGapP99Ms, 2)}`,
      ]),
    ),
  );
  out.push('');
  out.push(renderVsMinimal(r.vsMinimal, { start: m.loadAvgStart, end: m.loadAvgEnd }));
  out.push('');
  if (r.tracing) {
    out.push(renderTracingOverhead(r.tracing, { start: m.loadAvgStart, end: m.loadAvgEnd }));
    out.push('');
  }
  if (r.twin && r.settings.twinConfig) {
    out.push(renderTracingOverhead(r.twin, { start: m.loadAvgStart, end: m.loadAvgEnd }, r.settings.twinConfig, r.settings.twinDist));
    out.push('');
  }
  out.push('## Targets of issue 6 (reported, not asserted)');
  out.push('');
  out.push(
    table(
      ['what', 'goal', 'this run', 'met'],
      checkTargets(r).map((t) => [t.what, t.goal, t.value, t.met === null ? '—' : t.met ? 'yes' : '**no**']),
    ),
  );
  out.push('');
  out.push('## All figures');
  out.push('');
  out.push(figuresTable(r.levels));
  for (const sc of r.scenarios) {
    if (sc.name === 'fast' || !sc.levels.length) continue;
    out.push('');
    out.push(
      sc.name === 'paced'
        ? `### Paced: the simulator writes ${sc.tokensPerWrite} token per socket write, ${sc.tokenDelayMs} ms apart per stream (like real vLLM; direct's tok / read shows the pacing)`
        : `### Stalled loop: the gateway's and the minimal proxy's event loop blocked ${sc.stall?.ms ?? '?'} ms every ${sc.stall?.everyMs ?? '?'} ms, ${sc.stall?.gapMs ?? '?'} ms idle after each batch`,
    );
    out.push('');
    out.push(figuresTable(sc.levels));
  }
  out.push('');
  out.push('Times in ms. "+" columns: the target\'s percentile minus direct\'s at the same level. tok/s: relayed completion tokens per second (usage.completion_tokens).');
  const forcing = r.levels.flat().filter((f) => f.target === 'thinkgate-forcing');
  if (forcing.length) {
    out.push('');
    out.push('## Budget forcing: what each request cost upstream');
    out.push('');
    out.push(
      table(
        ['streams', 'segments / req', 'extensions / req', 'truncated', 'thinking tokens', 'upstream requests / req', 'prompt tokens sent / req', 'cached', 'TTFA p50 / p99 (ms)'],
        forcing.map((f) => [
          String(f.concurrency),
          fmt(f.budgetForcing?.segments, 2),
          fmt(f.budgetForcing?.extensions, 2),
          f.budgetForcing ? `${fmt(f.budgetForcing.truncatedShare * 100, 0)}%` : 'n/a',
          fmt(f.budgetForcing?.thinkingTokens, 0),
          fmt(f.upstream.requests, 2),
          fmt(f.upstream.promptTokens, 0),
          `${fmt((100 * f.upstream.cachedPromptTokens) / Math.max(1, f.upstream.promptTokens), 1)}%`,
          `${fmt(f.ttfaMs.p50, 2)} / ${fmt(f.ttfaMs.p99, 2)}`,
        ]),
      ),
    );
  }
  if (r.leak) {
    const l = r.leak;
    const first = l.samples[0];
    const last = l.samples[l.samples.length - 1];
    out.push('');
    out.push('## Leak check');
    out.push('');
    out.push(
      `${l.requests} sequential streamed requests through thinkgate (blocks of 500, relay and forcing alternating) in ${fmt(l.wallS, 0)} s, ${l.errors} errors. ` +
        `RSS ${fmt(first?.rssMiB, 1)} -> ${fmt(last?.rssMiB, 1)} MiB, heap after GC ${fmt(first?.heapMiB, 1)} -> ${fmt(last?.heapMiB, 1)} MiB` +
        `${l.heapCollected ? '' : ' (no --expose-gc: heap not collected first)'}` +
        (first?.externalMiB === undefined
          ? '. '
          : `, V8's committed heap ${fmt(first.heapTotalMiB, 1)} -> ${fmt(last?.heapTotalMiB, 1)} MiB, Buffers (external) ${fmt(first.externalMiB, 1)} -> ${fmt(last?.externalMiB, 1)} MiB. `) +
        `Least-squares slope after the first 20%: RSS ${signed(l.rssSlopeKiBPer1k, 1)} KiB per 1,000 requests (r2 ${fmt(l.rssR2, 2)}), ` +
        `heap ${signed(l.heapSlopeKiBPer1k, 1)} KiB per 1,000 requests (r2 ${fmt(l.heapR2, 2)}).`,
    );
  }
  const errs = r.scenarios.flatMap((sc) => sc.levels.flat().filter((f) => f.errors > 0).map((f) => ({ sc: sc.name, f })));
  if (errs.length) {
    out.push('');
    out.push('## Errors');
    out.push('');
    for (const { sc, f } of errs) out.push(`- ${sc}: ${f.target} at ${f.concurrency}: ${f.errors} of ${f.requests}: ${f.errorSamples.join(' | ')}`);
  }
  out.push('');
  return out.join('\n');
}
