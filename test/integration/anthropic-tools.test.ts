/**
 * Tools on /v1/messages with the official Anthropic SDK: SDK -> thinkgate -> simulator. The
 * simulator answers a user turn that mentions "tool" with a hermes call for the first tool
 * (src/sim/tool-call.ts) and in text after a tool result; the model entry names the parser, as
 * vLLM's --tool-call-parser would. Mapped as vLLM maps them (anthropic/messages-tools.ts).
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack;
let client: Anthropic;
beforeAll(async () => {
  stack = await startStack({ config: { models: { 'sim-s1*': { profile: 's1' }, '*': { profile: 'think-tags', tool_call_parser: 'hermes' } } } });
  client = new Anthropic({ baseURL: stack.url, apiKey: 'unused', maxRetries: 0, timeout: 15_000 });
});
afterAll(async () => stack.close());

const weather: Anthropic.Tool = {
  name: 'get_weather',
  description: 'Weather of a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city'] },
};
const base = {
  model: 'sim-r1',
  max_tokens: 1000,
  temperature: 0,
  tools: [weather],
  messages: [{ role: 'user' as const, content: 'Use a tool to get the weather in Paris.' }],
};
const ID = /^chatcmpl-tool-[0-9a-f]{32}$/;

describe('/v1/messages tools (messages.create)', () => {
  it.each([
    ['no budget', {}],
    ['a forced close', { thinking: { type: 'enabled', budget_tokens: 5 } }],
    ['an extension', { min_thinking_tokens: 40 }],
  ])('%s: a tool_use block parsed from the answer, stop_reason tool_use', async (_name, extra) => {
    const msg = await client.messages.create({ ...base, ...extra } as Anthropic.MessageCreateParamsNonStreaming);
    expect(msg.stop_reason).toBe('tool_use');
    const uses = msg.content.filter((b) => b.type === 'tool_use');
    expect(uses).toHaveLength(1);
    expect(uses[0]).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { city: 'sim', days: 42 } });
    expect((uses[0] as Anthropic.ToolUseBlock).id).toMatch(ID);
    expect(msg.content[0]!.type).toBe('thinking');
    const thinking = (msg.content[0] as Anthropic.ThinkingBlock).thinking;
    expect(thinking).not.toContain('<tool_call>');
    expect(msg.content.some((b) => b.type === 'text' && b.text.includes('<tool_call>'))).toBe(false);
  });

  it('tool_choice none: the raw text stays text, end_turn', async () => {
    const msg = await client.messages.create({ ...base, tool_choice: { type: 'none' } });
    expect(msg.stop_reason).toBe('end_turn');
    expect(msg.content.some((b) => b.type === 'tool_use')).toBe(false);
    expect(msg.content.some((b) => b.type === 'text' && b.text.includes('<tool_call>'))).toBe(true);
  });

  it('a round trip: the tool_use block and a tool_result go back, and the model answers in text', async () => {
    const first = await client.messages.create(base);
    const use = first.content.find((b) => b.type === 'tool_use') as Anthropic.ToolUseBlock;
    const second = await client.messages.create({
      ...base,
      messages: [
        ...base.messages,
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'sunny' }] },
      ],
    });
    expect(second.stop_reason).toBe('end_turn');
    expect(second.content.some((b) => b.type === 'tool_use')).toBe(false);
    expect(second.content.find((b) => b.type === 'text')).toBeDefined();
  });

  it('the SDK tool runner calls the tool and ends with the model\'s text', async () => {
    const seen: unknown[] = [];
    const runner = client.beta.messages.toolRunner({
      ...base,
      tools: [
        {
          ...weather,
          run: (input: unknown) => {
            seen.push(input);
            return 'sunny';
          },
        },
      ],
    } as never);
    const final = (await runner) as Anthropic.Message;
    expect(seen).toEqual([{ city: 'sim', days: 42 }]);
    expect(final.content.some((b) => b.type === 'text')).toBe(true);
  });
});

describe('/v1/messages tools (messages.stream)', () => {
  it('streams a tool_use block with input_json_delta; finalMessage has the parsed input', async () => {
    const stream = client.messages.stream(base);
    const kinds: string[] = [];
    let json = '';
    for await (const ev of stream) {
      if (ev.type === 'content_block_start') kinds.push(`start:${ev.content_block.type}`);
      if (ev.type === 'content_block_delta' && ev.delta.type === 'input_json_delta') json += ev.delta.partial_json;
    }
    const final = await stream.finalMessage();
    // The blank text the model wrote before its call is streamed as a text block, as vLLM streams
    // content up to the marker (a whole message drops blank text around calls, as vLLM does).
    expect(kinds).toEqual(['start:thinking', 'start:text', 'start:tool_use']);
    expect(JSON.parse(json)).toEqual({ city: 'sim', days: 42 });
    expect(final.stop_reason).toBe('tool_use');
    const use = final.content.find((b) => b.type === 'tool_use') as Anthropic.ToolUseBlock;
    expect(use.input).toEqual({ city: 'sim', days: 42 });
    expect(use.id).toMatch(ID);
    // Stream and non-stream agree on everything but the ids.
    const whole = await client.messages.create(base);
    const strip = (m: Anthropic.Message) =>
      m.content
        .filter((b) => b.type !== 'text' || b.text.trim() !== '')
        .map((b) => (b.type === 'tool_use' ? { ...b, id: '' } : b.type === 'thinking' ? { ...b, signature: '' } : b));
    expect(strip(final)).toEqual(strip(whole));
  });
});

describe('/v1/messages tool errors, as chat\'s', () => {
  it.each([
    [{ tools: [] }, 'tools'],
    [{ tools: undefined, tool_choice: { type: 'auto' } }, 'tool_choice'],
    [{ tool_choice: { type: 'tool', name: 'nope' } }, 'tool_choice'],
    [{ tool_choice: { type: 'tool' } }, 'tool_choice.name'],
    [{ messages: [{ role: 'user', content: [{ type: 'tool_use', id: 'x', name: 'y', input: {} }] }] }, 'messages[0].content[0]'],
    [{ messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'x', content: [{ type: 'image', source: {} }] }] }] }, 'messages[0].content[0].content[0]'],
  ])('%j -> 400 naming %s', async (extra, param) => {
    const res = await fetch(`${stack.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...base, ...extra }) });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { type: string; error: { type: string; message: string } };
    expect(body.type).toBe('error');
    expect(body.error.message).toContain(param);
  });
});
