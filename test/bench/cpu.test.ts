import { describe, expect, it } from 'vitest';
import { perRequestFigures, splitCpu, usPerToken } from '../../bench/cpu.js';

describe('bench CPU per token and per request', () => {
  it('splits CPU into a per-request and a per-token part from two stream lengths', () => {
    // A proxy that costs 1 ms per request and 20 us per token: 100 requests of 1 token and
    // 100 of 2,000 tokens.
    const short = { cpuS: 100 * (0.001 + 1 * 20e-6), requests: 100, tokens: 100 };
    const long = { cpuS: 100 * (0.001 + 2000 * 20e-6), requests: 100, tokens: 200_000 };
    const s = splitCpu(short, long)!;
    expect(s.perRequestS).toBeCloseTo(0.001, 12);
    expect(s.perTokenS).toBeCloseTo(20e-6, 12);
  });

  it('works from per-request averages, whatever the request counts', () => {
    const s = splitCpu({ cpuS: 0.3, requests: 300, tokens: 300 }, { cpuS: 0.5, requests: 10, tokens: 1010 })!;
    // 1 ms per 1-token request, 50 ms per 101-token request: 0.49 ms per token, 0.51 ms per request.
    expect(s.perTokenS).toBeCloseTo(0.049 / 100, 12);
    expect(s.perRequestS).toBeCloseTo(0.001 - 0.049 / 100, 12);
  });

  it('has no answer without two distinct lengths or without requests', () => {
    expect(splitCpu({ cpuS: 1, requests: 10, tokens: 100 }, { cpuS: 2, requests: 10, tokens: 100 })).toBeNull();
    expect(splitCpu({ cpuS: 1, requests: 10, tokens: 200 }, { cpuS: 2, requests: 10, tokens: 100 })).toBeNull();
    expect(splitCpu({ cpuS: 0, requests: 0, tokens: 0 }, { cpuS: 2, requests: 10, tokens: 100 })).toBeNull();
    expect(splitCpu({ cpuS: 1, requests: 10, tokens: 10 }, { cpuS: 0, requests: 0, tokens: 0 })).toBeNull();
  });

  it('converts CPU seconds per 1k tokens to microseconds per token', () => {
    expect(usPerToken(0.0077)).toBeCloseTo(7.7, 12);
    expect(usPerToken(null)).toBeNull();
    expect(usPerToken(undefined)).toBeNull();
  });

  it('reports the 1-token CPU and the split for one proxy', () => {
    const f = perRequestFigures('thinkgate', { cpuS: 0.2, requests: 100, tokens: 100 }, { cpuS: 1.2, requests: 100, tokens: 10_100 }, 0);
    expect(f.shortCpuPerRequestMs).toBeCloseTo(2, 12);
    // 2 ms for 1 token, 12 ms for 101 tokens: 0.1 ms per token, 1.9 ms per request.
    expect(f.split!.perTokenS).toBeCloseTo(1e-4, 12);
    expect(f.split!.perRequestS).toBeCloseTo(0.0019, 12);
    expect(perRequestFigures('x', { cpuS: 0, requests: 0, tokens: 0 }, { cpuS: 0, requests: 0, tokens: 0 }, 3)).toMatchObject({ shortCpuPerRequestMs: null, split: null, errors: 3 });
  });
});
