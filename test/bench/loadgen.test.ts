/**
 * The load generator against the real thing on loopback: the simulator's own chat endpoint
 * (the bench's `direct` target) and the gateway in front of it, relay and forcing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mergeBatches } from '../../bench/batch.js';
import { computeFigures, addDirectDeltas } from '../../bench/figures.js';
import { runBatch } from '../../bench/loadgen.js';
import { forcingBudget } from '../../bench/settings.js';
import { startStack, type Stack } from '../support/stack.js';

const THINK = 40;
const EXTEND = 10;
const ANSWER = 8;

describe('bench load generator', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ sim: { thinkTokens: THINK, extendTokens: EXTEND, answerTokens: ANSWER } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const body = (extra: Record<string, unknown> = {}): string =>
    JSON.stringify({
      model: 'sim-r1',
      messages: [{ role: 'user', content: 'What is 6 x 7?' }],
      stream: true,
      stream_options: { include_usage: true },
      ...extra,
    });

  it('streams from the simulator directly and through the gateway with the same token count', async () => {
    const direct = await runBatch({ url: `${stack.sim.url}/v1/chat/completions`, body: body(), concurrency: 4, requests: 10 });
    const relay = await runBatch({ url: `${stack.url}/v1/chat/completions`, body: body(), concurrency: 4, requests: 10 });
    for (const b of [direct, relay]) {
      expect(b).toMatchObject({ requests: 10, ok: 10, errors: 0, withUsage: 10 });
      expect(b.ttftMs).toHaveLength(10);
      expect(b.ttfaMs).toHaveLength(10);
    }
    // Same scripted model: the same completion tokens per request, whichever way it was reached.
    expect(relay.relayedTokens).toBe(direct.relayedTokens);
    expect(direct.relayedTokens / 10).toBeGreaterThan(THINK + ANSWER);
    expect(relay.bf).toMatchObject({ n: 10, segments: 10, extensions: 0, truncated: 0 });

    const level = [
      computeFigures('direct', 4, mergeBatches([direct]), []),
      computeFigures('thinkgate', 4, mergeBatches([relay]), []),
    ];
    addDirectDeltas(level);
    expect(level[0]!.addedTtftMs).toBeNull();
    expect(level[1]!.addedTtftMs!.p50).toBeCloseTo(level[1]!.ttftMs.p50 - level[0]!.ttftMs.p50, 9);
  });

  it('sees two extensions and a truncation with the forcing budget', async () => {
    const m = forcingBudget(THINK, EXTEND);
    const b = await runBatch({
      url: `${stack.url}/v1/chat/completions`,
      body: body({ min_thinking_tokens: m, max_thinking_tokens: m }),
      concurrency: 2,
      requests: 4,
    });
    expect(b).toMatchObject({ ok: 4, errors: 0 });
    expect(b.bf).toEqual({ n: 4, segments: 16, extensions: 8, truncated: 4, thinkingTokens: 4 * m });
  });

  it('counts HTTP errors and refused connections as errors', async () => {
    const bad = await runBatch({ url: `${stack.url}/v1/chat/completions`, body: body({ model: 42 }), concurrency: 1, requests: 2 });
    expect(bad).toMatchObject({ requests: 2, ok: 0, errors: 2 });
    expect(bad.errorSamples[0]).toMatch(/^HTTP 400/);
  });
});
