/**
 * Budget forcing end to end: openai SDK -> thinkgate -> vLLM simulator, over real sockets.
 * The simulator thinks 30 tokens by itself, 10 after each "Wait", answers in 12.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type OpenAI from 'openai';
import { countTokens, segmentRequests, startStack, templateRequests, type Stack } from '../support/stack.js';

type Reasoned = { reasoning_content?: string | null; reasoning?: string | null; content?: string | null };
interface BudgetForcing {
  thinking_tokens: number;
  extensions: number;
  truncated: boolean;
  segments: number;
}

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => stack.close());

const ask = (extra: Record<string, unknown>): Record<string, unknown> => ({
  model: 'sim-r1',
  messages: [{ role: 'user', content: 'What is 6 x 7?' }],
  temperature: 0,
  ...extra,
});

/** The simulator's own rendering of the chat template for `messages` (its real /tokenize). */
async function renderedPrompt(messages: unknown): Promise<number[]> {
  const res = await fetch(`${stack.sim.url}/tokenize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'sim-r1', messages }) });
  return ((await res.json()) as { tokens: number[] }).tokens;
}

async function complete(extra: Record<string, unknown>) {
  const res = (await stack.client.chat.completions.create(ask(extra) as never)) as OpenAI.ChatCompletion & { budget_forcing: BudgetForcing };
  const msg = res.choices[0]!.message as OpenAI.ChatCompletionMessage & Reasoned;
  return { res, msg, reasoning: msg.reasoning_content ?? '', content: msg.content };
}

async function streamed(extra: Record<string, unknown>) {
  const stream = await stack.client.chat.completions.create({ ...ask(extra), stream: true, stream_options: { include_usage: true } } as never);
  let reasoning = '';
  let content = '';
  let finish: string | null = null;
  let last: (OpenAI.ChatCompletionChunk & { budget_forcing?: BudgetForcing }) | undefined;
  for await (const chunk of stream as unknown as AsyncIterable<OpenAI.ChatCompletionChunk & { budget_forcing?: BudgetForcing }>) {
    const d = chunk.choices[0]?.delta as (Reasoned & object) | undefined;
    reasoning += d?.reasoning_content ?? '';
    content += d?.content ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
    last = chunk;
  }
  return { reasoning, content, finish, last: last! };
}

describe('chat completions with budgets (non-stream)', () => {
  it('without budgets relays the model: 30 thinking tokens, an answer, one segment', async () => {
    const { res, msg, reasoning, content } = await complete({});
    expect(res.budget_forcing).toEqual({ thinking_tokens: 30, extensions: 0, truncated: false, segments: 1 });
    expect(res.usage?.completion_tokens_details?.reasoning_tokens).toBe(30);
    expect(await countTokens(stack.sim, reasoning)).toBe(30);
    expect(msg.reasoning).toBe(reasoning);
    expect(content).toMatch(/\S/);
    expect(content).not.toContain('</think>');
    expect(res.choices[0]!.finish_reason).toBe('stop');
  });

  it('max_thinking_tokens: 10 returns exactly 10 reasoning tokens and truncated: true', async () => {
    const { res, reasoning, content } = await complete({ max_thinking_tokens: 10 });
    expect(res.budget_forcing).toEqual({ thinking_tokens: 10, extensions: 0, truncated: true, segments: 2 });
    expect(res.usage?.completion_tokens_details?.reasoning_tokens).toBe(10);
    expect(await countTokens(stack.sim, reasoning)).toBe(10);
    expect(content).toMatch(/\S/);
    // The continuation re-sent the prompt plus what was generated: vLLM's prefix cache served it.
    // (A first segment through the chat endpoint sends the messages; the template renders them.)
    const [first, second] = segmentRequests(stack.sim).slice(-2).map((r) => r.body as { prompt?: number[]; max_tokens: number });
    expect(first!.max_tokens).toBe(10);
    const prompt = first!.prompt ?? (await renderedPrompt(ask({}).messages));
    expect(second!.prompt!.slice(0, prompt.length)).toEqual(prompt);
  });

  it('min_thinking_tokens: 50 returns at least 50, every Wait visible and counted', async () => {
    const { res, reasoning } = await complete({ min_thinking_tokens: 50 });
    const bf = res.budget_forcing;
    expect(bf.thinking_tokens).toBeGreaterThanOrEqual(50);
    // 30 + Wait + 10 = 41, + Wait + 10 = 52.
    expect(bf).toEqual({ thinking_tokens: 52, extensions: 2, truncated: false, segments: 4 });
    expect(reasoning.match(/Wait/g)?.length).toBe(bf.extensions);
    expect(await countTokens(stack.sim, reasoning)).toBe(52);
  });

  it('min and max together: extends, then truncates at M', async () => {
    const { res } = await complete({ min_thinking_tokens: 40, max_thinking_tokens: 35 }).catch((e: unknown) => ({ res: e as never }));
    expect((res as unknown as { status: number }).status).toBe(400); // m > M
    const ok = await complete({ min_thinking_tokens: 35, max_thinking_tokens: 36 });
    expect(ok.res.budget_forcing).toEqual({ thinking_tokens: 36, extensions: 1, truncated: true, segments: 3 });
  });

  it('max_thinking_tokens: 0 skips thinking', async () => {
    const { res, msg, content } = await complete({ max_thinking_tokens: 0 });
    expect(res.budget_forcing).toEqual({ thinking_tokens: 0, extensions: 0, truncated: false, segments: 1 });
    expect(msg.reasoning_content ?? null).toBeNull();
    expect(content).toMatch(/\S/);
  });

  it('max_tokens bounds thinking + answer and ends with length', async () => {
    const { res } = await complete({ max_tokens: 20 });
    expect(res.choices[0]!.finish_reason).toBe('length');
    expect(res.budget_forcing).toMatchObject({ thinking_tokens: 20, truncated: true });
    expect(res.choices[0]!.message.content).toBe('');
  });

  it('an EOS that lands exactly on max_tokens ends the answer cleanly (vLLM says length)', async () => {
    const plain = await complete({});
    // One segment generated thinking + </think> + answer + EOS: ask for exactly that many.
    const exact = await complete({ max_tokens: plain.res.usage!.completion_tokens });
    expect(exact.res.choices[0]!.finish_reason).toBe('stop');
    expect(exact.content).toBe(plain.content);
    expect(exact.res.usage).toEqual(plain.res.usage);
  });

  it('accepts the aliases thinking_token_budget and thinking.budget_tokens, and reasoning_effort none', async () => {
    expect((await complete({ thinking_token_budget: 7 })).res.budget_forcing.thinking_tokens).toBe(7);
    expect((await complete({ thinking: { type: 'enabled', budget_tokens: 8 } })).res.budget_forcing.thinking_tokens).toBe(8);
    expect((await complete({ thinking: { type: 'disabled' } })).res.budget_forcing.thinking_tokens).toBe(0);
    expect((await complete({ reasoning_effort: 'none' })).res.budget_forcing.thinking_tokens).toBe(0);
  });

  it('applies client stop strings to the answer only', async () => {
    const plain = await complete({});
    const firstThinkingWord = plain.reasoning.trim().split(/\s+/)[0]!;
    const answerWord = plain.content!.trim().split(/\s+/)[1]!;
    const { reasoning, content } = await complete({ stop: [firstThinkingWord, answerWord] });
    expect(reasoning).toBe(plain.reasoning);
    expect(content!.length).toBeLessThan(plain.content!.length);
    expect(content).not.toContain(answerWord);
  });
});

describe('chat completions with budgets (stream)', () => {
  it('stream and non-stream agree token for token, with forcing', async () => {
    for (const extra of [{}, { max_thinking_tokens: 10 }, { min_thinking_tokens: 50 }, { min_thinking_tokens: 35, max_thinking_tokens: 45 }]) {
      const a = await complete(extra);
      const b = await streamed(extra);
      expect(b.reasoning).toBe(a.reasoning);
      expect(b.content).toBe(a.content);
      expect(b.finish).toBe(a.res.choices[0]!.finish_reason);
      expect(b.last.choices).toEqual([]);
      expect(b.last.usage).toEqual(a.res.usage);
      expect(b.last.budget_forcing).toEqual(a.res.budget_forcing);
    }
  });

  it('max_thinking_tokens: 10 streams exactly 10 reasoning tokens', async () => {
    const s = await streamed({ max_thinking_tokens: 10 });
    expect(await countTokens(stack.sim, s.reasoning)).toBe(10);
    expect(s.last.budget_forcing).toEqual({ thinking_tokens: 10, extensions: 0, truncated: true, segments: 2 });
    expect(s.last.usage?.completion_tokens_details?.reasoning_tokens).toBe(10);
  });

  it('without include_usage puts budget_forcing on the finish chunk and ends with [DONE]', async () => {
    const res = await fetch(`${stack.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...ask({ max_thinking_tokens: 5 }), stream: true }),
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = await res.text();
    const events = text.split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    expect(events.every((e) => e.startsWith('data: '))).toBe(true); // no named events
    const finish = JSON.parse(events.at(-2)!.slice(6)) as { choices: { finish_reason: string }[]; budget_forcing: BudgetForcing };
    expect(finish.choices[0]!.finish_reason).toBe('stop');
    expect(finish.budget_forcing).toEqual({ thinking_tokens: 5, extensions: 0, truncated: true, segments: 2 });
  });
});

describe('profiles and templates', () => {
  it('drives an s1 model with its multi-token delimiters', async () => {
    const { res, reasoning, content } = await complete({ model: 'sim-s1', max_thinking_tokens: 12 });
    expect(res.budget_forcing).toEqual({ thinking_tokens: 12, extensions: 0, truncated: true, segments: 2 });
    expect(reasoning).not.toContain('<|im_start|>');
    expect(content).toMatch(/\S/);
    const s1min = await complete({ model: 'sim-s1', min_thinking_tokens: 35 });
    // s1's opening has no newline: the model writes "\n" itself, and it is thinking: 31 + Wait + 10.
    expect(s1min.res.budget_forcing).toEqual({ thinking_tokens: 42, extensions: 1, truncated: false, segments: 2 });
    expect(s1min.reasoning).toContain('Wait');
  });

  it('opens thinking itself for a Qwen3-style template and passes chat_template_kwargs through', async () => {
    const on = await complete({ model: 'sim-qwen3', max_thinking_tokens: 10 });
    expect(on.res.budget_forcing.thinking_tokens).toBe(10);
    const off = await complete({ model: 'sim-qwen3', chat_template_kwargs: { enable_thinking: false } });
    expect(off.res.budget_forcing).toEqual({ thinking_tokens: 0, extensions: 0, truncated: false, segments: 1 });
    const tokenize = templateRequests(stack.sim).map((r) => r.body as Record<string, unknown>);
    expect(tokenize.some((b) => JSON.stringify(b.chat_template_kwargs) === '{"enable_thinking":false}')).toBe(true);
  });
});
