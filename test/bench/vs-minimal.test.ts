import { describe, expect, it } from 'vitest';
import { emptyBatch } from '../../bench/batch.js';
import { perRequestFigures } from '../../bench/cpu.js';
import { addDirectDeltas, computeFigures, type BatchSide, type TargetFigures } from '../../bench/figures.js';
import { ratio, renderVsMinimal, vsMinimal, type ScenarioFigures } from '../../bench/vs-minimal.js';

/** A target's figures at one level: `tokens` relayed in all, `cpuS` of proxy CPU, `errors` failed of 10. */
function fig(target: string, c: number, o: { tokens: number; cpuS: number | null; ttft: number; errors?: number }): TargetFigures {
  const b = emptyBatch();
  b.wallMs = 1000;
  b.requests = 10;
  b.errors = o.errors ?? 0;
  b.ok = 10 - b.errors;
  b.relayedTokens = o.tokens;
  b.reads = o.tokens / 2;
  for (let i = 0; i < b.ok; i++) b.ttftMs.push(o.ttft);
  const side: BatchSide = {
    proxyCpuS: o.cpuS,
    simCpuS: 0,
    loadgenCpuS: 0,
    proxyRssBefore: null,
    proxyRssPeak: null,
    upstream: { requests: 0, promptTokens: 0, cachedPromptTokens: 0, generationTokens: 0 },
  };
  return computeFigures(target, c, b, [side]);
}

function level(c: number, minimalCpu: number, thinkgateCpu: number, errors: Record<string, number> = {}): TargetFigures[] {
  const l = [
    fig('direct', c, { tokens: 100_000, cpuS: null, ttft: 1, errors: errors.direct }),
    fig('minimal', c, { tokens: 100_000, cpuS: minimalCpu, ttft: 1.5, errors: errors.minimal }),
    fig('thinkgate', c, { tokens: 100_000, cpuS: thinkgateCpu, ttft: 1.75, errors: errors.thinkgate }),
    fig('thinkgate-forcing', c, { tokens: 100_000, cpuS: 2 * thinkgateCpu, ttft: 1.8, errors: errors['thinkgate-forcing'] }),
  ];
  addDirectDeltas(l);
  return l;
}

function scenarios(): ScenarioFigures[] {
  return [
    {
      name: 'fast',
      // 100k tokens: 0.4 s -> 4 us per token for minimal, 0.4 s too for thinkgate at 1 (1.0x); 0.5 s at 64 (1.25x).
      levels: [level(1, 0.4, 0.4), level(64, 0.4, 0.5)],
      perRequest: [
        // minimal: 1 ms per request; thinkgate: 1.4 ms (1.4x, met); both 5 us per token.
        perRequestFigures('minimal', { cpuS: 100 * (0.001 + 5e-6), requests: 100, tokens: 100 }, { cpuS: 100 * (0.001 + 2000 * 5e-6), requests: 100, tokens: 200_000 }, 0),
        perRequestFigures('thinkgate', { cpuS: 100 * (0.0014 + 5e-6), requests: 100, tokens: 100 }, { cpuS: 100 * (0.0014 + 2000 * 5e-6), requests: 100, tokens: 200_000 }, 0),
      ],
    },
    // Paced at 256: 2.7 vs 3.0 s per 100k tokens: 27 and 30 us per token, 1.11x (met).
    { name: 'paced', levels: [level(256, 2.7, 3.0)], perRequest: null },
    { name: 'stall', levels: [level(512, 0.4, 0.5, { minimal: 3, thinkgate: 0 })], perRequest: null },
  ];
}

describe('bench: thinkgate against the minimal proxy', () => {
  it('divides every figure by the minimal proxy\'s, against issue 14\'s goals', () => {
    const v = vsMinimal(scenarios());
    const by = (what: string) => v.rows.find((r) => r.what === what)!;
    expect(by('CPU per token, fast, 1 stream')).toMatchObject({ minimal: 4, thinkgate: 4, ratio: 1, goal: '<= 1.00x', met: true });
    expect(by('CPU per token, fast, 64 streams')).toMatchObject({ ratio: 1.25, met: false });
    const paced = by('CPU per token, paced, 256 streams');
    expect(paced.minimal).toBeCloseTo(27, 9);
    expect(paced.thinkgate).toBeCloseTo(30, 9);
    expect(paced.ratio).toBeCloseTo(30 / 27, 9);
    expect(paced).toMatchObject({ goal: '<= 1.15x', met: true });
    const perReq = by('CPU per request (intercept of two stream lengths, 1 stream)');
    expect(perReq.minimal).toBeCloseTo(1, 9);
    expect(perReq.thinkgate).toBeCloseTo(1.4, 9);
    expect(perReq.ratio).toBeCloseTo(1.4, 9);
    expect(perReq.met).toBe(true);
    // Added TTFT at 1 stream: minimal +0.5 ms, thinkgate +0.75 ms over direct: the goal is thinkgate's absolute value.
    // The per-request batches carry no TTFT here (no direct in them): the fast level's is used.
    expect(by('added p50 TTFT vs direct, 1 stream, fast level (goal on an idle machine)')).toMatchObject({ minimal: 0.5, thinkgate: 0.75, ratio: 1.5, met: true });
    // Forcing rows are reported without a goal.
    const forcing = v.rows.filter((r) => r.what.includes('budget forcing'));
    expect(forcing.map((r) => [r.ratio, r.goal, r.met])).toEqual([
      [2, null, null],
      [2.5, null, null],
      [60 / 27, null, null],
    ]);
  });

  it('takes added TTFT from the per-request batches when direct ran beside them', () => {
    const s = scenarios();
    const short = { cpuS: 0.1, requests: 100, tokens: 100 };
    const long = { cpuS: 1, requests: 100, tokens: 200_000 };
    s[0]!.perRequest = [
      perRequestFigures('minimal', short, long, 0, { p50Ms: 0.3, directP50Ms: 0.1 }),
      perRequestFigures('thinkgate', short, long, 0, { p50Ms: 1.35, directP50Ms: 0.1 }),
    ];
    expect(s[0]!.perRequest[1]).toMatchObject({ ttftP50Ms: 1.35 });
    expect(s[0]!.perRequest[1]!.addedTtftP50Ms).toBeCloseTo(1.25, 12);
    const rows = vsMinimal(s).rows.filter((r) => r.what.startsWith('added p50 TTFT'));
    // One row, from the 1-token streams (the fast level's 0.75 ms is not used): 1.25 ms is over the goal.
    expect(rows).toHaveLength(1);
    expect(rows[0]!.what).toBe('added p50 TTFT vs direct, 1 stream, 1-token streams (goal on an idle machine)');
    expect(rows[0]!.minimal).toBeCloseTo(0.2, 12);
    expect(rows[0]!.thinkgate).toBeCloseTo(1.25, 12);
    expect(rows[0]!.met).toBe(false);
    // Without direct's reference there is no added TTFT: the fast level's row comes back.
    expect(perRequestFigures('x', short, long, 0, { p50Ms: 1, directP50Ms: null }).addedTtftP50Ms).toBeNull();
    expect(perRequestFigures('x', short, long, 0, { p50Ms: Number.NaN, directP50Ms: 1 })).toMatchObject({ ttftP50Ms: null, addedTtftP50Ms: null });
  });

  it('counts broken streams of every target at every level of every scenario', () => {
    const v = vsMinimal(scenarios());
    expect(v.broken.map((b) => [b.scenario, b.concurrency])).toEqual([
      ['fast', 1],
      ['fast', 64],
      ['paced', 256],
      ['stall', 512],
    ]);
    expect(v.broken[3]!.byTarget).toMatchObject({ minimal: { errors: 3, requests: 10 }, thinkgate: { errors: 0, requests: 10 } });
  });

  it('leaves out what was not measured instead of inventing a ratio', () => {
    const v = vsMinimal([{ name: 'fast', levels: [level(1, 0, 0.4)], perRequest: null }]);
    // Minimal CPU 0 (under one clock tick): no ratio, no verdict.
    expect(v.rows[0]).toMatchObject({ minimal: 0, ratio: null, met: null });
    expect(v.rows.some((r) => r.what.startsWith('CPU per request'))).toBe(false);
    expect(vsMinimal([{ name: 'fast', levels: [[fig('direct', 1, { tokens: 10, cpuS: null, ttft: 1 })]], perRequest: null }]).rows).toEqual([]);
    expect(ratio(1, null)).toBeNull();
    expect(ratio(null, 1)).toBeNull();
    expect(ratio(3, 2)).toBe(1.5);
    // The minimal proxy's added TTFT below direct's (noise): no ratio, thinkgate's value still judged.
    expect(ratio(5, -0.9)).toBeNull();
    const l = level(1, 0.4, 0.4);
    l.find((f) => f.target === 'minimal')!.addedTtftMs = { p50: -0.9, p99: 0 };
    const ttft = vsMinimal([{ name: 'fast', levels: [l], perRequest: null }]).rows.find((r) => r.what.startsWith('added p50 TTFT'))!;
    expect(ttft).toMatchObject({ minimal: -0.9, thinkgate: 0.75, ratio: null, met: true });
  });

  it('renders the ratios, the goals, the load average and the broken streams', () => {
    const md = renderVsMinimal(vsMinimal(scenarios()), { start: [0.5, 0.25, 0.1], end: [1, 0.5, 0.2] });
    expect(md).toContain('Load average 0.5 0.3 0.1 at start, 1.0 0.5 0.2 at end');
    expect(md).toContain('| CPU per token, fast, 64 streams | 4.0 us | 5.0 us | **1.25x** | <= 1.00x | **no** |');
    expect(md).toContain('| CPU per request (intercept of two stream lengths, 1 stream) | 1.000 ms | 1.400 ms | **1.40x** | <= 1.50x | yes |');
    expect(md).toContain('| scenario | streams | direct | minimal | thinkgate | thinkgate-forcing |');
    expect(md).toContain('| stall | 512 | 0 / 10 | **3** / 10 | 0 / 10 | 0 / 10 |');
  });
});
