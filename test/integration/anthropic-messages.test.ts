/**
 * POST /v1/messages end to end with the official Anthropic SDK as it is (@anthropic-ai/sdk):
 * SDK -> thinkgate -> vLLM simulator over real sockets. The simulator thinks 30 tokens by itself,
 * 10 after each "Wait", and answers in 12 (test/integration/chat-budget.test.ts says the same
 * through the openai SDK: both routes must agree token for token).
 */
import Anthropic from '@anthropic-ai/sdk';
import { zodOutputFormat } from '@anthropic-ai/sdk/helpers/zod';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countTokens, startStack, type Stack, segmentRequests } from '../support/stack.js';

let stack: Stack;
let client: Anthropic;
let keyed: Stack;
beforeAll(async () => {
  stack = await startStack();
  client = new Anthropic({ baseURL: stack.url, apiKey: 'unused', maxRetries: 0, timeout: 15_000 });
  keyed = await startStack({ config: { auth: { api_keys: ['sk-anthropic-test'] } } });
});
afterAll(async () => {
  await stack.close();
  await keyed.close();
});

interface BudgetForcing {
  thinking_tokens: number;
  extensions: number;
  truncated: boolean;
  segments: number;
}

const base = { model: 'sim-r1', max_tokens: 1000, temperature: 0, messages: [{ role: 'user' as const, content: 'What is 6 x 7?' }] };

function blocks(msg: Anthropic.Message): { thinking: string; text: string; signature: string | undefined } {
  let thinking = '';
  let text = '';
  let signature: string | undefined;
  for (const b of msg.content) {
    if (b.type === 'thinking') {
      thinking += b.thinking;
      signature = b.signature;
    } else if (b.type === 'text') text += b.text;
  }
  return { thinking, text, signature };
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

describe('/v1/messages with the Anthropic SDK (messages.create)', () => {
  it('answers with a thinking block and a text block, end_turn, and usage in the model\'s tokens', async () => {
    const msg = await client.messages.create(base);
    const { thinking, text, signature } = blocks(msg);
    expect(msg.type).toBe('message');
    expect(msg.role).toBe('assistant');
    expect(msg.id).toMatch(/^msg-/);
    expect(msg.content.map((b) => b.type)).toEqual(['thinking', 'text']);
    expect(signature).toMatch(/^[0-9a-f]{32}$/);
    expect(await countTokens(stack.sim, thinking)).toBe(30);
    expect(text).toMatch(/\S/);
    expect(msg.stop_reason).toBe('end_turn');
    expect(msg.stop_sequence).toBeNull();
    expect(msg.usage.input_tokens).toBeGreaterThan(0);
    expect(msg.usage.output_tokens).toBeGreaterThan(30);
    const same = await chat({});
    expect(thinking).toBe(same.reasoning);
    expect(text).toBe(same.content);
  });

  it('thinking.budget_tokens is an exact maximum, in the model\'s own tokens', async () => {
    const msg = await client.messages.create({ ...base, thinking: { type: 'enabled', budget_tokens: 10 } } as never);
    const { thinking } = blocks(msg as Anthropic.Message);
    expect(await countTokens(stack.sim, thinking)).toBe(10);
    expect((msg as unknown as { budget_forcing: BudgetForcing }).budget_forcing).toMatchObject({ thinking_tokens: 10, truncated: true });
  });

  it('min_thinking_tokens extends thinking with the phrase, as on chat', async () => {
    const msg = (await client.messages.create({ ...base, min_thinking_tokens: 50 } as never)) as unknown as Anthropic.Message & { budget_forcing: BudgetForcing };
    expect(msg.budget_forcing.thinking_tokens).toBeGreaterThanOrEqual(50);
    expect(msg.budget_forcing.extensions).toBeGreaterThan(0);
    const same = await chat({ min_thinking_tokens: 50 });
    expect(blocks(msg).thinking).toBe(same.reasoning);
  });

  it('thinking disabled: no thinking block', async () => {
    const msg = await client.messages.create({ ...base, thinking: { type: 'disabled' } });
    expect(msg.content.map((b) => b.type)).toEqual(['text']);
  });

  it('max_tokens bounds thinking + answer: stop_reason max_tokens', async () => {
    const msg = await client.messages.create({ ...base, max_tokens: 20 });
    expect(msg.stop_reason).toBe('max_tokens');
    expect(msg.usage.output_tokens).toBe(20);
  });

  it('stop_sequences apply to the answer only, and the matched one is reported', async () => {
    const plain = blocks(await client.messages.create(base));
    const word = plain.text.trim().split(/\s+/)[1]!;
    const firstThinkingWord = plain.thinking.trim().split(/\s+/)[0]!;
    const msg = await client.messages.create({ ...base, stop_sequences: [firstThinkingWord, word] });
    expect(blocks(msg).thinking).toBe(plain.thinking);
    expect(msg.stop_reason).toBe('stop_sequence');
    expect(msg.stop_sequence).toBe(word);
    expect(blocks(msg).text).not.toContain(word);
  });

  it('a multi-turn history with an earlier thinking block (and its signature) is accepted', async () => {
    const first = await client.messages.create(base);
    const msg = await client.messages.create({
      ...base,
      messages: [...base.messages, { role: 'assistant', content: first.content }, { role: 'user', content: 'And 7 x 8?' }],
    } as never);
    expect((msg as Anthropic.Message).stop_reason).toBe('end_turn');
  });
});

describe('/v1/messages streaming (messages.stream)', () => {
  it('sends Anthropic\'s event sequence, and the stream and finalMessage agree with non-stream', async () => {
    for (const extra of [{}, { thinking: { type: 'enabled', budget_tokens: 10 } }, { min_thinking_tokens: 50 }]) {
      const want = blocks((await client.messages.create({ ...base, ...extra } as never)) as Anthropic.Message);
      const stream = client.messages.stream({ ...base, ...extra } as never);
      const kinds: string[] = [];
      let thinking = '';
      let text = '';
      for await (const ev of stream) {
        kinds.push(ev.type === 'content_block_delta' ? `delta:${ev.delta.type}` : ev.type);
        if (ev.type === 'content_block_delta' && ev.delta.type === 'thinking_delta') thinking += ev.delta.thinking;
        if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') text += ev.delta.text;
      }
      const final = await stream.finalMessage();
      expect(thinking).toBe(want.thinking);
      expect(text).toBe(want.text);
      expect(blocks(final).thinking).toBe(want.thinking);
      expect(blocks(final).text).toBe(want.text);
      expect(blocks(final).signature).toMatch(/^[0-9a-f]{32}$/);
      expect(final.stop_reason).toBe('end_turn');
      // The order: message_start, thinking block (deltas, signature, stop), text block, message_delta, message_stop.
      const squeezed = kinds.filter((k, i) => k !== kinds[i - 1]);
      expect(squeezed).toEqual([
        'message_start',
        'content_block_start',
        'delta:thinking_delta',
        'delta:signature_delta',
        'content_block_stop',
        'content_block_start',
        'delta:text_delta',
        'content_block_stop',
        'message_delta',
        'message_stop',
      ]);
    }
  });

  it('on the wire: named events, a ping, no [DONE], and usage with budget_forcing in message_delta', async () => {
    const res = await fetch(`${stack.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ ...base, stream: true, thinking: { type: 'enabled', budget_tokens: 10 } }),
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const body = await res.text();
    const events = body
      .split('\n\n')
      .filter((b) => b.startsWith('event: '))
      .map((b) => ({ name: b.slice(7, b.indexOf('\n')), data: JSON.parse(b.slice(b.indexOf('\ndata: ') + 7)) as Record<string, unknown> }));
    expect(events.every((e) => e.data.type === e.name)).toBe(true);
    expect(events[0]!.name).toBe('message_start');
    expect(events[1]!.name).toBe('ping');
    expect(body).not.toContain('[DONE]');
    const delta = events.find((e) => e.name === 'message_delta')!.data as { usage: { output_tokens: number }; budget_forcing: BudgetForcing; delta: { stop_reason: string } };
    expect(delta.delta.stop_reason).toBe('end_turn');
    expect(delta.budget_forcing).toMatchObject({ thinking_tokens: 10, truncated: true });
    expect(delta.usage.output_tokens).toBeGreaterThan(10);
  });
});

describe('/v1/messages output_config.format (structured output on the answer only)', () => {
  const Answer = z.object({ value: z.number(), unit: z.string() });

  it.each([
    ['no budget', {}],
    ['thinking.budget_tokens 8 (a forced close)', { thinking: { type: 'enabled', budget_tokens: 8 } }],
  ])('%s: messages.parse gives parsed_output; the thinking block is still there', async (_name, extra) => {
    stack.sim.reset();
    const msg = await client.messages.parse({ ...base, ...extra, output_config: { format: zodOutputFormat(Answer) } } as never);
    expect(msg.parsed_output).toEqual({ value: 42, unit: 'sim' });
    const kinds = msg.content.map((b) => b.type);
    expect(kinds).toEqual(['thinking', 'text']);
    const segs = segmentRequests(stack.sim).map((r) => r.body as Record<string, unknown>);
    expect(segs[0]!.response_format).toBeUndefined();
    expect(segs.at(-1)!.response_format).toMatchObject({ type: 'json_schema', json_schema: { name: 'json_schema' } });
  });

  it('a format without a schema changes nothing, as on vLLM', async () => {
    const msg = await client.messages.create({ ...base, output_config: { format: { type: 'json_schema' } } } as never);
    expect((msg.content.at(-1) as Anthropic.TextBlock).text).toContain('42');
  });
});

describe('/v1/messages errors and auth', () => {
  it('answers in Anthropic\'s envelope, which the SDK reads as its own error classes', async () => {
    const bad = await client.messages.create({ ...base, max_tokens: 0 }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(Anthropic.BadRequestError);
    const err = bad as InstanceType<typeof Anthropic.BadRequestError>;
    expect(err.status).toBe(400);
    expect(err.error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect((err.error as { error: { message: string } }).error.message).toContain('max_tokens');
  });

  it('refuses what it does not drive yet with 400 naming the field, never a silent drop (tools: anthropic-tools.test.ts)', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ output_config: { format: { type: 'xml', schema: {} } } }, 'output_config.format.type'],
      [{ messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'url', url: 'http://x/y.pdf' } }] }] }, 'messages[0].content[0]'],
      [{ messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'file', file_id: 'f' } }] }] }, 'messages[0].content[0].source.type'],
      [{ messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png' } }] }] }, 'messages[0].content[0].source.data'],
    ];
    for (const [extra, param] of cases) {
      const res = await fetch(`${stack.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...base, ...extra }) });
      expect(res.status, param).toBe(400);
      const body = (await res.json()) as { type: string; error: { type: string; message: string } };
      expect(body.type).toBe('error');
      expect(body.error.type).toBe('invalid_request_error');
      expect(body.error.message, param).toContain(param);
    }
  });

  it('an image block reaches the model: one render, every segment a generate call with it, the budget exact (docs/multimodal.md)', async () => {
    const png = Buffer.from('a tiny test png').toString('base64');
    const ask = (data: string) =>
      client.messages.create({
        ...base,
        thinking: { type: 'enabled', budget_tokens: 16 },
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is 6 x 7? See the picture.' },
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data } },
            ],
          },
        ],
      } as never);
    stack.sim.reset();
    const msg = (await ask(png)) as Anthropic.Message & { budget_forcing: BudgetForcing };
    const paths = stack.sim.stats().lastRequests.map((r) => r.path);
    expect(paths.filter((p) => p === '/v1/chat/completions/render')).toHaveLength(1);
    expect(paths).toContain('/inference/v1/generate');
    expect(paths).not.toContain('/v1/completions');
    // vLLM's mapping: a data URL in an image_url part, beside the text part.
    const render = stack.sim.stats().lastRequests.find((r) => r.path === '/v1/chat/completions/render')!.body as { messages: Array<{ content: unknown }> };
    expect(render.messages.at(-1)!.content).toEqual([
      { type: 'text', text: 'What is 6 x 7? See the picture.' },
      { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } },
    ]);
    expect(msg.budget_forcing.thinking_tokens).toBe(16);
    const marker = /\[image ([0-9a-f]{8})\]/.exec(blocks(msg).text)?.[1];
    expect(marker).toBeDefined();
    const other = (await ask(Buffer.from('another png').toString('base64'))) as Anthropic.Message;
    expect(/\[image ([0-9a-f]{8})\]/.exec(blocks(other).text)?.[1]).not.toBe(marker);
  });

  it('refuses a prototype-poisoning key in Anthropic\'s envelope, naming its path', async () => {
    const body = `{"model":${JSON.stringify(base.model)},"max_tokens":16,"messages":[{"role":"user","content":[{"type":"text","text":"hi","__proto__":{"x":1}}]}]}`;
    const res = await fetch(`${stack.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(400);
    const out = (await res.json()) as { type: string; error: { type: string; message: string } };
    expect(out).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(out.error.message).toContain('messages[0].content[0].__proto__');
  });

  it('output_config.effort picks the profile preset as reasoning_effort does on chat', async () => {
    const msg = (await client.messages.create({ ...base, thinking: { type: 'adaptive' }, output_config: { effort: 'low' } } as never)) as unknown as Anthropic.Message;
    const same = await chat({ reasoning_effort: 'low' });
    expect(blocks(msg).thinking).toBe(same.reasoning);
    for (const effort of ['xhigh', 'max']) {
      const m = (await client.messages.create({ ...base, thinking: { type: 'adaptive' }, output_config: { effort } } as never)) as unknown as Anthropic.Message;
      expect(blocks(m).thinking).toBe((await chat({ reasoning_effort: effort })).reasoning);
    }
  });

  it('takes the key from x-api-key (Anthropic\'s clients) as well as Bearer; 401 in Anthropic\'s envelope', async () => {
    const good = new Anthropic({ baseURL: keyed.url, apiKey: 'sk-anthropic-test', maxRetries: 0 });
    expect((await good.messages.create(base)).type).toBe('message');
    const wrong = await new Anthropic({ baseURL: keyed.url, apiKey: 'nope', maxRetries: 0 }).messages.create(base).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((wrong as InstanceType<typeof Anthropic.AuthenticationError>).error).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    // The same key on an OpenAI route through x-api-key.
    const models = await fetch(`${keyed.url}/v1/models`, { headers: { 'x-api-key': 'sk-anthropic-test' } });
    expect(models.status).toBe(200);
    const none = await fetch(`${keyed.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(base) });
    expect(none.status).toBe(401);
    expect(((await none.json()) as { type: string }).type).toBe('error');
  });

  it('hostile bodies get 400 in the envelope, never a 5xx', async () => {
    const bodies: unknown[] = [
      [],
      'x',
      { ...base, messages: [] },
      { ...base, messages: [{ role: 'tool', content: 'x' }] },
      { ...base, messages: [{ role: 'system', content: '' }] },
      { ...base, messages: [{ role: 'user', content: [{ type: 'nope' }] }] },
      { ...base, messages: [{ role: 'user', content: [{ type: 'text' }] }] },
      { ...base, thinking: { type: 'enabled' } },
      { ...base, thinking: { type: 'enabled', budget_tokens: -1 } },
      { ...base, stop_sequences: Array.from({ length: 5000 }, () => 'x') },
      { ...base, system: [{ type: 'image', source: {} }] },
      { ...base, max_tokens: 1.5 },
      { ...base, model: 'x'.repeat(5000) },
    ];
    for (const b of bodies) {
      const res = await fetch(`${stack.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) });
      expect(res.status, JSON.stringify(b).slice(0, 80)).toBe(400);
      expect(((await res.json()) as { type: string }).type).toBe('error');
    }
  });
});
