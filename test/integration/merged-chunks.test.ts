/**
 * Issue 14, item 1: one upstream read's deltas reach the client as fewer, larger chat chunks
 * (response.max_tokens_per_chunk, backends/coalesce.ts), with nothing else changed. Two gateways,
 * each in front of its own simulator in fast mode (64 tokens per write): one merges up to 16
 * tokens per chunk (the default), one sends a chunk per token. The same requests must give the
 * same thinking, answer, usage, budget_forcing and logprobs from both; only the chunking differs.
 * Runs with stop strings, and a key with a thinking quota, always get a chunk per token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/stack.js';

const KEYS = [
  { name: 'open', key: 'sk-open' },
  { name: 'metered', key: 'sk-metered', thinking_quota: { day: 1_000_000 } },
];

let merged: Stack;
let perToken: Stack;
beforeAll(async () => {
  const config = (chunk: number) => ({ auth: { keys: KEYS }, response: { max_tokens_per_chunk: chunk } });
  [merged, perToken] = await Promise.all([
    startStack({ sim: { thinkTokens: 200, tokenDelayMs: 0 }, config: config(16) }),
    startStack({ sim: { thinkTokens: 200, tokenDelayMs: 0 }, config: config(1) }),
  ]);
});
afterAll(async () => Promise.all([merged?.close(), perToken?.close()]));

interface Chunk {
  choices: Array<{
    delta: { reasoning_content?: string; content?: string };
    logprobs?: { content: unknown[] | null } | null;
    finish_reason: string | null;
  }>;
  usage?: Record<string, unknown> | null;
  budget_forcing?: Record<string, unknown>;
}

async function stream(s: Stack, body: Record<string, unknown>, key = 'sk-open') {
  const res = await fetch(`${s.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: 'sim-r1', messages: [{ role: 'user', content: 'What is 6 times 7?' }], stream: true, stream_options: { include_usage: true }, ...body }),
  });
  expect(res.status).toBe(200);
  const text = await res.text();
  const data = text.split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice(6));
  expect(data.at(-1)).toBe('[DONE]');
  const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as Chunk);
  const textChunks = chunks.filter((c) => c.choices[0]?.delta.reasoning_content || c.choices[0]?.delta.content);
  const last = chunks.at(-1)!;
  return {
    reasoning: chunks.map((c) => c.choices[0]?.delta.reasoning_content ?? '').join(''),
    content: chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''),
    logprobs: chunks.flatMap((c) => c.choices[0]?.logprobs?.content ?? []),
    /** Tokens per text chunk, from its logprobs entries (with logprobs: true). */
    perChunk: textChunks.map((c) => c.choices[0]?.logprobs?.content?.length ?? 0),
    textChunks: textChunks.length,
    usage: last.usage,
    budgetForcing: chunks.find((c) => c.budget_forcing !== undefined)?.budget_forcing,
  };
}

describe('merged chunks (response.max_tokens_per_chunk)', () => {
  it.each([
    ['natural thinking', {}],
    ['an extension below m', { min_thinking_tokens: 260, max_thinking_extensions: 2 }],
    ['a forced close at M', { max_thinking_tokens: 90 }],
  ])('%s: the same thinking, answer, usage, budget_forcing and logprobs, in fewer chunks of at most 16 tokens', async (_name, budget) => {
    const body = { ...budget, temperature: 0, logprobs: true, top_logprobs: 1 };
    const [a, b] = await Promise.all([stream(merged, body), stream(perToken, body)]);
    expect(a.reasoning.length).toBeGreaterThan(0);
    expect(a.content).toContain('42');
    expect({ ...a, perChunk: undefined, textChunks: undefined }).toEqual({ ...b, perChunk: undefined, textChunks: undefined });
    // A kept delimiter's or end of turn's entry rides on the next text chunk (docs/api.md, "Logprobs").
    expect(Math.max(...b.perChunk)).toBeLessThanOrEqual(2);
    expect(Math.max(...a.perChunk)).toBeLessThanOrEqual(16 + 1);
    // The simulator writes 64 tokens at a time: most chunks carry many of them.
    expect(a.textChunks * 4).toBeLessThan(b.textChunks);
  });

  it('a run with stop strings gets a chunk per token (the ids past a stop string must not count)', async () => {
    const body = { temperature: 0, logprobs: true, stop: ['never appears'] };
    const [a, b] = await Promise.all([stream(merged, body), stream(perToken, body)]);
    expect(a).toEqual(b); // the chunking too
  });

  it('a key with a thinking quota gets a chunk per token (its meter counts between chunks)', async () => {
    const body = { temperature: 0, logprobs: true };
    const [a, b] = await Promise.all([stream(merged, body, 'sk-metered'), stream(perToken, body, 'sk-metered')]);
    expect(a).toEqual(b); // the chunking too
  });
});
