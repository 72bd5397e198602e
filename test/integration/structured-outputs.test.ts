/**
 * Structured outputs end to end (issue 13, item 3; docs/api.md, "Structured outputs"): the
 * official openai SDK -> thinkgate -> vLLM simulator over real sockets. The simulator writes the
 * constrained text from the FIRST token of a /v1/completions call that carries a grammar, as vLLM
 * does (src/sim/structured.ts), so a grammar on a thinking segment would erase the thinking here:
 * these tests see both the thinking and the constrained answer, and read the simulator's request
 * log to check which segments carried the grammar.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import { z } from 'zod';
import { startStack, type Stack, segmentRequests } from '../support/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ config: { models: { 'sim-s1*': { profile: 's1' }, '*': { profile: 'think-tags', tool_call_parser: 'hermes' } } } });
});
afterAll(async () => stack.close());
beforeEach(() => stack.sim.reset());

const Weather = z.object({ city: z.string(), celsius: z.number(), sunny: z.boolean(), tags: z.array(z.string()) });
const question = [{ role: 'user' as const, content: 'What is the weather in Paris? Answer in JSON.' }];
type Reasoned = { reasoning_content?: string | null; budget_forcing?: { segments: number; thinking_tokens: number; truncated: boolean; extensions: number } };

/** The simulator's segment calls (the chat first segment, then /v1/completions), in order. */
function segments(): Record<string, unknown>[] {
  return segmentRequests(stack.sim).map((r) => r.body as Record<string, unknown>);
}

describe('response_format json_schema through the SDK (chat.completions.parse)', () => {
  it.each([
    ['no budget', {}, 2],
    ['a forced close (M = 8)', { max_thinking_tokens: 8 }, 2],
    ['an extension (m = 40)', { min_thinking_tokens: 40 }, 3],
  ])('%s: thinking stays free, the answer parses against the schema', async (_name, extra, nSegments) => {
    const res = await stack.client.chat.completions.parse({
      model: 'sim-r1',
      messages: question,
      response_format: zodResponseFormat(Weather, 'weather'),
      ...extra,
    } as never);
    const msg = res.choices[0]!.message as OpenAI.ChatCompletionMessage & Reasoned & { parsed: z.infer<typeof Weather> | null };
    expect(msg.parsed).toEqual({ city: 'sim', celsius: 42, sunny: true, tags: [] });
    expect(Weather.parse(JSON.parse(msg.content!))).toEqual(msg.parsed);
    expect(msg.reasoning_content!.length).toBeGreaterThan(20);
    expect(res.choices[0]!.finish_reason).toBe('stop');
    const bf = (res as unknown as Reasoned).budget_forcing!;
    expect(bf.segments).toBe(nSegments);
    // Only the last (answer) segment carried the grammar, as vLLM's structured_outputs would read it.
    const segs = segments();
    expect(segs).toHaveLength(nSegments);
    for (const s of segs.slice(0, -1)) {
      expect(s.response_format).toBeUndefined();
      expect(s.structured_outputs).toBeUndefined();
    }
    expect(segs.at(-1)!.response_format).toMatchObject({ type: 'json_schema', json_schema: { name: 'weather' } });
  });

  it('streamed: reasoning deltas, then content deltas that join into the constrained JSON', async () => {
    const stream = await stack.client.chat.completions.create({
      model: 'sim-r1',
      messages: question,
      response_format: zodResponseFormat(Weather, 'weather'),
      stream: true,
    });
    let reasoning = '';
    let content = '';
    for await (const chunk of stream) {
      const d = chunk.choices[0]?.delta as (OpenAI.ChatCompletionChunk.Choice.Delta & Reasoned) | undefined;
      reasoning += d?.reasoning_content ?? '';
      content += d?.content ?? '';
    }
    expect(reasoning.length).toBeGreaterThan(20);
    expect(Weather.parse(JSON.parse(content))).toEqual({ city: 'sim', celsius: 42, sunny: true, tags: [] });
  });
});

describe('structured_outputs (vLLM extra) and json_object', () => {
  it('structured_outputs.choice: the answer is one of the choices, sent on the answer segment only', async () => {
    const res = await stack.client.chat.completions.create({ model: 'sim-r1', messages: question, structured_outputs: { choice: ['sunny', 'rainy'] } } as never);
    expect(res.choices[0]!.message.content).toBe('sunny');
    expect(segments().map((s) => s.structured_outputs)).toEqual([undefined, { choice: ['sunny', 'rainy'] }]);
  });

  it('guided_choice / guided_json (vLLM < 0.11, ignored by 0.32): honoured as structured_outputs, on the answer only', async () => {
    const res = await stack.client.chat.completions.create({ model: 'sim-r1', messages: question, guided_choice: ['cloudy', 'sunny'] } as never);
    expect(res.choices[0]!.message.content).toBe('cloudy');
    expect(segments().map((s) => [s.structured_outputs, s.guided_choice])).toEqual([[undefined, undefined], [{ choice: ['cloudy', 'sunny'] }, undefined]]);
    stack.sim.reset();
    const json = await stack.client.chat.completions.create({ model: 'sim-r1', messages: question, guided_json: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] }, guided_whitespace_pattern: ' ' } as never);
    expect(JSON.parse(json.choices[0]!.message.content!)).toEqual({ n: 42 });
    expect(segments().at(-1)!.structured_outputs).toMatchObject({ whitespace_pattern: ' ', json: { type: 'object' } });
  });

  it('response_format json_object: the answer is a JSON object', async () => {
    const res = await stack.client.chat.completions.create({ model: 'sim-r1', messages: question, response_format: { type: 'json_object' } });
    expect(JSON.parse(res.choices[0]!.message.content!)).toEqual({});
  });

  it("response_format text changes nothing: no grammar, one segment, the model's own answer", async () => {
    const res = await stack.client.chat.completions.create({ model: 'sim-r1', messages: question, response_format: { type: 'text' } });
    expect(res.choices[0]!.message.content).toContain('42');
    expect(segments()).toHaveLength(1);
    expect(segments()[0]!.response_format).toBeUndefined();
  });

  it('/v1/completions with a budget: the grammar holds on the answer only; the transcript keeps the thinking', async () => {
    const res = await fetch(`${stack.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'sim-r1', prompt: 'Q: weather?\n<think>\n', max_tokens: 200, max_thinking_tokens: 6, structured_outputs: { json: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } } }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { choices: { text: string }[] };
    expect(body.choices[0]!.text.endsWith('{"ok":true}')).toBe(true);
    expect(body.choices[0]!.text).toContain('</think>');
    expect(segments().map((s) => s.structured_outputs !== undefined)).toEqual([false, true]);
  });
});

describe('required and named tool_choice: the tools\' schema on the answer only', () => {
  const weather = {
    type: 'function' as const,
    function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
  };

  it('required: the answer is the JSON array vLLM constrains it to; the call comes back as tool_calls', async () => {
    const res = await stack.client.chat.completions.create({ model: 'sim-r1', messages: question, tools: [weather], tool_choice: 'required' });
    const choice = res.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect((choice.message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall).function).toEqual({ name: 'get_weather', arguments: '{"city": "sim"}' });
    const segs = segments();
    expect(segs[0]!.structured_outputs).toBeUndefined();
    expect(segs.at(-1)!.structured_outputs).toMatchObject({ json: { type: 'array', minItems: 1 } });
    expect(segs.at(-1)!.response_format).toBeUndefined();
  });

  it('named: the answer is the arguments object, sent as that function\'s call', async () => {
    const res = await stack.client.chat.completions.create({
      model: 'sim-r1',
      messages: question,
      tools: [weather],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
    });
    const call = res.choices[0]!.message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
    expect(call.function.name).toBe('get_weather');
    expect(JSON.parse(call.function.arguments)).toEqual({ city: 'sim' });
    expect(segments().at(-1)!.structured_outputs).toEqual({ json: weather.function.parameters });
  });

  it('required replaces response_format, as vLLM\'s tool parser does', async () => {
    await stack.client.chat.completions.create({ model: 'sim-r1', messages: question, tools: [weather], tool_choice: 'required', response_format: { type: 'json_object' } });
    const last = segments().at(-1)!;
    expect(last.response_format).toBeUndefined();
    expect(last.structured_outputs).toMatchObject({ json: { type: 'array' } });
  });
});

describe('refusals before anything is generated (vLLM\'s request-time rules), each a 400 naming the field', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['json_schema without json_schema', { response_format: { type: 'json_schema' } }, 'response_format'],
    ['json_schema without a schema', { response_format: { type: 'json_schema', json_schema: { name: 'x' } } }, 'response_format.json_schema.schema'],
    ['json_schema without a name', { response_format: { type: 'json_schema', json_schema: { schema: {} } } }, 'response_format.json_schema.name'],
    ['an unknown response_format type', { response_format: { type: 'yaml' } }, 'response_format.type'],
    ['two constraints', { structured_outputs: { json: {}, regex: 'a+' } }, 'structured_outputs'],
    ['no constraint', { structured_outputs: { disable_any_whitespace: true } }, 'structured_outputs'],
    ['response_format on top of a structured_outputs constraint', { structured_outputs: { regex: 'a+' }, response_format: { type: 'json_object' } }, 'structured_outputs'],
    ['an unknown structured_outputs key', { structured_outputs: { json: {}, jsn: 1 } }, 'structured_outputs.jsn'],
    ['choice not a list of strings', { structured_outputs: { choice: [1, 2] } }, 'structured_outputs.choice'],
    ['a constraint with a named tool choice', { structured_outputs: { regex: 'a' }, tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: { type: 'function', function: { name: 'f' } } }, 'structured_outputs'],
    ['guided_choice beside structured_outputs.choice', { guided_choice: ['a'], structured_outputs: { choice: ['b'] } }, 'guided_choice'],
    ['guided_json beside guided_regex', { guided_json: { type: 'object' }, guided_regex: 'a+' }, 'structured_outputs'],
    ['guided_decoding_backend (vLLM < 0.11)', { guided_decoding_backend: 'xgrammar' }, 'guided_decoding_backend'],
  ];
  it.each(cases)('%s', async (_name, extra, param) => {
    const res = await fetch(`${stack.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'sim-r1', messages: question, ...extra }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { param: string } };
    expect(body.error.param).toBe(param);
    expect(segments()).toHaveLength(0);
  });
});
