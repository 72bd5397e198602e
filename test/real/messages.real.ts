/**
 * POST /v1/messages (Anthropic's Messages API) against the real servers, through the official
 * @anthropic-ai/sdk: `thinking.budget_tokens` is an exact maximum in the server's own token ids
 * (checked on the segments the recording proxy saw), a minimum extends with "Wait", and the
 * streamed events carry the same thinking and answer as the non-stream message.
 */
import Anthropic from '@anthropic-ai/sdk';
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
type Msg = Anthropic.Message & { budget_forcing: BudgetForcing };

const backends = inject('realBackends');

describe.each(backends)('$label /v1/messages', (backend) => {
  let stack: RealStack;
  let client: Anthropic;
  let forcedClose: number[];
  const path = COMPLETION_PATH[backend.kind];

  beforeAll(async () => {
    stack = await startRealStack(backend);
    client = new Anthropic({ baseURL: stack.url, apiKey: 'unused', maxRetries: 0, timeout: 170_000 });
    forcedClose = await tokenizeOn(backend, FORCED_CLOSE);
  });
  afterAll(async () => stack?.close());

  const ask = (seed: number, extra: Record<string, unknown>) =>
    ({
      model: backend.model,
      max_tokens: 40,
      temperature: 1,
      top_p: 1,
      seed,
      messages: [{ role: 'user', content: 'What is 6 x 7? Think it over.' }],
      ...extra,
    }) as unknown as Anthropic.MessageCreateParamsNonStreaming;

  const text = (m: Anthropic.Message, kind: 'thinking' | 'text') =>
    m.content.map((b) => (b.type === 'thinking' && kind === 'thinking' ? b.thinking : b.type === 'text' && kind === 'text' ? b.text : '')).join('');

  it('thinking.budget_tokens is an exact maximum in the server\'s own ids', async () => {
    const M = 12;
    const from = stack.proxy.exchanges.length;
    const msg = (await client.messages.create(ask(7, { thinking: { type: 'enabled', budget_tokens: M } }))) as Msg;
    const segs = stack.proxy.since(from, path).map((ex) => segmentOf(backend.kind, ex));
    expect(segs.length).toBe(msg.budget_forcing.segments);
    expect(segs[0]!.maxTokens).toBe(M); // the thinking segment asks for exactly what the budget leaves
    expect(msg.budget_forcing.thinking_tokens).toBeLessThanOrEqual(M);
    if (msg.budget_forcing.truncated) {
      expect(msg.budget_forcing.thinking_tokens).toBe(M);
      const l = link(segs[0]!, segs[1]!);
      expect(l.kept).toBe(M);
      expect(l.inserted).toEqual(forcedClose);
    }
    expect(msg.content[0]!.type).toBe('thinking');
    expect(msg.usage.output_tokens).toBeGreaterThanOrEqual(msg.budget_forcing.thinking_tokens);
    expect(['end_turn', 'max_tokens']).toContain(msg.stop_reason);
  });

  it('min_thinking_tokens extends thinking past the model\'s own close, within budget_tokens', async () => {
    const msg = (await client.messages.create(
      ask(3, { max_tokens: 200, thinking: { type: 'enabled', budget_tokens: 150 }, min_thinking_tokens: 140, max_thinking_extensions: 2 }),
    )) as Msg;
    const bf = msg.budget_forcing;
    expect(bf.thinking_tokens).toBeLessThanOrEqual(150);
    expect(bf.thinking_tokens >= 140 || bf.extensions === 2 || bf.truncated).toBe(true);
    expect(text(msg, 'thinking').split('Wait').length - 1).toBeGreaterThanOrEqual(bf.extensions);
    expect(text(msg, 'thinking')).not.toContain('</think>');
  });

  it('streams Anthropic\'s events with the same thinking and answer as the message it builds', async () => {
    const stream = client.messages.stream(ask(5, { thinking: { type: 'enabled', budget_tokens: 10 } }) as never);
    let thinking = '';
    let answer = '';
    const names = new Set<string>();
    for await (const ev of stream) {
      names.add(ev.type);
      if (ev.type === 'content_block_delta' && ev.delta.type === 'thinking_delta') thinking += ev.delta.thinking;
      if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') answer += ev.delta.text;
    }
    const final = await stream.finalMessage();
    expect(text(final, 'thinking')).toBe(thinking);
    expect(text(final, 'text')).toBe(answer);
    for (const n of ['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']) {
      expect(names.has(n), n).toBe(true);
    }
  });

  // vLLM serves /v1/messages itself (vllm/entrypoints/anthropic/serving.py): the same tool-use
  // round trip must become the same prompt there and here (usage.input_tokens), and thinkgate's
  // answer must be its own chat's answer to the chat request vLLM would build.
  it.runIf(backend.kind === 'vllm')('a tool-use round trip: the same prompt as vLLM\'s own /v1/messages; tools reach the template', async () => {
    const body = {
      model: backend.model,
      max_tokens: 60,
      temperature: 0,
      tools: [{ name: 'get_weather', description: 'Weather of a city', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }],
      messages: [
        { role: 'user', content: 'Use a tool to get the weather in Paris.' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' }] },
      ],
    };
    const post = async (url: string) => {
      const res = await fetch(`${url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: JSON.stringify(body) });
      expect(res.status, await res.clone().text()).toBe(200);
      return (await res.json()) as Anthropic.Message;
    };
    const ours = await post(stack.url);
    const theirs = await post(backend.url);
    expect(ours.usage.input_tokens).toBe(theirs.usage.input_tokens);
    // Without the tools the prompt is shorter: they were rendered, not dropped.
    const noTools = await fetch(`${stack.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...body, tools: undefined, messages: [body.messages[0]] }),
    }).then((r) => r.json() as Promise<Anthropic.Message>);
    expect(noTools.usage.input_tokens).toBeLessThan(ours.usage.input_tokens);
  });
});
