/**
 * POST /v1/responses end to end with the official `openai` SDK as it is (responses.create,
 * responses.stream, responses.parse): SDK -> thinkgate -> vLLM simulator over real sockets. The
 * simulator thinks 30 tokens by itself, 10 after each "Wait", and answers in 12
 * (test/integration/chat-budget.test.ts says the same through chat: both routes must agree token
 * for token). Every streamed event is checked (responses-events.ts in this file's helpers:
 * sequence numbers, item bookkeeping, deltas against done texts) and the stream's final response
 * must equal the non-stream one but for ids.
 */
import OpenAI from 'openai';
import { zodTextFormat } from 'openai/helpers/zod';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countTokens, startStack, type Stack, segmentRequests, templateRequests } from '../support/stack.js';

let stack: Stack;
let client: OpenAI;
beforeAll(async () => {
  stack = await startStack({ config: { models: { 'sim-s1*': { profile: 's1' }, '*': { profile: 'think-tags', tool_call_parser: 'hermes' } } } });
  client = stack.client;
});
afterAll(async () => stack.close());

interface BudgetForcing {
  thinking_tokens: number;
  extensions: number;
  truncated: boolean;
  segments: number;
}
type Resp = OpenAI.Responses.Response & { budget_forcing: BudgetForcing };
type Ev = Record<string, unknown> & { type: string; sequence_number: number };

const base = { model: 'sim-r1', input: 'What is 6 x 7?', temperature: 0 };
const weather = {
  type: 'function' as const,
  name: 'get_weather',
  description: 'Weather of a city',
  parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city'] },
  strict: false,
};
const toolBase = { ...base, input: 'Use a tool to get the weather in Paris.', tools: [weather] };

async function create(extra: Record<string, unknown> = {}): Promise<Resp> {
  return (await client.responses.create({ ...base, ...extra } as never)) as unknown as Resp;
}

function parts(r: OpenAI.Responses.Response): { reasoning: string; text: string; kinds: string[] } {
  let reasoning = '';
  let text = '';
  for (const item of r.output) {
    if (item.type === 'reasoning') reasoning += (item.content ?? []).map((c) => c.text).join('');
    if (item.type === 'message') text += item.content.map((c) => (c.type === 'output_text' ? c.text : '')).join('');
  }
  return { reasoning, text, kinds: r.output.map((i) => i.type) };
}

async function chat(extra: Record<string, unknown>) {
  const res = (await stack.client.chat.completions.create({
    model: 'sim-r1',
    messages: [{ role: 'user', content: 'What is 6 x 7?' }],
    temperature: 0,
    ...extra,
  } as never)) as unknown as { choices: { message: { reasoning_content?: string; content: string } }[] };
  return { reasoning: res.choices[0]!.message.reasoning_content ?? '', content: res.choices[0]!.message.content };
}

/** A response without what differs between two runs of the same request: ids and times. */
function stripIds(r: unknown): unknown {
  const o = structuredClone(r) as Record<string, unknown> & { output: Record<string, unknown>[] };
  delete o.id;
  delete o.created_at;
  delete o.output_text;
  delete o.output_parsed; // added by the SDK's helpers (responses.stream, responses.parse)
  o.output = o.output.map((item) => ({
    ...item,
    id: '',
    ...(item.call_id === undefined ? {} : { call_id: '' }),
    ...(Array.isArray(item.content) ? { content: (item.content as Record<string, unknown>[]).map(({ parsed: _, ...c }) => c) } : {}),
  }));
  // The simulator's prefix cache serves the second of two identical prompts.
  const usage = o.usage as { input_tokens_details: { cached_tokens: number } } | null;
  if (usage !== null) usage.input_tokens_details.cached_tokens = 0;
  return o;
}

const EVENT_TYPES = new Set([
  'response.created',
  'response.in_progress',
  'response.completed',
  'response.output_item.added',
  'response.output_item.done',
  'response.content_part.added',
  'response.content_part.done',
  'response.reasoning_text.delta',
  'response.reasoning_text.done',
  'response.output_text.delta',
  'response.output_text.done',
  'response.function_call_arguments.delta',
  'response.function_call_arguments.done',
]);

/**
 * Checks a whole event sequence against the Responses API's rules and returns the final response:
 * sequence numbers 0, 1, 2, ...; created, in_progress first and completed last, all about one
 * response id; items added at the next output index, in progress, and events only for the open
 * item (its id and index); deltas add up to the done texts; each done item is the one added, now
 * completed; response.completed's output is exactly the done items.
 */
function checkEvents(events: Ev[]): Resp {
  expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
  for (const e of events) expect(EVENT_TYPES.has(e.type), e.type).toBe(true);
  expect(events[0]!.type).toBe('response.created');
  expect(events[1]!.type).toBe('response.in_progress');
  expect(events.at(-1)!.type).toBe('response.completed');
  const created = events[0]!.response as Resp;
  expect(created.status).toBe('in_progress');
  expect(created.output).toEqual([]);
  expect(created.usage).toBeNull();
  expect((events[1]!.response as Resp).id).toBe(created.id);
  const done: Record<string, unknown>[] = [];
  let open: { item: Record<string, unknown>; index: number; text: string; partDone: boolean; textDone: boolean } | null = null;
  for (const e of events.slice(2, -1)) {
    if (e.type === 'response.output_item.added') {
      expect(open, 'an item added while another is open').toBeNull();
      expect(e.output_index).toBe(done.length);
      const item = e.item as Record<string, unknown>;
      expect(item.status).toBe('in_progress');
      open = { item, index: done.length, text: '', partDone: false, textDone: false };
      continue;
    }
    expect(open, `${e.type} outside an item`).not.toBeNull();
    const o = open!;
    expect(e.output_index).toBe(o.index);
    if (e.type === 'response.output_item.done') {
      const item = e.item as Record<string, unknown>;
      expect(item.id).toBe(o.item.id);
      expect(item.type).toBe(o.item.type);
      expect(item.status).toBe('completed');
      if (item.type === 'function_call') expect(item.arguments).toBe(o.text);
      else {
        expect(o.partDone && o.textDone).toBe(true);
        expect((item.content as { text: string }[])[0]!.text).toBe(o.text);
      }
      done.push(item);
      open = null;
      continue;
    }
    expect(e.item_id).toBe(o.item.id);
    switch (e.type) {
      case 'response.content_part.added':
        expect(e.content_index).toBe(0);
        expect((e.part as { text: string }).text).toBe('');
        expect((e.part as { type: string }).type).toBe(o.item.type === 'reasoning' ? 'reasoning_text' : 'output_text');
        break;
      case 'response.reasoning_text.delta':
      case 'response.output_text.delta':
      case 'response.function_call_arguments.delta':
        expect(o.textDone).toBe(false);
        expect(e.delta).not.toBe('');
        o.text += e.delta as string;
        break;
      case 'response.reasoning_text.done':
      case 'response.output_text.done':
        expect(e.text).toBe(o.text);
        o.textDone = true;
        break;
      case 'response.function_call_arguments.done':
        expect(e.arguments).toBe(o.text);
        expect(e.name).toBe(o.item.name);
        break;
      case 'response.content_part.done':
        expect(o.textDone).toBe(true);
        expect((e.part as { text: string }).text).toBe(o.text);
        o.partDone = true;
        break;
      default:
        throw new Error(`unexpected ${e.type} inside an item`);
    }
  }
  expect(open, 'an item left open').toBeNull();
  const final = events.at(-1)!.response as Resp;
  expect(final.id).toBe(created.id);
  expect(final.output).toEqual(done);
  return final;
}

async function streamed(extra: Record<string, unknown>): Promise<{ events: Ev[]; final: Resp }> {
  const stream = await client.responses.create({ ...base, ...extra, stream: true } as never);
  const events: Ev[] = [];
  for await (const ev of stream as unknown as AsyncIterable<Ev>) events.push(ev);
  return { events, final: checkEvents(events) };
}

describe('/v1/responses with the openai SDK (responses.create)', () => {
  it('answers with a reasoning item and a message item, usage in the model\'s tokens, as chat does', async () => {
    const r = await create();
    const { reasoning, text, kinds } = parts(r);
    expect(r.object).toBe('response');
    expect(r.id).toMatch(/^resp_[0-9a-f]{32}$/);
    expect(r.status).toBe('completed');
    expect(r.incomplete_details).toBeNull();
    expect(kinds).toEqual(['reasoning', 'message']);
    expect(r.output[0]!.id).toMatch(/^rs_/);
    expect(r.output[1]!.id).toMatch(/^msg_/);
    expect((r.output[0] as OpenAI.Responses.ResponseReasoningItem).summary).toEqual([]);
    expect(await countTokens(stack.sim, reasoning)).toBe(30);
    expect(r.output_text).toBe(text);
    expect(r.usage!.output_tokens_details.reasoning_tokens).toBe(30);
    expect(r.usage!.input_tokens).toBeGreaterThan(0);
    expect(r.usage!.output_tokens).toBeGreaterThan(30);
    expect(r.usage!.total_tokens).toBe(r.usage!.input_tokens + r.usage!.output_tokens);
    expect(r.usage!.input_tokens_details.cached_tokens).toBeGreaterThanOrEqual(0);
    expect(r.budget_forcing).toEqual({ thinking_tokens: 30, extensions: 0, truncated: false, segments: 1 });
    const same = await chat({});
    expect(reasoning).toBe(same.reasoning);
    expect(text).toBe(same.content);
    // The request's echo, as vLLM's ResponsesResponse repeats it.
    expect(r).toMatchObject({ model: 'sim-r1', temperature: 0, tools: [], tool_choice: 'none', parallel_tool_calls: true, background: false, truncation: 'disabled' });
  });

  it('max_thinking_tokens is an exact maximum, in the model\'s own tokens', async () => {
    const r = await create({ max_thinking_tokens: 10 });
    expect(await countTokens(stack.sim, parts(r).reasoning)).toBe(10);
    expect(r.usage!.output_tokens_details.reasoning_tokens).toBe(10);
    expect(r.budget_forcing).toEqual({ thinking_tokens: 10, extensions: 0, truncated: true, segments: 2 });
    expect(parts(r).text).toMatch(/\S/);
  });

  it('min_thinking_tokens with extensions: at least m, every Wait in the reasoning item, as chat', async () => {
    const r = await create({ min_thinking_tokens: 50, max_thinking_extensions: 3 });
    expect(r.budget_forcing.thinking_tokens).toBeGreaterThanOrEqual(50);
    expect(r.budget_forcing.extensions).toBeGreaterThan(0);
    expect(r.usage!.output_tokens_details.reasoning_tokens).toBe(r.budget_forcing.thinking_tokens);
    expect(await countTokens(stack.sim, parts(r).reasoning)).toBe(r.budget_forcing.thinking_tokens);
    expect(parts(r).reasoning).toContain('Wait');
    const same = await chat({ min_thinking_tokens: 50, max_thinking_extensions: 3 });
    expect(parts(r).reasoning).toBe(same.reasoning);
    expect(parts(r).text).toBe(same.content);
  });

  it('reasoning.effort picks the profile preset as chat\'s reasoning_effort does; none means no reasoning item', async () => {
    for (const effort of ['low', 'high', 'none'] as const) {
      const r = await create({ reasoning: { effort, summary: 'auto' } });
      expect(parts(r).reasoning, effort).toBe((await chat({ reasoning_effort: effort })).reasoning);
      expect(r.reasoning).toEqual({ effort, summary: 'auto' });
    }
    expect(parts(await create({ reasoning: { effort: 'none' } })).kinds).toEqual(['message']);
  });

  it('max_output_tokens bounds thinking + answer: status incomplete, reason max_output_tokens', async () => {
    const r = await create({ max_output_tokens: 20 });
    expect(r.status).toBe('incomplete');
    expect(r.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(r.usage!.output_tokens).toBe(20);
    expect(r.max_output_tokens).toBe(20);
  });

  it('include_reasoning: false (vLLM\'s extra) sends no reasoning item; the thinking still runs and counts', async () => {
    const r = await create({ include_reasoning: false, max_thinking_tokens: 10 });
    expect(parts(r).kinds).toEqual(['message']);
    expect(r.usage!.output_tokens_details.reasoning_tokens).toBe(10);
  });

  it('instructions and input items become the chat messages vLLM builds (system first, roles kept, text parts)', async () => {
    stack.sim.reset();
    const first = await create();
    const r = await create({
      instructions: 'Be brief.',
      input: [
        { role: 'user', content: [{ type: 'input_text', text: 'What is 6 x 7?' }] },
        ...first.output,
        { type: 'message', role: 'developer', content: 'Answer in words.' },
        { role: 'user', content: 'And 7 x 8?' },
      ],
    });
    expect(r.status).toBe('completed');
    const tokenize = templateRequests(stack.sim).at(-1)!;
    const messages = (tokenize.body as { messages: Record<string, unknown>[] }).messages;
    expect(messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'developer', 'user']);
    expect(messages[0]).toEqual({ role: 'system', content: 'Be brief.' });
    expect(messages[1]).toEqual({ role: 'user', content: [{ type: 'text', text: 'What is 6 x 7?' }] });
    // The earlier reasoning and message items are one assistant turn, its thinking in `reasoning`.
    expect(messages[2]).toEqual({ role: 'assistant', reasoning: parts(first).reasoning, content: parts(first).text });
  });

  it('echoes metadata, user, service_tier; store at either value is accepted and nothing is stored', async () => {
    for (const store of [true, false]) {
      const r = await create({ metadata: { run: 'a' }, user: 'u1', service_tier: 'auto', store, prompt_cache_key: 'k', safety_identifier: 's', include: ['reasoning.encrypted_content'] });
      expect(r).toMatchObject({ metadata: { run: 'a' }, user: 'u1', service_tier: 'auto', status: 'completed' });
      // No encrypted_content: the reasoning is returned in clear (vLLM's answer too).
      expect((r.output[0] as OpenAI.Responses.ResponseReasoningItem).encrypted_content).toBeUndefined();
    }
  });

  it('an assistant message left incomplete is continued (vLLM\'s partial completion: continue_final_message)', async () => {
    stack.sim.reset();
    const r = await create({
      input: [
        { role: 'user', content: 'What is 6 x 7?' },
        { type: 'message', role: 'assistant', status: 'incomplete', content: [{ type: 'output_text', text: 'The answer' }] },
      ],
    });
    expect(r.status).toBe('completed');
    const tokenize = templateRequests(stack.sim).at(-1)!;
    expect(tokenize.body).toMatchObject({ continue_final_message: true, add_generation_prompt: false });
  });
});

describe('/v1/responses streaming', () => {
  it.each([
    ['no budget', {}],
    ['max_thinking_tokens 10', { max_thinking_tokens: 10 }],
    ['min_thinking_tokens 50', { min_thinking_tokens: 50 }],
    ['max_output_tokens 20 (incomplete)', { max_output_tokens: 20 }],
    ['include_reasoning false', { include_reasoning: false, max_thinking_tokens: 10 }],
  ])('%s: every event checked; the final response equals the non-stream one', async (_name, extra) => {
    const whole = await create(extra);
    const { events, final } = await streamed(extra);
    expect(stripIds(final)).toEqual(stripIds(whole));
    const kinds = events.map((e) => e.type).filter((k, i, all) => k !== all[i - 1]);
    expect(kinds.slice(0, 4)).toEqual(['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
    expect(kinds.includes('response.reasoning_text.delta')).toBe((extra as { include_reasoning?: boolean }).include_reasoning !== false);
    if (whole.status === 'completed') expect(kinds).toContain('response.output_text.delta');
  });

  it('responses.stream: the helper\'s events and finalResponse agree with responses.create', async () => {
    const whole = await create({ max_thinking_tokens: 10 });
    const stream = client.responses.stream({ ...base, max_thinking_tokens: 10 } as never);
    let reasoning = '';
    let text = '';
    stream.on('response.reasoning_text.delta', (e) => (reasoning += e.delta));
    stream.on('response.output_text.delta', (e) => (text += e.delta));
    const final = (await stream.finalResponse()) as unknown as Resp;
    expect(reasoning).toBe(parts(whole).reasoning);
    expect(text).toBe(parts(whole).text);
    expect(final.output_text).toBe(whole.output_text);
    expect(stripIds(final)).toEqual(stripIds(whole));
    expect(final.budget_forcing).toEqual(whole.budget_forcing);
  });

  it('on the wire: named events whose name is the data\'s type, no [DONE], an event stream', async () => {
    const res = await fetch(`${stack.url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...base, stream: true, max_thinking_tokens: 5 }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const body = await res.text();
    expect(body).not.toContain('[DONE]');
    const blocks = body.split('\n\n').filter((b) => b.trim() !== '' && !b.startsWith(':'));
    const events = blocks.map((b) => {
      const [eventLine, dataLine] = b.split('\n');
      expect(eventLine).toMatch(/^event: /);
      const data = JSON.parse(dataLine!.slice('data: '.length)) as Ev;
      expect(data.type).toBe(eventLine!.slice('event: '.length));
      return data;
    });
    const final = checkEvents(events);
    expect(final.budget_forcing).toMatchObject({ thinking_tokens: 5, truncated: true });
    expect(final.usage!.output_tokens_details.reasoning_tokens).toBe(5);
  });

  it('a failure after the first byte is one error event (the SDK raises it), sequence numbers going on', async () => {
    stack.sim.setOptions({ fault: 'close-mid-stream', faultAfter: 5 });
    try {
      const res = await fetch(`${stack.url}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...base, stream: true }) });
      const blocks = (await res.text()).split('\n\n').filter((b) => b.startsWith('event: '));
      const events = blocks.map((b) => JSON.parse(b.slice(b.indexOf('\ndata: ') + 7)) as Ev);
      const last = events.at(-1)!;
      expect(last.type).toBe('error');
      expect(last).toMatchObject({ code: expect.any(String), message: expect.any(String) });
      expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
      expect(events.some((e) => e.type === 'response.completed')).toBe(false);
      const err = await (async () => {
        const s = await client.responses.create({ ...base, stream: true });
        for await (const _ of s) void _;
      })().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.APIError);
    } finally {
      stack.sim.setOptions({ fault: 'none' });
    }
  });
});

describe('/v1/responses tools', () => {
  it.each([
    ['no budget', {}],
    ['a forced close', { max_thinking_tokens: 5 }],
    ['an extension', { min_thinking_tokens: 40 }],
  ])('%s: a function_call item parsed from the answer only', async (_name, extra) => {
    const r = await create({ ...toolBase, ...extra });
    const calls = r.output.filter((i) => i.type === 'function_call');
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ type: 'function_call', name: 'get_weather', status: 'completed' });
    expect(JSON.parse(calls[0]!.arguments)).toEqual({ city: 'sim', days: 42 });
    expect(calls[0]!.call_id).toMatch(/^chatcmpl-tool-[0-9a-f]{32}$/);
    expect(calls[0]!.id).toMatch(/^fc_/);
    expect(parts(r).kinds).toEqual(['reasoning', 'function_call']);
    expect(parts(r).reasoning).not.toContain('<tool_call>');
    expect(r.tool_choice).toBe('auto');
    expect(r.tools).toEqual([weather]);
  });

  it('a round trip: the function_call item and a function_call_output go back, and the model answers in text', async () => {
    const first = await create(toolBase);
    const call = first.output.find((i) => i.type === 'function_call')!;
    const second = await create({ ...toolBase, input: [{ role: 'user', content: toolBase.input }, ...first.output, { type: 'function_call_output', call_id: call.call_id, output: 'sunny' }] });
    expect(second.output.some((i) => i.type === 'function_call')).toBe(false);
    expect(parts(second).text).toMatch(/\S/);
    const tokenize = templateRequests(stack.sim).at(-1)!;
    const messages = (tokenize.body as { messages: Record<string, unknown>[] }).messages;
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool']);
    expect(messages[1]).toMatchObject({ tool_calls: [{ id: call.call_id, type: 'function', function: { name: 'get_weather', arguments: call.arguments } }] });
    expect(messages[2]).toEqual({ role: 'tool', tool_call_id: call.call_id, content: 'sunny' });
  });

  it.each([
    ['auto', {}],
    ['required', { input: 'What is 6 x 7?', tool_choice: 'required' }],
    ['named', { input: 'What is 6 x 7?', tool_choice: { type: 'function', name: 'get_weather' } }],
    ['auto, parallel_tool_calls false', { parallel_tool_calls: false }],
  ])('streamed (%s): the call is a function_call item with argument deltas; stream equals non-stream (blank text before a call dropped)', async (_name, extra) => {
    const whole = await create({ ...toolBase, ...extra });
    const { events, final } = await streamed({ ...toolBase, ...extra });
    // As vLLM and chat: a whole `required` answer's arguments are re-serialized as Python's
    // json.dumps writes them, the streamed ones are the model's own text: the same JSON.
    const args = (r: Resp) => r.output.filter((i) => i.type === 'function_call').map((i) => JSON.parse(i.arguments) as unknown);
    expect(args(final)).toEqual(args(whole));
    const sameArgs = (r: Resp): unknown => ({ ...(stripIds(r) as object), output: (stripIds(r) as Resp).output.map((i) => (i.type === 'function_call' ? { ...i, arguments: '' } : i)) });
    expect(sameArgs(final)).toEqual(sameArgs(whole));
    if (_name !== 'required') expect(stripIds(final)).toEqual(stripIds(whole));
    const added = events.filter((e) => e.type === 'response.output_item.added').map((e) => (e.item as { type: string }).type);
    expect(added).toEqual(['reasoning', 'function_call']);
    const streamedArgs = events.filter((e) => e.type === 'response.function_call_arguments.delta').map((e) => e.delta).join('');
    expect(streamedArgs).toBe(final.output.find((i) => i.type === 'function_call')!.arguments);
    // The hermes call writes every property; a forced (grammar) answer the required one.
    expect(JSON.parse(streamedArgs)).toEqual(_name.startsWith('auto') ? { city: 'sim', days: 42 } : { city: 'sim' });
  });

  it('tool_choice none: the call stays text; required and named constrain the answer as on chat', async () => {
    const none = await create({ ...toolBase, tool_choice: 'none' });
    expect(parts(none).kinds).toEqual(['reasoning', 'message']);
    expect(parts(none).text).toContain('<tool_call>');
    for (const tool_choice of ['required', { type: 'function', name: 'get_weather' }]) {
      stack.sim.reset();
      const r = await create({ ...toolBase, input: 'What is 6 x 7?', tool_choice });
      const calls = r.output.filter((i) => i.type === 'function_call');
      expect(calls.length, JSON.stringify(tool_choice)).toBeGreaterThan(0);
      expect(calls[0]!.name).toBe('get_weather');
      const segs = segmentRequests(stack.sim).map((q) => q.body as Record<string, unknown>);
      expect(segs[0]!.structured_outputs).toBeUndefined();
      expect(segs.at(-1)!.structured_outputs).toBeDefined();
    }
  });

  it('parallel_tool_calls is echoed and reaches chat', async () => {
    const r = await create({ ...toolBase, parallel_tool_calls: false });
    expect(r.parallel_tool_calls).toBe(false);
    expect(r.output.filter((i) => i.type === 'function_call')).toHaveLength(1);
  });
});

describe('/v1/responses text.format (structured output on the answer only)', () => {
  const Answer = z.object({ value: z.number(), unit: z.string() });

  it.each([
    ['no budget', {}],
    ['max_thinking_tokens 8 (a forced close)', { max_thinking_tokens: 8 }],
  ])('%s: responses.parse gives output_parsed; the reasoning item is still there', async (_name, extra) => {
    stack.sim.reset();
    const r = await client.responses.parse({ ...base, ...extra, text: { format: zodTextFormat(Answer, 'answer') } } as never);
    expect(r.output_parsed).toEqual({ value: 42, unit: 'sim' });
    expect(r.output.map((i) => i.type)).toEqual(['reasoning', 'message']);
    const segs = segmentRequests(stack.sim).map((q) => q.body as Record<string, unknown>);
    expect(segs[0]!.response_format).toBeUndefined();
    expect(segs.at(-1)!.response_format).toMatchObject({ type: 'json_schema', json_schema: { name: 'answer', strict: true } });
  });

  it('streamed with responses.stream and the format: finalResponse parses too', async () => {
    const stream = client.responses.stream({ ...base, text: { format: zodTextFormat(Answer, 'answer') } } as never);
    const final = await stream.finalResponse();
    expect(final.output_parsed).toEqual({ value: 42, unit: 'sim' });
  });

  it('json_object reaches the answer segment as chat\'s response_format', async () => {
    stack.sim.reset();
    await create({ text: { format: { type: 'json_object' } } });
    const segs = segmentRequests(stack.sim).map((q) => q.body as Record<string, unknown>);
    expect(segs.at(-1)!.response_format).toEqual({ type: 'json_object' });
    expect(segs[0]!.response_format).toBeUndefined();
  });
});

describe('/v1/responses auth, as every route', () => {
  it('needs the key (Bearer or x-api-key); a wrong one is 401 in the OpenAI envelope', async () => {
    const keyed = await startStack({ config: { auth: { api_keys: ['sk-responses-test'] } } });
    try {
      const good = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: 'sk-responses-test', maxRetries: 0 });
      expect((await good.responses.create(base)).status).toBe('completed');
      const wrong = await new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: 'nope', maxRetries: 0 }).responses.create(base).catch((e: unknown) => e);
      expect(wrong).toBeInstanceOf(OpenAI.AuthenticationError);
      const res = await fetch(`${keyed.url}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'sk-responses-test' }, body: JSON.stringify(base) });
      expect(res.status).toBe(200);
    } finally {
      await keyed.close();
    }
  });
});

describe('/v1/responses refusals and hostile inputs', () => {
  async function post(body: unknown): Promise<{ status: number; error: { message: string; type: string; param: string | null; code: string | null } }> {
    const res = await fetch(`${stack.url}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, error: ((await res.json()) as { error: never }).error };
  }

  it.each([
    ['previous_response_id', { previous_response_id: 'resp_1' }],
    ['conversation', { conversation: 'conv_1' }],
    ['background', { background: true }],
    ['prompt', { prompt: { id: 'pmpt_1' } }],
    ['context_management', { context_management: [{ type: 'compaction' }] }],
    ['truncation', { truncation: 'auto' }],
    ['tools[0].type', { tools: [{ type: 'web_search' }] }],
    ['tools[1].type', { tools: [weather, { type: 'file_search', vector_store_ids: ['x'] }] }],
    ['tools[0].type', { tools: [{ type: 'custom', name: 'x' }] }],
    ['tool_choice', { tools: [weather], tool_choice: { type: 'web_search_preview' } }],
    ['tool_choice', { tools: [weather], tool_choice: { type: 'allowed_tools', mode: 'auto', tools: [] } }],
    ['tool_choice', { tool_choice: 'required' }],
    ['tool_choice', { tools: [weather], tool_choice: { type: 'function', name: 'nope' } }],
    ['include', { include: ['message.output_text.logprobs'] }],
    ['include[0]', { include: ['nope'] }],
    ['text.verbosity', { text: { verbosity: 'low' } }],
    ['text.format.schema', { text: { format: { type: 'json_schema', name: 'x' } } }],
    ['text.format.name', { text: { format: { type: 'json_schema', name: 'a b', schema: {} } } }],
    ['text.format.type', { text: { format: { type: 'xml' } } }],
    ['structured_outputs', { text: { format: { type: 'json_object' } }, structured_outputs: { json: {} } }],
    ['reasoning.effort', { reasoning: { effort: 'ultra' } }],
    ['reasoning.mode', { reasoning: { mode: 'pro' } }],
    ['n', { n: 2 }],
    ['messages', { messages: [] }],
    ['max_tokens', { max_tokens: 5 }],
    ['response_format', { response_format: { type: 'json_object' } }],
    ['reasoning_effort', { reasoning_effort: 'low' }],
    ['best_of', { best_of: 2 }],
    ['use_beam_search', { use_beam_search: true }],
    ['enable_response_messages', { enable_response_messages: true }],
    ['min_thinking_tokens', { min_thinking_tokens: 50, max_thinking_tokens: 10 }],
    ['input[0].content[0].file_id', { input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'file-1' }] }] }],
    ['input[0].content[0].image_url', { input: [{ role: 'user', content: [{ type: 'input_image', image_url: 7 }] }] }],
    ['input[0].content[0]', { input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'f' }] }] }],
    ['input[0]', { input: [{ type: 'item_reference', id: 'msg_1' }] }],
    ['input[0]', { input: [{ id: 'msg_1' }] }],
    ['input[0].encrypted_content', { input: [{ type: 'reasoning', summary: [], encrypted_content: 'gAAA' }] }],
    ['input[0].type', { input: [{ type: 'web_search_call', id: 'ws', status: 'completed' }] }],
    ['input[0].role', { input: [{ role: 'tool', content: 'x' }] }],
    ['input[0].call_id', { input: [{ type: 'function_call', name: 'f' }] }],
    ['input[0].call_id', { input: [{ type: 'function_call_output', output: 'x' }] }],
    ['input[0].status', { input: [{ role: 'user', content: 'hi', status: 'incomplete' }] }],
    ['input', { input: [] }],
    ['max_output_tokens', { max_output_tokens: 0 }],
    ['model', { model: 'x'.repeat(5000) }],
  ])('400 naming %s', async (param, extra) => {
    const { status, error } = await post({ ...base, ...extra });
    expect(status).toBe(400);
    expect(error.type).toBe('invalid_request_error');
    expect(error.param).toBe(param);
  });

  it('an input_image reaches the model: one render, every segment a generate call with it (docs/multimodal.md)', async () => {
    const url = `data:image/png;base64,${Buffer.from('a responses png').toString('base64')}`;
    stack.sim.reset();
    const res = await client.responses.create({
      ...base,
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'What is 6 x 7? See the picture.' }, { type: 'input_image', image_url: url, detail: 'auto' }] }],
      max_thinking_tokens: 16,
    } as never);
    const paths = stack.sim.stats().lastRequests.map((r) => r.path);
    expect(paths.filter((p) => p === '/v1/chat/completions/render')).toHaveLength(1);
    expect(paths).toContain('/inference/v1/generate');
    expect(paths).not.toContain('/v1/completions');
    const render = stack.sim.stats().lastRequests.find((r) => r.path === '/v1/chat/completions/render')!.body as { messages: Array<{ content: unknown }> };
    expect(render.messages.at(-1)!.content).toEqual([
      { type: 'text', text: 'What is 6 x 7? See the picture.' },
      { type: 'input_image', image_url: url, detail: 'auto' },
    ]);
    expect(res.output_text).toMatch(/\[image [0-9a-f]{8}\]/);
  });

  it('the SDK reads the 400 as its BadRequestError, with the param', async () => {
    const err = await client.responses.create({ ...base, previous_response_id: 'resp_1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('previous_response_id');
  });

  it('a prompt longer than the context names input, as vLLM does', async () => {
    const { status, error } = await post({ ...base, input: 'word '.repeat(40_000) });
    expect(status).toBe(400);
    expect(error.param).toBe('input');
  });

  it('a prototype-poisoning key and a body nested too deep are 400s naming where', async () => {
    const proto = `{"model":"sim-r1","input":[{"role":"user","content":"hi","__proto__":{"x":1}}]}`;
    let res = await fetch(`${stack.url}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: proto });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('input[0].__proto__');
    let deep: unknown = 'x';
    for (let i = 0; i < 100; i++) deep = { a: deep };
    res = await fetch(`${stack.url}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...base, metadata: deep }) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toMatch(/^metadata/);
  });

  it('hostile bodies get 400 in the OpenAI envelope, never a 5xx', async () => {
    const bodies: unknown[] = [
      [],
      'x',
      {},
      { model: 'sim-r1' },
      { ...base, input: 5 },
      { ...base, input: [5] },
      { ...base, input: [null] },
      { ...base, input: [{}] },
      { ...base, input: [{ role: 'user' }] },
      { ...base, input: [{ role: 'user', content: [{}] }] },
      { ...base, input: [{ role: 'user', content: [{ type: 'input_text' }] }] },
      { ...base, input: [{ role: 'assistant', content: [{ type: 'output_text', text: 5 }] }] },
      { ...base, input: [{ type: 'reasoning', content: 'x' }] },
      { ...base, input: [{ type: 'reasoning', summary: [{ text: 5 }] }] },
      { ...base, input: [{ type: 'function_call_output', call_id: 'c', output: { a: 1 } }] },
      { ...base, input: [{ type: 'function_call_output', call_id: 'c', output: [{ type: 'input_image' }] }] },
      { ...base, input: [{ type: 5 }] },
      { ...base, instructions: 5 },
      { ...base, max_output_tokens: 1.5 },
      { ...base, max_output_tokens: -1 },
      { ...base, tools: [{ type: 'function' }] },
      { ...base, tools: [{ type: 'function', name: 'x', parameters: 5 }] },
      { ...base, tools: [{ type: 'function', name: '' }] },
      { ...base, tools: [{}] },
      { ...base, tools: 'x' },
      { ...base, tools: [weather], tool_choice: { type: 'function' } },
      { ...base, tools: [weather], tool_choice: 'sometimes' },
      { ...base, reasoning: 'high' },
      { ...base, text: 'json' },
      { ...base, text: { format: { type: 'json_schema', name: 'x', schema: 'y' } } },
      { ...base, metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) },
      { ...base, metadata: { k: 5 } },
      { ...base, stream_options: { include_obfuscation: 'yes' } },
      { ...base, stream_options: { include_usage: true } },
      { ...base, stop: Array.from({ length: 5000 }, () => 'x') },
      { ...base, temperature: 9 },
      { ...base, top_logprobs: 50 },
      { ...base, max_thinking_tokens: -1 },
      { ...base, thinking_extension: '' },
      { ...base, service_tier: 'gold' },
      { ...base, store: 'yes' },
    ];
    for (const b of bodies) {
      const res = await fetch(`${stack.url}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) });
      expect(res.status, JSON.stringify(b).slice(0, 100)).toBe(400);
      expect(((await res.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
    }
  });
});
