/**
 * POST /v1/responses (OpenAI's Responses API) against the real servers, through the official
 * `openai` SDK: `max_thinking_tokens` is an exact maximum in the server's own token ids (checked
 * on the segments the recording proxy saw), a minimum extends with "Wait", and the streamed events
 * carry the same reasoning and answer as the response they build. Against vLLM, a differential:
 * vLLM's own /v1/responses (started with --reasoning-parser qwen3 and the hermes tool parser,
 * servers.ts) renders the same input items (instructions, a reasoning item, a function call and
 * its output) into the same prompt (the same input_tokens), and the answer is the one thinkgate's
 * chat gives for those messages written out by hand.
 */
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import './backends.js';
import { startRealStack, tokenizeOn, type RealStack } from './stack.js';
import { COMPLETION_PATH, link, segmentOf } from './transcript.js';

const FORCED_CLOSE = '\n</think>\n\n';

interface BudgetForcing {
  thinking_tokens: number;
  extensions: number;
  truncated: boolean;
  segments: number;
}
type Resp = OpenAI.Responses.Response & { budget_forcing: BudgetForcing };

const backends = inject('realBackends');

function parts(r: OpenAI.Responses.Response): { reasoning: string; text: string } {
  let reasoning = '';
  let text = '';
  for (const item of r.output) {
    if (item.type === 'reasoning') reasoning += (item.content ?? []).map((c) => c.text).join('');
    if (item.type === 'message') text += item.content.map((c) => (c.type === 'output_text' ? c.text : '')).join('');
  }
  return { reasoning, text };
}

describe.each(backends)('$label /v1/responses', (backend) => {
  let stack: RealStack;
  let forcedClose: number[];
  const path = COMPLETION_PATH[backend.kind];

  beforeAll(async () => {
    stack = await startRealStack(backend);
    forcedClose = await tokenizeOn(backend, FORCED_CLOSE);
  });
  afterAll(async () => stack?.close());

  const ask = (seed: number, extra: Record<string, unknown>) =>
    ({ model: backend.model, max_output_tokens: 40, temperature: 1, top_p: 1, seed, input: 'What is 6 x 7? Think it over.', ...extra }) as never;

  it('max_thinking_tokens is an exact maximum in the server\'s own ids', async () => {
    const M = 12;
    const from = stack.proxy.exchanges.length;
    const r = (await stack.client.responses.create(ask(7, { max_thinking_tokens: M }))) as unknown as Resp;
    const segs = stack.proxy.since(from, path).map((ex) => segmentOf(backend.kind, ex));
    expect(segs.length).toBe(r.budget_forcing.segments);
    expect(segs[0]!.maxTokens).toBe(M);
    expect(r.budget_forcing.thinking_tokens).toBeLessThanOrEqual(M);
    expect(r.usage!.output_tokens_details.reasoning_tokens).toBe(r.budget_forcing.thinking_tokens);
    if (r.budget_forcing.truncated) {
      expect(r.budget_forcing.thinking_tokens).toBe(M);
      const l = link(segs[0]!, segs[1]!);
      expect(l.kept).toBe(M);
      expect(l.inserted).toEqual(forcedClose);
    }
    expect(r.output[0]!.type).toBe('reasoning');
    expect(r.usage!.output_tokens).toBeGreaterThanOrEqual(r.budget_forcing.thinking_tokens);
    expect(['completed', 'incomplete']).toContain(r.status);
  });

  it('min_thinking_tokens extends thinking past the model\'s own close, within max_thinking_tokens', async () => {
    const r = (await stack.client.responses.create(
      ask(3, { max_output_tokens: 200, max_thinking_tokens: 150, min_thinking_tokens: 140, max_thinking_extensions: 2 }),
    )) as unknown as Resp;
    const bf = r.budget_forcing;
    expect(bf.thinking_tokens).toBeLessThanOrEqual(150);
    expect(bf.thinking_tokens >= 140 || bf.extensions === 2 || bf.truncated).toBe(true);
    expect(parts(r).reasoning.split('Wait').length - 1).toBeGreaterThanOrEqual(bf.extensions);
    expect(parts(r).reasoning).not.toContain('</think>');
  });

  it('streams the Responses events, numbered, with the same reasoning and answer as the response they build', async () => {
    const stream = stack.client.responses.stream(ask(5, { max_thinking_tokens: 10 }));
    let reasoning = '';
    let answer = '';
    const seqs: number[] = [];
    for await (const ev of stream) {
      seqs.push(ev.sequence_number);
      if (ev.type === 'response.reasoning_text.delta') reasoning += ev.delta;
      if (ev.type === 'response.output_text.delta') answer += ev.delta;
    }
    const final = await stream.finalResponse();
    expect(seqs).toEqual(seqs.map((_, i) => i));
    expect(parts(final).reasoning).toBe(reasoning);
    expect(parts(final).text).toBe(answer);
    expect((final as unknown as Resp).budget_forcing.thinking_tokens).toBeLessThanOrEqual(10);
  });
});

const vllm = backends.filter((b) => b.kind === 'vllm' && b.managed);

/**
 * The differential: vLLM's own /v1/responses renders the same items into the same prompt (its
 * input_tokens), and thinkgate's /v1/responses answers exactly as thinkgate's chat does for the
 * chat messages written out by hand. The outputs are not compared with vLLM's own: its Responses
 * path detokenizes with skip_special_tokens and reads thinking from the text, and the tiny model's
 * tokenizer marks `</think>` special, so vLLM's own Responses cannot split this model's thinking
 * (its chat, which reads the ids, can).
 */
describe.runIf(vllm.length > 0).each(vllm)('$label: /v1/responses, differential against vLLM\'s own and chat', (backend) => {
  let stack: RealStack;
  beforeAll(async () => {
    stack = await startRealStack(backend);
  });
  afterAll(async () => stack?.close());

  const weather = {
    type: 'function',
    name: 'get_weather',
    description: 'Weather of a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  };
  const chatWeather = { type: 'function', function: { name: weather.name, description: weather.description, parameters: weather.parameters } };
  const post = async <T>(url: string, path: string, body: Record<string, unknown>): Promise<T> => {
    const res = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: backend.model, temperature: 0, ...body }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()) as T;
  };

  it.for([
    ['a string and instructions', { instructions: 'Answer briefly.', input: 'What is 6 x 7?' }, { messages: [{ role: 'system', content: 'Answer briefly.' }, { role: 'user', content: 'What is 6 x 7?' }] }],
    [
      'a history: input_text parts, an earlier reasoning and message, a developer turn',
      {
        input: [
          { role: 'user', content: [{ type: 'input_text', text: 'What is 6 x 7?' }] },
          { type: 'reasoning', id: 'rs_1', summary: [], content: [{ type: 'reasoning_text', text: 'Six sevens.' }] },
          { type: 'message', id: 'msg_1', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: '42.', annotations: [] }] },
          { role: 'developer', content: 'Be brief.' },
          { role: 'user', content: 'And 7 x 8?' },
        ],
      },
      {
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'What is 6 x 7?' }] },
          { role: 'assistant', reasoning: 'Six sevens.', content: '42.' },
          { role: 'developer', content: 'Be brief.' },
          { role: 'user', content: 'And 7 x 8?' },
        ],
      },
    ],
    [
      'tools and a function call round trip',
      {
        tools: [weather],
        input: [
          { role: 'user', content: 'Use a tool to get the weather in Paris.' },
          { type: 'function_call', id: 'fc_1', call_id: 'call_1', name: 'get_weather', arguments: '{"city": "Paris"}' },
          { type: 'function_call_output', call_id: 'call_1', output: 'sunny' },
        ],
      },
      {
        tools: [chatWeather],
        messages: [
          { role: 'user', content: 'Use a tool to get the weather in Paris.' },
          { role: 'assistant', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris"}' } }] },
          { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
        ],
      },
    ],
  ] as [string, Record<string, unknown>, Record<string, unknown>][])('%s: vLLM\'s prompt; the answer of thinkgate\'s chat', async ([, body, chatBody]) => {
    const ours = await post<Resp>(stack.url, '/v1/responses', { ...body, max_output_tokens: 60 });
    const theirs = await post<Resp>(backend.url, '/v1/responses', { ...body, max_output_tokens: 60, store: false });
    expect(ours.usage!.input_tokens).toBe(theirs.usage!.input_tokens);
    expect(ours.status).toBe(theirs.status);
    type Chat = { choices: { message: { content: string | null; reasoning_content?: string | null } }[]; usage: { prompt_tokens: number; completion_tokens: number } };
    const chat = await post<Chat>(stack.url, '/v1/chat/completions', { ...chatBody, max_completion_tokens: 60 });
    const m = chat.choices[0]!.message;
    expect(parts(ours)).toEqual({ reasoning: m.reasoning_content ?? '', text: m.content ?? '' });
    expect(ours.usage!.input_tokens).toBe(chat.usage.prompt_tokens);
    expect(ours.usage!.output_tokens).toBe(chat.usage.completion_tokens);
  });
});
