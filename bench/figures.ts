/**
 * The figures of one target at one concurrency level, computed from the merged measured
 * rounds (warm-up excluded) and the /proc and simulator counters taken around each batch.
 * "Added" latency is the target's percentile minus direct's percentile at the same level and
 * run (a difference of percentiles, not a percentile of paired differences: requests are not
 * paired). CPU is the proxy process's own; for `direct` there is no proxy, so it is null.
 */
import type { BatchResult } from './batch.js';
import { summarize, type Summary } from './stats.js';

export interface UpstreamCounters {
  requests: number;
  promptTokens: number;
  cachedPromptTokens: number;
  generationTokens: number;
}

/** What the orchestrator measured around one batch, besides the load generator's samples. */
export interface BatchSide {
  proxyCpuS: number | null;
  simCpuS: number;
  loadgenCpuS: number;
  /** Proxy RSS just before the batch and its peak during it (bytes); null for direct. */
  proxyRssBefore: number | null;
  proxyRssPeak: number | null;
  upstream: UpstreamCounters;
}

export interface TargetFigures {
  target: string;
  concurrency: number;
  requests: number;
  ok: number;
  errors: number;
  errorSamples: string[];
  wallS: number;
  reqPerS: number;
  tokPerS: number;
  tokensPerRequest: number;
  /** Relayed tokens per socket read at the client: ~1 when paced, dozens in fast mode (direct shows the upstream's pacing). */
  tokensPerRead: number | null;
  ttftMs: Summary;
  ttfaMs: Summary;
  gapMs: Summary;
  durationMs: Summary;
  /** Filled in against direct by addDirectDeltas(). */
  addedTtftMs: { p50: number; p99: number } | null;
  addedGapMs: { p50: number; p99: number } | null;
  proxyCpuS: number | null;
  cpuSPer1kTokens: number | null;
  simCpuSPer1kTokens: number;
  loadgenCpuSPer1kTokens: number;
  idleRssMiB: number | null;
  peakRssMiB: number | null;
  /** (peak - idle RSS) / concurrency. */
  rssPerStreamKiB: number | null;
  /** Per request, from the final usage chunk's budget_forcing (thinkgate only). */
  budgetForcing: { segments: number; extensions: number; truncatedShare: number; thinkingTokens: number } | null;
  /** Per client request, what reached the simulator: generation requests, prompt tokens and the cached part. */
  upstream: { requests: number; promptTokens: number; cachedPromptTokens: number; generationTokens: number };
}

const MiB = 1024 * 1024;

export function computeFigures(
  target: string,
  concurrency: number,
  b: BatchResult,
  sides: readonly BatchSide[],
): TargetFigures {
  const wallS = b.wallMs / 1000;
  const sum = (f: (s: BatchSide) => number | null): number | null => {
    let t = 0;
    for (const s of sides) {
      const v = f(s);
      if (v === null) return null;
      t += v;
    }
    return t;
  };
  const per1k = (cpu: number | null): number | null => (cpu === null || b.relayedTokens === 0 ? null : (cpu / b.relayedTokens) * 1000);
  const proxyCpuS = sum((s) => s.proxyCpuS);
  const idle = sides.length && sides.every((s) => s.proxyRssBefore !== null) ? Math.min(...sides.map((s) => s.proxyRssBefore!)) : null;
  const peak = sides.length && sides.every((s) => s.proxyRssPeak !== null) ? Math.max(...sides.map((s) => s.proxyRssPeak!)) : null;
  const up = (k: keyof UpstreamCounters): number => (b.requests ? (sum((s) => s.upstream[k]) ?? 0) / b.requests : 0);
  return {
    target,
    concurrency,
    requests: b.requests,
    ok: b.ok,
    errors: b.errors,
    errorSamples: b.errorSamples,
    wallS,
    reqPerS: wallS > 0 ? b.ok / wallS : 0,
    tokPerS: wallS > 0 ? b.relayedTokens / wallS : 0,
    tokensPerRequest: b.ok ? b.relayedTokens / b.ok : 0,
    tokensPerRead: b.reads ? b.relayedTokens / b.reads : null,
    ttftMs: summarize(b.ttftMs),
    ttfaMs: summarize(b.ttfaMs),
    gapMs: summarize(b.gapsMs),
    durationMs: summarize(b.durationMs),
    addedTtftMs: null,
    addedGapMs: null,
    proxyCpuS,
    cpuSPer1kTokens: per1k(proxyCpuS),
    simCpuSPer1kTokens: per1k(sum((s) => s.simCpuS)) ?? 0,
    loadgenCpuSPer1kTokens: per1k(sum((s) => s.loadgenCpuS)) ?? 0,
    idleRssMiB: idle === null ? null : idle / MiB,
    peakRssMiB: peak === null ? null : peak / MiB,
    rssPerStreamKiB: idle === null || peak === null ? null : (peak - idle) / 1024 / concurrency,
    budgetForcing: b.bf.n
      ? {
          segments: b.bf.segments / b.bf.n,
          extensions: b.bf.extensions / b.bf.n,
          truncatedShare: b.bf.truncated / b.bf.n,
          thinkingTokens: b.bf.thinkingTokens / b.bf.n,
        }
      : null,
    upstream: {
      requests: up('requests'),
      promptTokens: up('promptTokens'),
      cachedPromptTokens: up('cachedPromptTokens'),
      generationTokens: up('generationTokens'),
    },
  };
}

/** Sets addedTtftMs / addedGapMs of every target of a level against its `direct` entry. */
export function addDirectDeltas(level: TargetFigures[]): void {
  const direct = level.find((f) => f.target === 'direct');
  if (!direct) return;
  for (const f of level) {
    if (f === direct) continue;
    f.addedTtftMs = { p50: f.ttftMs.p50 - direct.ttftMs.p50, p99: f.ttftMs.p99 - direct.ttftMs.p99 };
    f.addedGapMs = { p50: f.gapMs.p50 - direct.gapMs.p50, p99: f.gapMs.p99 - direct.gapMs.p99 };
  }
}
