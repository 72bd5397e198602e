/**
 * Assistant prefills on real servers (issue 13, item 6): the tiny steered Qwen3 (real tokenizer
 * and chat template) on llama-server and vLLM, through the recording proxy, so the budget is
 * checked in the server's own ids. Qwen3's template renders a final assistant turn as
 * `<think>\n{reasoning}\n</think>\n\n{content}`; a content that opens `<think>` again leaves the
 * model inside thinking, one with `</think>` in it leaves it in the answer.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type OpenAI from 'openai';
import './backends.js';
import type { RealBackend } from './backends.js';
import { startRealStack, tokenizeOn, type RealStack } from './stack.js';
import { COMPLETION_PATH, link, segmentOf } from './transcript.js';

interface BudgetForcing {
  thinking_tokens: number;
  extensions: number;
  truncated: boolean;
  segments: number;
  prefill?: { phase: string; thinking_tokens: number };
}
type Completion = OpenAI.ChatCompletion & { budget_forcing: BudgetForcing };
type Msg = OpenAI.ChatCompletionMessage & { reasoning_content?: string | null };

const THINK = 151667;
const THINK_END = 151668;
const USER = { role: 'user', content: 'What is 6 x 7? Think it over.' };
const INSIDE = '<think>\nSix sevens, let me count them one by one';
const AFTER = '<think>\nSix sevens.\n</think>\n\nThe product is';

/** The prompt the server's own template renders for a prefill, in its ids. */
async function renderOn(b: RealBackend, messages: unknown[]): Promise<number[]> {
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${b.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`${path} on ${b.label}: HTTP ${res.status} ${await res.text()}`);
    return res.json() as Promise<Record<string, unknown>>;
  };
  if (b.kind === 'vllm') {
    return (await post('/tokenize', { model: b.model, messages, add_generation_prompt: false, continue_final_message: true })).tokens as number[];
  }
  const { prompt } = await post('/apply-template', { messages, add_generation_prompt: false, continue_final_message: true });
  return (await post('/tokenize', { content: prompt, add_special: false, parse_special: true })).tokens as number[];
}

const backends = inject('realBackends').filter((b) => b.managed);

describe.each(backends)('$label: assistant prefill', (backend) => {
  let stack: RealStack;
  let forcedClose: number[];
  const path = COMPLETION_PATH[backend.kind];

  beforeAll(async () => {
    stack = await startRealStack(backend);
    forcedClose = await tokenizeOn(backend, '\n</think>\n\n');
  });
  afterAll(async () => stack?.close());

  async function run(content: string, extra: Record<string, unknown>) {
    const from = stack.proxy.exchanges.length;
    const body = {
      model: backend.model,
      messages: [USER, { role: 'assistant', content }],
      continue_final_message: true,
      add_generation_prompt: false,
      temperature: 1,
      top_p: 1,
      seed: 11,
      ...extra,
    };
    const res = (await stack.client.chat.completions.create(body as never)) as Completion;
    const segs = stack.proxy.since(from, path).map((ex) => segmentOf(backend.kind, ex));
    return { res, msg: res.choices[0]!.message as Msg, segs, bf: res.budget_forcing };
  }

  it('inside thinking: the first segment is the server\'s own rendering, and M bounds only the new thinking', async () => {
    const M = 8;
    const { msg, segs, bf } = await run(INSIDE, { max_thinking_tokens: M, max_completion_tokens: 40 });
    const rendered = await renderOn(backend, [USER, { role: 'assistant', content: INSIDE }]);
    expect(segs[0]!.prompt).toEqual(rendered);
    // Nothing was inserted: the prompt ends inside the reopened thinking block.
    expect(rendered.lastIndexOf(THINK)).toBeGreaterThan(rendered.lastIndexOf(THINK_END));
    expect(bf.prefill).toEqual({ phase: 'thinking', thinking_tokens: rendered.length - rendered.lastIndexOf(THINK) - 1 });
    expect(segs[0]!.maxTokens).toBe(M);
    expect(bf.thinking_tokens).toBeLessThanOrEqual(M);
    expect(segs.length).toBe(bf.segments);
    if (bf.truncated) {
      expect(bf.thinking_tokens).toBe(M);
      const l = link(segs[0]!, segs[1]!);
      expect(l.kept).toBe(M);
      expect(l.inserted).toEqual(forcedClose);
    }
    // The reply is the continuation only.
    expect(msg.reasoning_content ?? '').not.toContain('one by one');
  });

  it('after thinking: an answer run without budget, the prefill not repeated', async () => {
    const { msg, segs, bf } = await run(AFTER, { max_thinking_tokens: 2, min_thinking_tokens: 2, max_completion_tokens: 12 });
    const rendered = await renderOn(backend, [USER, { role: 'assistant', content: AFTER }]);
    expect(segs[0]!.prompt).toEqual(rendered);
    expect(bf).toMatchObject({ thinking_tokens: 0, extensions: 0, truncated: false, prefill: { phase: 'answer' } });
    expect(bf.segments).toBe(segs.length);
    // The whole max_completion_tokens goes to the answer: no thinking budget applies.
    expect(segs[0]!.maxTokens).toBe(12);
    expect(msg.reasoning_content ?? null).toBeNull();
    expect(msg.content ?? '').not.toContain('The product is');
  });

  it.runIf(backend.kind === 'vllm')('without budgets, matches vLLM\'s own chat endpoint (temperature 0, and sampled with a seed)', async () => {
    // vLLM here runs with --reasoning-parser qwen3 (servers.ts), which splits its continuation into
    // reasoning and content and drops `</think>` (also repeated ones from content). So both sides
    // are compared as reasoning + content with every `</think>` removed: the same generated text.
    const sampled = [{ temperature: 0 }, { temperature: 1, top_p: 1, seed: 5 }];
    for (const [content, sampling] of sampled.flatMap((s) => [[INSIDE, s], [AFTER, s]] as const)) {
      const body = {
        model: backend.model,
        messages: [USER, { role: 'assistant', content }],
        continue_final_message: true,
        add_generation_prompt: false,
        ...sampling,
        max_completion_tokens: 24,
      };
      const gw = (await stack.client.chat.completions.create(body as never)) as Completion;
      // max_completion_tokens bounds thinking + answer in thinkgate, all generated ids in vLLM
      // (docs/budget-forcing.md): give vLLM the ids the gateway's run generated in all.
      const direct = await fetch(`${backend.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...body, max_completion_tokens: gw.usage!.completion_tokens, skip_special_tokens: false }),
      });
      expect(direct.status).toBe(200);
      const v = ((await direct.json()) as { choices: Array<{ message: { content: string | null; reasoning?: string | null }; finish_reason: string }> }).choices[0]!;
      const m = gw.choices[0]!.message as Msg;
      const norm = (s: string) => s.replaceAll('</think>', '').replace(/<\|im_end\|>$/, '');
      const joined = (m.reasoning_content ?? '') + (m.content ?? '');
      expect(norm(joined)).toBe(norm((v.message.reasoning ?? '') + (v.message.content ?? '')));
      expect(gw.choices[0]!.finish_reason).toBe(v.finish_reason);
    }
  });

  it.runIf(backend.kind === 'vllm')('vLLM refuses a prefill that leaves add_generation_prompt at its default, as thinkgate does', async () => {
    const body = { model: backend.model, messages: [USER, { role: 'assistant', content: AFTER }], continue_final_message: true, max_completion_tokens: 4 };
    const direct = await fetch(`${backend.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(direct.status).toBe(400);
    const gw = await fetch(`${stack.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(gw.status).toBe(400);
    expect(((await gw.json()) as { error: { param: string } }).error.param).toBe('add_generation_prompt');
  });
});
