/**
 * Tool calls end to end: openai SDK -> thinkgate -> vLLM simulator over real sockets. The
 * simulator answers a user turn that mentions "tool" with a hermes `<tool_call>` for the first
 * rendered tool (src/sim/tool-call.ts) and answers in text after a `tool` message. The model
 * entry names the parser (`tool_call_parser: hermes`), as vLLM's --tool-call-parser would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type OpenAI from 'openai';
import { generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    config: { models: { 'sim-s1*': { profile: 's1' }, 'sim-qwen3': { profile: 'think-tags' }, '*': { profile: 'think-tags', tool_call_parser: 'hermes' } } },
  });
});
afterAll(async () => stack.close());

const weather = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Weather of a city',
    parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city'] },
  },
};
const ask = (extra: Record<string, unknown> = {}) => ({
  model: 'sim-r1',
  messages: [{ role: 'user' as const, content: 'Use a tool to get the weather in Paris.' }],
  tools: [weather],
  temperature: 0,
  ...extra,
});
const ID = /^chatcmpl-tool-[0-9a-f]{32}$/;
type Reasoned = { reasoning_content?: string | null };

async function post(body: Record<string, unknown>) {
  const res = await fetch(`${stack.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

describe('tool calls, non-stream', () => {
  it.each([
    ['no budget', {}, 1],
    ['a forced close (M = 5)', { max_thinking_tokens: 5 }, 2],
    ['an extension (m = 40)', { min_thinking_tokens: 40 }, 3],
  ])('%s: tool_calls parsed from the answer, content null, finish tool_calls', async (_name, extra, segments) => {
    const res = (await stack.client.chat.completions.create(ask(extra) as never)) as OpenAI.ChatCompletion & { budget_forcing: { segments: number } };
    const choice = res.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls).toHaveLength(1);
    const call = choice.message.tool_calls![0]! as OpenAI.ChatCompletionMessageFunctionToolCall;
    expect(call.id).toMatch(ID);
    expect(call.type).toBe('function');
    expect(call.function).toEqual({ name: 'get_weather', arguments: '{"city": "sim", "days": 42}' });
    expect((choice.message as Reasoned).reasoning_content).not.toContain('<tool_call>');
    expect(res.budget_forcing.segments).toBe(segments);
  });

  it('tool_choice none: the raw text stays content, finish stop', async () => {
    const res = await stack.client.chat.completions.create(ask({ tool_choice: 'none' }) as never);
    expect(res.choices[0]!.message.content).toContain('<tool_call>');
    expect(res.choices[0]!.message.tool_calls).toBeUndefined();
    expect(res.choices[0]!.finish_reason).toBe('stop');
  });

  it('n = 2: each choice parsed on its own, with its own ids', async () => {
    const res = await stack.client.chat.completions.create(ask({ n: 2 }) as never);
    const ids = res.choices.map((c) => c.message.tool_calls![0]!.id);
    expect(res.choices.map((c) => c.finish_reason)).toEqual(['tool_calls', 'tool_calls']);
    expect(new Set(ids).size).toBe(2);
  });

  it('a history with tool messages, assistant tool_calls and reasoning_content reaches the template; the model answers in text', async () => {
    const res = (await stack.client.chat.completions.create({
      ...ask(),
      messages: [
        { role: 'user', content: 'Use a tool to get the weather in Paris.' },
        { role: 'assistant', content: null, reasoning_content: 'I should call it.', tool_calls: [{ id: 'chatcmpl-tool-1', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris"}' } }] },
        { role: 'tool', tool_call_id: 'chatcmpl-tool-1', content: 'sunny' },
      ],
    } as never)) as OpenAI.ChatCompletion;
    expect(res.choices[0]!.finish_reason).toBe('stop');
    expect(res.choices[0]!.message.tool_calls).toBeUndefined();
    expect(res.choices[0]!.message.content).toMatch(/\S/);
    // What /tokenize receives exactly is pinned in test/unit/tool-plan.test.ts (prepareChat).
  });

  it("the openai SDK's runTools calls the tool and finishes with the model's text", async () => {
    const seen: unknown[] = [];
    const runner = stack.client.chat.completions.runTools({
      ...(ask() as object),
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            parameters: weather.function.parameters,
            function: (args: unknown) => {
              seen.push(args);
              return 'sunny';
            },
            parse: JSON.parse,
          },
        },
      ],
    } as never);
    const final = await runner.finalContent();
    expect(seen).toEqual([{ city: 'sim', days: 42 }]);
    expect(final).toMatch(/\S/);
  });
});

describe("the Vercel AI SDK's tool calls (@ai-sdk/openai-compatible)", () => {
  const setup = () => {
    const provider = createOpenAICompatible({ name: 'thinkgate', baseURL: `${stack.url}/v1`, apiKey: 'unused' });
    const seen: unknown[] = [];
    const tools = {
      get_weather: tool({
        description: 'Weather of a city',
        inputSchema: jsonSchema<{ city: string; days?: number }>(weather.function.parameters as never),
        execute: async (input) => {
          seen.push(input);
          return 'sunny';
        },
      }),
    };
    return { model: provider.chatModel('sim-r1'), seen, tools };
  };

  it('generateText runs the tool and finishes with text', async () => {
    const { model, seen, tools } = setup();
    const res = await generateText({ model, tools, prompt: 'Use a tool to get the weather in Paris.', temperature: 0, stopWhen: stepCountIs(3) });
    expect(seen).toEqual([{ city: 'sim', days: 42 }]);
    expect(res.steps[0]!.finishReason).toBe('tool-calls');
    expect(res.steps[0]!.toolCalls.map((c) => c.toolName)).toEqual(['get_weather']);
    expect(res.text).toMatch(/\S/);
  });

  it('streamText streams the call and the final text', async () => {
    const { model, seen, tools } = setup();
    const res = streamText({ model, tools, prompt: 'Use a tool to get the weather in Paris.', temperature: 0, stopWhen: stepCountIs(3) });
    const text = await res.text;
    expect(seen).toEqual([{ city: 'sim', days: 42 }]);
    expect((await res.steps)[0]!.toolCalls.map((c) => c.toolName)).toEqual(['get_weather']);
    expect(text).toMatch(/\S/);
  });
});

describe('tool calls, stream', () => {
  it.each([
    ['no budget', {}],
    ['a forced close', { max_thinking_tokens: 5 }],
    ['an extension', { min_thinking_tokens: 40 }],
  ])('%s: delta.tool_calls (id, type, name first, then arguments), no tag text in content', async (_name, extra) => {
    const stream = await stack.client.chat.completions.create({ ...ask(extra), stream: true } as never);
    let content = '';
    let reasoning = '';
    let args = '';
    let finish: string | null = null;
    const heads: unknown[] = [];
    for await (const chunk of stream as unknown as AsyncIterable<OpenAI.ChatCompletionChunk>) {
      const d = chunk.choices[0]?.delta as (OpenAI.ChatCompletionChunk.Choice.Delta & Reasoned) | undefined;
      content += d?.content ?? '';
      reasoning += d?.reasoning_content ?? '';
      for (const tc of d?.tool_calls ?? []) {
        if (tc.id !== undefined) heads.push({ index: tc.index, type: tc.type, name: tc.function?.name, idOk: ID.test(tc.id) });
        args += tc.function?.arguments ?? '';
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(heads).toEqual([{ index: 0, type: 'function', name: 'get_weather', idOk: true }]);
    expect(args).toBe('{"city": "sim", "days": 42}');
    expect(content.trim()).toBe('');
    expect(reasoning).not.toContain('tool_call');
    expect(finish).toBe('tool_calls');
  });
});

describe('tool request semantics (400 naming the param, as vLLM)', () => {
  it.each([
    ['tools: []', { tools: [] }, 'tools'],
    ['tool_choice without tools', { tools: undefined, tool_choice: 'auto' }, 'tool_choice'],
    ['a named tool not in tools', { tool_choice: { type: 'function', function: { name: 'nope' } } }, 'tool_choice'],
    ['a named choice without a function', { tool_choice: { type: 'function' } }, 'tool_choice.function'],
    ['a named choice without a name', { tool_choice: { type: 'function', function: {} } }, 'tool_choice.function.name'],
    ['deprecated functions', { functions: [{ name: 'f' }] }, 'functions'],
    ['deprecated function_call', { function_call: 'auto' }, 'function_call'],
    ['auto on a model without a parser', { model: 'sim-qwen3' }, 'tool_choice'],
    ['a tool of another type', { tools: [{ type: 'code_interpreter' }] }, 'tools[0].type'],
  ])('%s', async (_name, extra, param) => {
    const { status, body } = await post(ask(extra));
    expect(status).toBe(400);
    expect(body.error.param).toBe(param);
  });

  it('tool_choice none on a model without a parser is fine: the tools only reach the template', async () => {
    const { status, body } = await post(ask({ model: 'sim-qwen3', tool_choice: 'none' }));
    expect(status).toBe(200);
    expect(body.choices[0].message.content).toContain('<tool_call>');
  });
});
