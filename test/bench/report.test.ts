import { describe, expect, it } from 'vitest';
import { emptyBatch } from '../../bench/batch.js';
import { addDirectDeltas, computeFigures, type BatchSide } from '../../bench/figures.js';
import { checkTargets, headline, renderMarkdown, type BenchResult } from '../../bench/report.js';
import type { ScenarioOut } from '../../bench/scenario.js';
import { forcingBudget, parseSettings } from '../../bench/settings.js';
import { vsMinimal } from '../../bench/vs-minimal.js';
import { renderChart } from '../../bench/svg-chart.js';

function batch(tokPerReq: number, ttft: number, gap: number, n = 10, wallMs = 1000) {
  const b = emptyBatch();
  b.wallMs = wallMs;
  b.requests = b.ok = n;
  b.relayedTokens = n * tokPerReq;
  for (let i = 0; i < n; i++) {
    b.ttftMs.push(ttft);
    b.ttfaMs.push(ttft * 2);
    b.durationMs.push(ttft * 3);
    b.gapsMs.push(gap);
  }
  return b;
}

const side = (proxyCpuS: number | null, rss: [number, number] | null): BatchSide => ({
  proxyCpuS,
  simCpuS: 0.1,
  loadgenCpuS: 0.1,
  proxyRssBefore: rss ? rss[0] : null,
  proxyRssPeak: rss ? rss[1] : null,
  upstream: { requests: 10, promptTokens: 170, cachedPromptTokens: 160, generationTokens: 1000 },
});

function result(): BenchResult {
  const settings = parseSettings(['--levels', '1,256']);
  const levels = [1, 256].map((c) => {
    const l = [
      computeFigures('direct', c, batch(100, 1, 0.1), [side(null, null)]),
      computeFigures('thinkgate', c, batch(100, 2, 0.2, 10, 1250), [side(0.05, [100 * 2 ** 20, 100 * 2 ** 20 + c * 10240])]),
      computeFigures('litellm', c, batch(100, 30, 3, 10, 10_000), [side(1, [200 * 2 ** 20, 300 * 2 ** 20])]),
    ];
    addDirectDeltas(l);
    return l;
  });
  const scenarios: ScenarioOut[] = [
    { name: 'fast', tokensPerWrite: 64, tokenDelayMs: 0, stall: null, levels, perRequest: null, leak: null, litellm: 'measured' },
  ];
  return {
    version: 2,
    startedAt: '2026-01-01T00:00:00.000Z',
    durationS: 1,
    machine: { cpus: 2, cpuModel: 'test', memGiB: 24, freeMemGiB: 20, kernel: 'k', node: 'v20', commit: null, loadAvgStart: [0, 0, 0], loadAvgEnd: [1, 1, 1], fdLimit: { soft: 1024, hard: 4096 } },
    settings,
    litellm: 'measured',
    levels,
    headline: headline(levels),
    leak: null,
    scenarios,
    vsMinimal: vsMinimal(scenarios),
  };
}

describe('bench report', () => {
  it('computes figures, ratios and added latency', () => {
    const r = result();
    const tg = r.levels[1]![1]!;
    expect(tg.tokPerS).toBe(800);
    expect(tg.cpuSPer1kTokens).toBeCloseTo(0.05, 12);
    expect(tg.rssPerStreamKiB).toBeCloseTo(10, 9);
    expect(tg.addedTtftMs).toEqual({ p50: 1, p99: 1 });
    expect(r.headline[1]).toMatchObject({ concurrency: 256, thinkgateVsDirect: 0.8, thinkgateVsLiteLLM: 8, liteLLMCpuPerToken: 20 });
    const checks = checkTargets(r);
    expect(checks.map((c) => c.met)).toEqual([true, true, true]);
  });

  it('renders Markdown and an SVG with one line per target', () => {
    const r = result();
    const md = renderMarkdown(r);
    expect(md).toContain('| 256 | 80% | — | **8.0x** | 20.0x |');
    expect(md).toContain('| thinkgate | 256 | 8.0 | 800 |');
    const svg = renderChart(r);
    expect(svg.startsWith('<svg')).toBe(true);
    // Throughput: three lines; added latency: two (direct is the baseline).
    expect(svg.match(/<polyline/g)).toHaveLength(5);
  });

  it("reports where a leak check's memory sits: V8's committed heap and Buffers beside RSS", () => {
    const r = result();
    const sample = (requests: number, rssMiB: number) => ({ requests, rssMiB, heapMiB: 27, heapTotalMiB: 160, externalMiB: 9 });
    r.leak = {
      requests: 1000,
      errors: 0,
      wallS: 3,
      samples: [sample(0, 180), sample(500, 200), sample(1000, 201)],
      rssSlopeKiBPer1k: 1024,
      rssR2: 1,
      heapSlopeKiBPer1k: 0,
      heapR2: 0,
      heapCollected: true,
    };
    const md = renderMarkdown(r);
    expect(md).toContain("RSS 180.0 -> 201.0 MiB, heap after GC 27.0 -> 27.0 MiB, V8's committed heap 160.0 -> 160.0 MiB, Buffers (external) 9.0 -> 9.0 MiB.");
  });

  it('parses modes and flags', () => {
    expect(parseSettings(['--quick'])).toMatchObject({
      mode: 'quick',
      levels: [1, 16, 64],
      targets: ['direct', 'minimal', 'thinkgate', 'thinkgate-forcing'],
      sims: 1,
      paced: { levels: [16], delayMs: 2 },
      perRequest: { requests: 12 },
      stall: null,
    });
    const full = parseSettings(['--full']);
    expect(full.levels).toEqual([1, 16, 64, 256, 1024, 2048, 4096]);
    // 4096 streams: four simulators; 2,000 thinking tokens; the stalled loop at 512 and 1024.
    expect(full).toMatchObject({ sims: 4, sim: { think: 2000, tokensPerWrite: 64 }, stall: { ms: 2500, everyMs: 8000, levels: [512, 1024], gapMs: 5200 } });
    expect(full.requests[4096]).toBe(4096);
    expect(parseSettings(['--stall', '--stall-levels', '64', '--no-paced']).requests[64]).toBe(128);
    expect(parseSettings(['--long']).sim.think).toBe(2000);
    expect(parseSettings(['--full', '--no-stall', '--sims', '2'])).toMatchObject({ stall: null, sims: 2 });
    expect(() => parseSettings(['--tokens-per-write', '0'])).toThrow(/>= 1/);
    expect(parseSettings([]).targets).toContain('litellm');
    expect(parseSettings(['--no-litellm']).targets).not.toContain('litellm');
    expect(() => parseSettings(['--quick', '--full'])).toThrow(/exclude/);
    expect(() => parseSettings(['--targets', 'thinkgate'])).toThrow(/direct/);
    expect(() => parseSettings(['--levels', '0'])).toThrow(/positive/);
    expect(forcingBudget(100, 25)).toBe(143);
  });
});
