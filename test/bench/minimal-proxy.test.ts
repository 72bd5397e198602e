/**
 * The bench's floor, ./minimal-proxy.mjs, as the bench runs it (its own process, plain node)
 * in front of the simulator: it must relay what direct access gives, token for token, or the
 * ratios to it mean nothing; and the stalled-loop timer of ./stall.mjs must block the loop.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBatch } from '../../bench/loadgen.js';
import { startMinimalProxy, type Child } from '../../bench/procs.js';
import { installStall } from '../../bench/stall.mjs';
import { startSimulator, type Simulator } from '../../src/sim/server.js';
import { until } from '../support/wait.js';

const body = (extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ model: 'sim-r1', messages: [{ role: 'user', content: 'What is 6 x 7?' }], stream: true, stream_options: { include_usage: true }, ...extra });

describe('bench minimal proxy', () => {
  let sims: Simulator[];
  let proxy: Child & { url: string };
  beforeAll(async () => {
    sims = await Promise.all([0, 1].map(() => startSimulator({ thinkTokens: 40, answerTokens: 8, tokensPerWrite: 1 })));
    proxy = await startMinimalProxy(sims.map((s) => s.url));
  }, 60_000);
  afterAll(async () => {
    await proxy?.stop();
    await Promise.all((sims ?? []).map((s) => s.close()));
  });

  it('relays the same tokens as direct access, spread over every upstream', async () => {
    const direct = await runBatch({ url: `${sims[0]!.url}/v1/chat/completions`, body: body(), concurrency: 2, requests: 4 });
    const before = sims.map((s) => s.stats().completed);
    const viaProxy = await runBatch({ url: `${proxy.url}/v1/chat/completions`, body: body(), concurrency: 4, requests: 8 });
    expect(viaProxy.errors).toBe(0);
    expect(viaProxy.ok).toBe(8);
    expect(viaProxy.relayedTokens / 8).toBe(direct.relayedTokens / 4);
    expect(viaProxy.tokenChunks / 8).toBe(direct.tokenChunks / 4);
    // Round robin: each simulator served half.
    expect(sims.map((s, i) => s.stats().completed - before[i]!)).toEqual([4, 4]);
  });

  it('passes an upstream error status and body through', async () => {
    const r = await runBatch({ url: `${proxy.url}/v1/chat/completions`, body: body({ model: 'nope' }), concurrency: 1, requests: 1 });
    expect(r.errors).toBe(1);
    expect(r.errorSamples[0]).toMatch(/^HTTP 404: .*nope/);
  });

  it('aborts the upstream request when the client leaves', async () => {
    for (const s of sims) s.setOptions({ tokenDelayMs: 50 });
    try {
      const ac = new AbortController();
      const res = await fetch(`${proxy.url}/v1/chat/completions`, { method: 'POST', body: body(), signal: ac.signal });
      const reader = res.body!.getReader();
      await reader.read();
      const aborted = sims.reduce((t, s) => t + s.stats().aborted, 0);
      ac.abort();
      await until(() => sims.reduce((t, s) => t + s.stats().aborted, 0) === aborted + 1, 10_000);
    } finally {
      for (const s of sims) s.setOptions({ tokenDelayMs: 0 });
    }
  });
});

describe('bench stalled loop', () => {
  it('is off unless both variables are set', () => {
    expect(installStall({})).toBeNull();
    expect(installStall({ BENCH_STALL_MS: '100' })).toBeNull();
    expect(installStall({ BENCH_STALL_MS: '0', BENCH_STALL_EVERY_MS: '10' })).toBeNull();
  });

  it('blocks the event loop for BENCH_STALL_MS', async () => {
    const timer = installStall({ BENCH_STALL_MS: '150', BENCH_STALL_EVERY_MS: '20' })!;
    try {
      // 1 ms timers, one after the other for 400 ms: one of them waits out a whole stall.
      let worst = 0;
      const start = performance.now();
      while (performance.now() - start < 400) {
        const t0 = performance.now();
        await new Promise((r) => setTimeout(r, 1));
        worst = Math.max(worst, performance.now() - t0);
      }
      expect(worst).toBeGreaterThanOrEqual(100);
    } finally {
      clearInterval(timer);
    }
  });
});
