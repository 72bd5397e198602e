/**
 * Prefill and template controls end to end (issue 13, item 6): openai SDK -> thinkgate -> vLLM
 * simulator over real sockets. The simulator's qwen3 template renders a final assistant turn as
 * Qwen3's does (an empty thinking block, then the content), and its chat endpoint continues a
 * prefill as vLLM's does, so the gateway's answer can be compared with the "server's own".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type OpenAI from 'openai';
import { countTokens, startStack, type Stack } from '../support/stack.js';

type Reasoned = { reasoning_content?: string | null; content?: string | null };
interface BudgetForcing {
  thinking_tokens: number;
  extensions: number;
  truncated: boolean;
  segments: number;
  prefill?: { phase: string; thinking_tokens: number };
}
type Body = Record<string, unknown>;

let stack: Stack;
let trusted: Stack;
beforeAll(async () => {
  [stack, trusted] = await Promise.all([startStack(), startStack({ sim: { trustRequestChatTemplate: true } })]);
});
afterAll(async () => Promise.all([stack.close(), trusted.close()]));

const USER = { role: 'user', content: 'What is 6 x 7?' };
const INSIDE = '<think>\nLet me see: six sevens'; // the prefill leaves thinking open
const AFTER = '<think>\nSix sevens.\n</think>\n\nThe product'; // the prefill is in the answer

const prefill = (content: string, extra: Body = {}): Body => ({
  model: 'sim-qwen3',
  messages: [USER, { role: 'assistant', content }],
  continue_final_message: true,
  add_generation_prompt: false,
  temperature: 0,
  ...extra,
});

async function post(s: Stack, body: Body): Promise<{ status: number; json: Body }> {
  const res = await fetch(`${s.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Body };
}

async function complete(body: Body) {
  const res = (await stack.client.chat.completions.create(body as never)) as OpenAI.ChatCompletion & { budget_forcing: BudgetForcing };
  const msg = res.choices[0]!.message as OpenAI.ChatCompletionMessage & Reasoned;
  return { res, reasoning: msg.reasoning_content ?? null, content: msg.content };
}

const requestsTo = (s: Stack, path: string) => s.sim.stats().lastRequests.filter((r) => r.path === path).map((r) => r.body as Body);

describe('assistant prefill (continue_final_message)', () => {
  it('inside thinking: goes on thinking, inserts nothing, and M bounds the new thinking only', async () => {
    const { res, reasoning, content } = await complete(prefill(INSIDE, { max_thinking_tokens: 5 }));
    const bf = res.budget_forcing;
    expect(bf).toMatchObject({ thinking_tokens: 5, truncated: true, segments: 2, prefill: { phase: 'thinking' } });
    // The prefill's thinking (`\nLet me see: six sevens`) is the client's: reported, not counted.
    expect(bf.prefill!.thinking_tokens).toBe(await countTokens(stack.sim, '\nLet me see: six sevens'));
    expect(await countTokens(stack.sim, reasoning!)).toBe(5);
    expect(reasoning).not.toContain('Let me see');
    expect(content).toMatch(/\S/);
    // /tokenize got the controls; the first segment's prompt is that rendering, unchanged.
    const tok = requestsTo(stack, '/tokenize').filter((b) => b.messages !== undefined).at(-1)!;
    expect(tok).toMatchObject({ continue_final_message: true, add_generation_prompt: false });
    const seg = requestsTo(stack, '/v1/completions').slice(-2)[0]!;
    const rendered = await (await fetch(`${stack.sim.url}/tokenize`, { method: 'POST', body: JSON.stringify(tok) })).json() as { tokens: number[] };
    expect(seg.prompt).toEqual(rendered.tokens);
    expect(seg.max_tokens).toBe(5);
  });

  it('after thinking: an answer-only run, no budget applies, the continuation only is returned', async () => {
    const { res, reasoning, content } = await complete(prefill(AFTER, { max_thinking_tokens: 2, min_thinking_tokens: 2 }));
    expect(res.budget_forcing).toMatchObject({ thinking_tokens: 0, extensions: 0, truncated: false, segments: 1, prefill: { phase: 'answer' } });
    expect(res.budget_forcing.prefill!.thinking_tokens).toBeGreaterThan(0);
    expect(reasoning).toBeNull();
    expect(content).toMatch(/\S/);
    expect(content).not.toContain('The product');
  });

  it('without budgets, returns what the server\'s own chat endpoint returns for the same prefill (temperature 0)', async () => {
    for (const content of [INSIDE, AFTER]) {
      const body = prefill(content);
      const gw = await complete(body);
      const direct = await fetch(`${stack.sim.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify(body) });
      const msg = ((await direct.json()) as { choices: Array<{ message: Reasoned }> }).choices[0]!.message;
      expect({ reasoning: gw.reasoning, content: gw.content }).toEqual({ reasoning: msg.reasoning_content ?? null, content: msg.content ?? '' });
      expect(gw.content).toMatch(/\S/);
      if (content === INSIDE) expect(gw.reasoning).toMatch(/\S/);
      else expect(gw.reasoning).toBeNull();
    }
  });

  it('streams n = 2 with the prefill reported on each choice and once on the total', async () => {
    const body = { ...prefill(INSIDE, { max_thinking_tokens: 4, n: 2 }), stream: true, stream_options: { include_usage: true } };
    const stream = await stack.client.chat.completions.create(body as never);
    const reasoning = ['', ''];
    const perChoice: Array<BudgetForcing | undefined> = [];
    let total: BudgetForcing | undefined;
    for await (const c of stream as unknown as AsyncIterable<OpenAI.ChatCompletionChunk & { budget_forcing?: BudgetForcing }>) {
      for (const ch of c.choices) {
        reasoning[ch.index] += (ch.delta as Reasoned).reasoning_content ?? '';
        const bf = (ch as { budget_forcing?: BudgetForcing }).budget_forcing;
        if (bf) perChoice[ch.index] = bf;
      }
      if (c.choices.length === 0) total = c.budget_forcing;
    }
    for (const i of [0, 1]) {
      expect(await countTokens(stack.sim, reasoning[i]!)).toBe(4);
      expect(perChoice[i]).toMatchObject({ thinking_tokens: 4, prefill: { phase: 'thinking' } });
    }
    expect(total).toMatchObject({ thinking_tokens: 8, prefill: perChoice[0]!.prefill });
  });

  it('stop strings apply to the new text only, never to the prefill', async () => {
    const { content: full } = await complete(prefill(AFTER));
    const word = full!.trim().split(/\s+/)[1]!;
    const { content } = await complete(prefill(AFTER, { stop: ['The product', word] }));
    // 'The product' is in the prefill only: it never matches; the second new word cuts.
    expect(content).toMatch(/\S/);
    expect(full!.startsWith(content!)).toBe(true);
    expect(content).not.toContain(word);
  });
});

describe('template controls and their refusals', () => {
  it('refuses both flags and a prefill that is not the assistant\'s, naming the field', async () => {
    const both = await post(stack, prefill(INSIDE, { add_generation_prompt: true }));
    expect(both.status).toBe(400);
    expect(both.json.error).toMatchObject({ param: 'add_generation_prompt' });
    const dflt = await post(stack, { ...prefill(INSIDE), add_generation_prompt: undefined });
    expect((dflt.json.error as Body).param).toBe('add_generation_prompt');
    const user = await post(stack, { ...prefill(INSIDE), messages: [USER] });
    expect(user.status).toBe(400);
    expect(user.json.error).toMatchObject({ param: 'continue_final_message' });
  });

  it('chat_template: refused by a server without --trust-request-chat-template, with param', async () => {
    const res = await post(stack, { model: 'sim-r1', messages: [USER], chat_template: 'qwen3' });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ param: 'chat_template', type: 'invalid_request_error' });
    expect(JSON.stringify(res.json)).not.toContain('Refused request');
  });

  it('chat_template: honoured by a trusting server (the prompt is that template\'s)', async () => {
    // sim-r1's own template opens thinking; the qwen3 one does not, so thinkgate opens it.
    const res = await post(trusted, { model: 'sim-r1', messages: [USER], chat_template: 'qwen3', max_thinking_tokens: 3 });
    expect(res.status).toBe(200);
    const tok = requestsTo(trusted, '/tokenize').filter((b) => b.messages !== undefined).at(-1)!;
    expect(tok.chat_template).toBe('qwen3');
    expect((res.json.budget_forcing as BudgetForcing).thinking_tokens).toBe(3);
  });

  it('documents reach the template as vLLM passes them (a chat_template_kwargs entry)', async () => {
    const documents = [{ title: 'Multiplication', text: '6 x 7 = 42' }];
    const res = await post(stack, { model: 'sim-r1', messages: [USER], documents, chat_template_kwargs: { x: 1 } });
    expect(res.status).toBe(200);
    const tok = requestsTo(stack, '/tokenize').filter((b) => b.messages !== undefined).at(-1)!;
    expect(tok.chat_template_kwargs).toEqual({ x: 1, documents });
    expect(tok.documents).toBeUndefined();
    const seg = requestsTo(stack, '/v1/completions').at(-1)!;
    expect(seg.documents).toBeUndefined();
  });

  it('media_io_kwargs and mm_processor_kwargs go to /tokenize, never to a segment', async () => {
    const res = await post(stack, { model: 'sim-r1', messages: [USER], mm_processor_kwargs: { fps: 2 }, media_io_kwargs: { video: { num_frames: 4 } } });
    expect(res.status).toBe(200);
    const tok = requestsTo(stack, '/tokenize').filter((b) => b.messages !== undefined).at(-1)!;
    expect(tok).toMatchObject({ mm_processor_kwargs: { fps: 2 }, media_io_kwargs: { video: { num_frames: 4 } } });
    const seg = requestsTo(stack, '/v1/completions').at(-1)!;
    expect(seg.mm_processor_kwargs).toBeUndefined();
    expect(seg.media_io_kwargs).toBeUndefined();
    expect(seg.continue_final_message).toBeUndefined();
  });

  it('hostile values are 400s naming the field', async () => {
    const cases: Array<[Body, string]> = [
      [{ chat_template: 'x'.repeat(300 * 1024) }, 'chat_template'],
      [{ chat_template: '' }, 'chat_template'],
      [{ documents: [{ title: 7 }] }, 'documents[0].title'],
      [{ documents: 'doc' }, 'documents'],
      [{ documents: Array.from({ length: 1025 }, () => ({})) }, 'documents'],
      [{ continue_final_message: 'yes' }, 'continue_final_message'],
      [{ add_generation_prompt: 1 }, 'add_generation_prompt'],
      [{ mm_processor_kwargs: [1] }, 'mm_processor_kwargs'],
      [{ media_io_kwargs: { video: 3 } }, 'media_io_kwargs.video'],
    ];
    for (const [extra, param] of cases) {
      const res = await post(stack, { model: 'sim-r1', messages: [USER], ...extra });
      expect([res.status, (res.json.error as Body | undefined)?.param]).toEqual([400, param]);
    }
  });
});
