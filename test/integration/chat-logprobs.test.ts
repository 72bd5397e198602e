/**
 * Chat logprobs end to end: HTTP client -> thinkgate -> vLLM simulator (its /v1/completions
 * answers `logprobs: k` with `return_token_ids` as vLLM 0.32 does), over real sockets. Every
 * generated id the run keeps has one entry, in order, for the thinking and the answer; what
 * thinkgate inserts (the forced close, "Wait") and what it drops (a close below m) have none.
 * Stream and non-stream give the same entries.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack, segmentRequests } from '../support/stack.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
interface Entry {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => stack.close());

const body = (extra: Json): Json => ({
  model: 'sim-r1',
  messages: [{ role: 'user', content: 'What is 6 x 7?' }],
  temperature: 0,
  logprobs: true,
  top_logprobs: 3,
  ...extra,
});

async function post(path: string, b: Json): Promise<{ status: number; json: Json; text: string }> {
  const res = await fetch(`${stack.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) });
  const text = await res.text();
  let json: Json = {};
  try {
    json = JSON.parse(text) as Json;
  } catch {
    // an SSE body
  }
  return { status: res.status, json, text };
}

async function complete(extra: Json) {
  const { status, json } = await post('/v1/chat/completions', body(extra));
  expect(status).toBe(200);
  const choice = json.choices[0];
  return { json, choice, entries: (choice.logprobs?.content ?? null) as Entry[] | null, reasoning: choice.message.reasoning_content ?? '', content: choice.message.content as string };
}

async function streamed(extra: Json): Promise<Entry[][]> {
  const { status, text } = await post('/v1/chat/completions', body({ ...extra, stream: true }));
  expect(status).toBe(200);
  const perChoice: Entry[][] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('data: {')) continue;
    const chunk = JSON.parse(line.slice(6)) as Json;
    for (const c of chunk.choices as Json[]) {
      (perChoice[c.index] ??= []).push(...((c.logprobs?.content ?? []) as Entry[]));
    }
  }
  return perChoice;
}

const tokensOf = (entries: Entry[] | null): string => (entries ?? []).map((e) => e.token).join('');
const lastSegments = (n: number) => segmentRequests(stack.sim).slice(-n).map((r) => r.body as Json);

describe('chat logprobs through the simulator', () => {
  it('without budgets: one entry per generated id, thinking, </think>, answer and end of turn', async () => {
    const { json, entries, reasoning, content } = await complete({});
    expect(entries).toHaveLength(json.usage.completion_tokens);
    expect(tokensOf(entries)).toBe(`${reasoning}</think>${content}<|im_end|>`);
    for (const e of entries!) {
      expect(e.bytes).toEqual([...Buffer.from(e.token, 'utf8')]);
      expect(e.top_logprobs).toHaveLength(3);
      expect(e.top_logprobs[0]).toEqual({ token: e.token, logprob: e.logprob, bytes: e.bytes });
      expect(e.logprob).toBeLessThanOrEqual(0);
    }
    expect(lastSegments(1)[0]).toMatchObject({ logprobs: 3, return_token_ids: true });
  });

  it('max_thinking_tokens: the forced close is inserted prompt: no entries for it', async () => {
    const { json, entries, reasoning, content } = await complete({ max_thinking_tokens: 10 });
    expect(json.budget_forcing).toMatchObject({ thinking_tokens: 10, truncated: true, segments: 2 });
    expect(tokensOf(entries)).toBe(`${reasoning}${content}<|im_end|>`);
    const close = await tokenCount('\n</think>\n\n');
    expect(entries).toHaveLength(json.usage.completion_tokens - close);
    // Every segment asked for them.
    expect(lastSegments(2).map((b) => b.logprobs)).toEqual([3, 3]);
  });

  it('min_thinking_tokens: the dropped close and the inserted "Wait" have none', async () => {
    const { json, entries, reasoning, content } = await complete({ min_thinking_tokens: 40 });
    expect(json.budget_forcing.extensions).toBe(1);
    expect(tokensOf(entries)).toBe(`${reasoning.replace('Wait', '')}</think>${content}<|im_end|>`);
    expect(entries).toHaveLength(json.usage.completion_tokens - (await tokenCount('Wait')));
  });

  it('stream: the same entries as non-stream, each on the chunk of its tokens', async () => {
    for (const extra of [{}, { max_thinking_tokens: 10 }, { min_thinking_tokens: 40 }, { stop: ['42'] }]) {
      const { entries } = await complete(extra);
      const [got] = await streamed(extra);
      expect(got, JSON.stringify(extra)).toEqual(entries);
    }
  });

  it('n = 2: each choice its own entries', async () => {
    const { json } = await complete({ n: 2, seed: 7, temperature: 1, max_thinking_tokens: 8 });
    for (const c of json.choices as Json[]) {
      expect(tokensOf(c.logprobs.content)).toBe(`${c.message.reasoning_content}${c.message.content}<|im_end|>`);
    }
    const s = await streamed({ n: 2, seed: 7, temperature: 1, max_thinking_tokens: 8 });
    expect(s).toEqual((json.choices as Json[]).map((c) => c.logprobs.content));
  });

  it('top_logprobs 0 and logprobs absent', async () => {
    const zero = await complete({ top_logprobs: 0 });
    expect(zero.entries!.every((e) => e.top_logprobs.length === 0)).toBe(true);
    const none = await complete({ logprobs: undefined, top_logprobs: undefined });
    expect(none.choice.logprobs).toBeNull();
    expect(lastSegments(1)[0]!.logprobs).toBeUndefined();
  });

  const refused: [string, Json, string][] = [
    ['top_logprobs without logprobs', { logprobs: false, top_logprobs: 2 }, 'top_logprobs'],
    ['top_logprobs above 20', { top_logprobs: 21 }, 'top_logprobs'],
    ['top_logprobs -1', { top_logprobs: -1 }, 'top_logprobs'],
    ['top_logprobs a string', { top_logprobs: '3' }, 'top_logprobs'],
    ['top_logprobs huge', { top_logprobs: 1e300 }, 'top_logprobs'],
    ['logprobs a number', { logprobs: 5 }, 'logprobs'],
    ['prompt_logprobs', { prompt_logprobs: 1 }, 'prompt_logprobs'],
    ['logprob_token_ids', { logprob_token_ids: [1, 2] }, 'logprob_token_ids'],
  ];
  for (const [name, extra, param] of refused) {
    it(`400 naming ${param}: ${name}`, async () => {
      const { status, json } = await post('/v1/chat/completions', body(extra));
      expect(status).toBe(400);
      expect(json.error.param).toBe(param);
    });
  }

  it('/v1/completions: logprobs with a budget is refused naming logprobs; without one it is relayed as before', async () => {
    const bad = await post('/v1/completions', { model: 'sim-r1', prompt: 'Hi', max_tokens: 4, logprobs: 1, max_thinking_tokens: 5 });
    expect(bad.status).toBe(400);
    expect(bad.json.error.param).toBe('logprobs');
    const res = await fetch(`${stack.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'sim-r1', prompt: 'Hi', max_tokens: 4, logprobs: 1 }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-thinkgate-relay')).toBe('logprobs');
    const j = (await res.json()) as Json;
    expect(j.choices[0].logprobs.tokens).toHaveLength(4);
  });
});

async function tokenCount(text: string): Promise<number> {
  const res = await fetch(`${stack.sim.url}/tokenize`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'sim-r1', prompt: text, add_special_tokens: false }),
  });
  return ((await res.json()) as { tokens: number[] }).tokens.length;
}
