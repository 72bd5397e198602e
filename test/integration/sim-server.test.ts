import { connect } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { renderChatTemplate } from '../../src/sim/chat-template.js';
import { parseSimArgs } from '../../src/sim/main.js';
import { DEFAULT_SIM_OPTIONS, startSimulator, type Simulator } from '../../src/sim/server.js';
import { EOS_ID, THINK_END_ID, createSimTokenizer } from '../../src/sim/tokenizer.js';
import { until } from '../support/wait.js';

const tok = createSimTokenizer();
let sim: Simulator;

beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(async () => {
  await sim.close();
});
beforeEach(() => {
  sim.setOptions({ ...DEFAULT_SIM_OPTIONS, host: '127.0.0.1', port: 0 });
  sim.reset();
});

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function post(path: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal) {
  return fetch(`${sim.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    signal,
  });
}

/** SSE body -> the `data:` payloads (the SSE spec: events end with a blank line). */
function events(text: string): string[] {
  return text
    .split('\n\n')
    .filter((e) => e.length > 0)
    .map((e) => {
      expect(e.startsWith('data: ')).toBe(true);
      return e.slice('data: '.length);
    });
}

function chunksOf(text: string): Json[] {
  const ev = events(text);
  expect(ev.at(-1)).toBe('[DONE]');
  return ev.slice(0, -1).map((e) => JSON.parse(e) as Json);
}

/** Reads a streamed body until `done` returns true on the text so far, or `ms` pass. */
async function readUntil(res: Response, done: (text: string) => boolean, ms: number) {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let text = '';
  let timedOut = false;
  let error: unknown = null;
  const deadline = Date.now() + ms;
  while (!done(text)) {
    const left = deadline - Date.now();
    if (left <= 0) {
      timedOut = true;
      break;
    }
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([
      reader.read().catch((e: unknown) => ({ error: e })),
      new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), left))),
    ]);
    clearTimeout(timer);
    if (r === 'timeout') {
      timedOut = true;
      break;
    }
    if ('error' in r) {
      error = r.error;
      break;
    }
    if (r.done) break;
    text += dec.decode(r.value, { stream: true });
  }
  return { text, timedOut, error, reader };
}

const r1Prompt = tok.encode(renderChatTemplate([{ role: 'user', content: 'What is 6 times 7?' }], { kind: 'r1' }));
const streamBody = (extra: Json = {}): Json => ({
  model: 'sim-r1',
  prompt: r1Prompt,
  max_tokens: 200,
  stream: true,
  return_token_ids: true,
  skip_special_tokens: false,
  stream_options: { include_usage: true, continuous_usage_stats: true },
  ...extra,
});

describe('sim server: models, health, tokenize', () => {
  it('serves /health, /v1/models and /metrics', async () => {
    const h = await fetch(`${sim.url}/health`);
    expect(h.status).toBe(200);
    expect(await h.text()).toBe('');
    const m = (await (await fetch(`${sim.url}/v1/models`)).json()) as Json;
    expect(m.object).toBe('list');
    expect(m.data.map((d: Json) => d.id)).toEqual(['sim-r1', 'sim-qwen3', 'sim-s1']);
    expect(m.data[0]).toMatchObject({ object: 'model', owned_by: 'vllm', root: 'sim-r1', parent: null, max_model_len: 8192 });
    const metrics = await (await fetch(`${sim.url}/metrics`)).text();
    for (const name of ['vllm:num_requests_running', 'vllm:num_requests_waiting', 'sim_requests_total', 'sim_requests_aborted_total', 'sim_prompt_tokens_total', 'sim_cached_prompt_tokens_total']) {
      expect(metrics).toMatch(new RegExp(`^${name}(\\{[^}]*\\})? \\d`, 'm'));
    }
  });

  it('tokenizes chat messages with the model template, and plain prompts', async () => {
    const messages = [{ role: 'user', content: 'Hello' }];
    const chat = (await (await post('/tokenize', { model: 'sim-r1', messages })).json()) as Json;
    expect(chat.tokens).toEqual(tok.encode(renderChatTemplate(messages, { kind: 'r1' })));
    expect(chat.count).toBe(chat.tokens.length);
    expect(chat.max_model_len).toBe(8192);
    expect(chat.tokens.slice(-2)).toEqual([3, tok.id('\n')]);
    const qwen = (await (
      await post('/tokenize', { model: 'sim-qwen3', messages, add_generation_prompt: true, chat_template_kwargs: { enable_thinking: false } })
    ).json()) as Json;
    expect(tok.decode(qwen.tokens).endsWith('<|im_start|>assistant\n<think>\n\n</think>\n\n')).toBe(true);
    const plain = (await (
      await post('/tokenize', { model: 'sim-s1', prompt: '<|im_start|>think', add_special_tokens: false, return_token_strs: true })
    ).json()) as Json;
    expect(plain).toEqual({ count: 2, max_model_len: 8192, tokens: [1, tok.id('think')], token_strs: ['<|im_start|>', 'think'] });
    const de = (await (await post('/detokenize', { model: 'sim-r1', tokens: plain.tokens })).json()) as Json;
    expect(de).toEqual({ prompt: '<|im_start|>think' });
  });

  it('answers unknown models with 404 and bad bodies with 400, in vLLM error shape', async () => {
    const res = await post('/v1/completions', { model: 'nope', prompt: 'hi' });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ object: 'error', message: 'The model `nope` does not exist.', type: 'NotFoundError', param: 'model', code: 404 });
    const bad = await post('/v1/completions', { model: 'sim-r1', prompt: 'hi', n: 2 });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as Json).type).toBe('BadRequestError');
    const tokRes = await post('/tokenize', { model: 'nope', prompt: 'x' });
    expect(tokRes.status).toBe(404);
    sim.setOptions({ errorFormat: 'nested' });
    expect(await (await post('/v1/completions', { model: 'nope', prompt: 'hi' })).json()).toEqual({
      error: { message: 'The model `nope` does not exist.', type: 'NotFoundError', param: 'model', code: 404 },
    });
  });

  it('rejects prompt + max_tokens beyond max_model_len like vLLM', async () => {
    sim.setOptions({ maxModelLen: 64 });
    const res = await post('/v1/completions', { model: 'sim-r1', prompt: r1Prompt, max_tokens: 60 });
    expect(res.status).toBe(400);
    const body = (await res.json()) as Json;
    expect(body.message).toBe(
      `This model's maximum context length is 64 tokens. However, you requested ${r1Prompt.length + 60} tokens (${r1Prompt.length} in the messages, 60 in the completion). Please reduce the length of the messages or completion.`,
    );
    expect(body.code).toBe(400);
  });
});

describe('sim server: /v1/completions', () => {
  it('streams one chunk per token with token_ids, prompt_token_ids, usage and [DONE]', async () => {
    const res = await post('/v1/completions', streamBody());
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const chunks = chunksOf(await res.text());
    const tokenChunks = chunks.slice(0, -1);
    const usage = chunks.at(-1)!;
    expect(tokenChunks[0]!.choices[0].prompt_token_ids).toEqual(r1Prompt);
    expect(tokenChunks.slice(1).every((c) => c.choices[0].prompt_token_ids === null)).toBe(true); // as real vLLM sends it
    const ids = tokenChunks.flatMap((c) => c.choices[0].token_ids as number[]);
    expect(tokenChunks.every((c) => c.choices[0].token_ids.length === 1)).toBe(true);
    expect(ids).toHaveLength(45);
    expect(ids.at(-1)).toBe(EOS_ID);
    expect(ids[30]).toBe(THINK_END_ID);
    const text = tokenChunks.map((c) => c.choices[0].text).join('');
    expect(text).toBe(tok.decode(ids.slice(0, -1)));
    expect(text).toContain('</think>');
    expect(text).not.toContain('<|im_end|>');
    const last = tokenChunks.at(-1)!.choices[0];
    expect(last.finish_reason).toBe('stop');
    expect(last.stop_reason).toBeNull();
    expect(tokenChunks.slice(0, -1).every((c) => c.choices[0].finish_reason === null)).toBe(true);
    tokenChunks.forEach((c, i) => {
      expect(c.object).toBe('text_completion');
      expect(c.model).toBe('sim-r1');
      expect(c.id).toMatch(/^cmpl-/);
      expect(c.usage).toEqual({ prompt_tokens: r1Prompt.length, completion_tokens: i + 1, total_tokens: r1Prompt.length + i + 1 });
    });
    expect(usage.choices).toEqual([]);
    expect(usage.usage).toEqual({
      prompt_tokens: r1Prompt.length,
      completion_tokens: 45,
      total_tokens: r1Prompt.length + 45,
      prompt_tokens_details: { cached_tokens: 0 },
    });
  });

  it('ends on stop_token_ids with stop_reason = the id, and on max_tokens with length', async () => {
    const chunks = chunksOf(await (await post('/v1/completions', streamBody({ stop_token_ids: [THINK_END_ID] }))).text());
    const last = chunks.at(-2)!.choices[0];
    expect(last.token_ids).toEqual([THINK_END_ID]);
    expect(last.text).toBe('');
    expect(last.finish_reason).toBe('stop');
    expect(last.stop_reason).toBe(THINK_END_ID);
    const short = chunksOf(await (await post('/v1/completions', streamBody({ max_tokens: 5 }))).text());
    expect(short).toHaveLength(6);
    expect(short.at(-2)!.choices[0].finish_reason).toBe('length');
    expect(short.at(-2)!.choices[0].stop_reason).toBeNull();
  });

  it('gives the same tokens and text streamed and not streamed', async () => {
    for (const extra of [{}, { temperature: 0.8, seed: 7 }, { min_tokens: 50, stop_token_ids: [THINK_END_ID] }]) {
      const chunks = chunksOf(await (await post('/v1/completions', streamBody(extra))).text()).slice(0, -1);
      const full = (await (await post('/v1/completions', { ...streamBody(extra), stream: false })).json()) as Json;
      const choice = full.choices[0];
      expect(choice.token_ids).toEqual(chunks.flatMap((c) => c.choices[0].token_ids));
      expect(choice.prompt_token_ids).toEqual(r1Prompt);
      expect(choice.text).toBe(chunks.map((c) => c.choices[0].text).join(''));
      expect(choice.finish_reason).toBe(chunks.at(-1)!.choices[0].finish_reason);
      expect(choice.stop_reason).toEqual(chunks.at(-1)!.choices[0].stop_reason);
      expect(full.usage.completion_tokens).toBe(chunks.length);
    }
  });

  it('defaults max_tokens to 16, takes string prompts, and runs batches non-streamed only', async () => {
    const one = (await (await post('/v1/completions', { model: 'sim-r1', prompt: 'Hello' })).json()) as Json;
    expect(one.usage.completion_tokens).toBe(16);
    expect(one.choices[0].finish_reason).toBe('length');
    expect(one.choices[0].token_ids).toBeUndefined();
    const batch = (await (await post('/v1/completions', { model: 'sim-r1', prompt: ['Hello', [1, 2, 3]], max_tokens: 3 })).json()) as Json;
    expect(batch.choices.map((c: Json) => c.index)).toEqual([0, 1]);
    expect(batch.usage.completion_tokens).toBe(6);
    const echo = (await (await post('/v1/completions', { model: 'sim-r1', prompt: 'Hello', max_tokens: 2, echo: true })).json()) as Json;
    expect(echo.choices[0].text).toBe('Hello<think>\n'); // a raw prompt opens no thinking: the model does
    const streamBatch = await post('/v1/completions', { model: 'sim-r1', prompt: ['a', 'b'], stream: true });
    expect(streamBatch.status).toBe(400);
  });

  it('reports cached_tokens for a continuation that re-sends prompt + generated ids', async () => {
    const first = chunksOf(await (await post('/v1/completions', streamBody({ stop_token_ids: [THINK_END_ID] }))).text());
    const generated = first.slice(0, -1).flatMap((c) => c.choices[0].token_ids as number[]);
    expect(first.at(-1)!.usage.prompt_tokens_details.cached_tokens).toBe(0);
    const cont = [...r1Prompt, ...generated.slice(0, -1), tok.id('Wait')];
    const second = chunksOf(await (await post('/v1/completions', streamBody({ prompt: cont }))).text());
    const cached = second.at(-1)!.usage.prompt_tokens_details.cached_tokens as number;
    // Every full 16-token block of prompt + generated ids was inserted after the first request.
    expect(cached).toBe(Math.floor((r1Prompt.length + generated.length - 1) / 16) * 16);
    expect(cached).toBeGreaterThan(cont.length - 17);
    // The model reacts to the Wait: exactly 10 more thinking tokens, then </think>.
    const ids = second.slice(0, -1).flatMap((c) => c.choices[0].token_ids as number[]);
    expect(ids.indexOf(THINK_END_ID)).toBe(10);
    const metrics = await (await fetch(`${sim.url}/metrics`)).text();
    expect(metrics).toContain(`sim_cached_prompt_tokens_total ${cached}`);
  });

  it('records request bodies and counts requests', async () => {
    await (await post('/tokenize', { model: 'sim-r1', prompt: 'x' })).json();
    await (await post('/v1/completions', streamBody({ max_tokens: 2 }))).text();
    const s = sim.stats();
    expect(s.lastRequests.map((r) => r.path)).toEqual(['/tokenize', '/v1/completions']);
    expect((s.lastRequests[1]!.body as Json).stop).toBeUndefined();
    expect((s.lastRequests[1]!.body as Json).return_token_ids).toBe(true);
    expect(s).toMatchObject({ total: 1, completed: 1, aborted: 0, running: 0 });
  });

  it('counts an abort when the client closes mid-stream, and stops generating', async () => {
    sim.setOptions({ tokenDelayMs: 20 });
    const ac = new AbortController();
    const res = await post('/v1/completions', streamBody(), {}, ac.signal);
    const r = await readUntil(res, (t) => events(t).length >= 2, 3000);
    expect(r.timedOut).toBe(false);
    expect(sim.stats().running).toBe(1);
    ac.abort();
    await until(() => sim.stats().aborted === 1);
    expect(sim.stats()).toMatchObject({ running: 0, completed: 0, aborted: 1 });
    const generated = sim.stats().generationTokens;
    expect(generated).toBeLessThan(10);
    const metrics = await (await fetch(`${sim.url}/metrics`)).text();
    expect(metrics).toContain('sim_requests_aborted_total 1');
  });
  it('respects backpressure: a client that stops reading stops the generation', async () => {
    sim.setOptions({ maxModelLen: 100_000 });
    const body = JSON.stringify({ ...streamBody({ max_tokens: 60_000, ignore_eos: true }), stream_options: null });
    const socket = connect(Number(new URL(sim.url).port), '127.0.0.1');
    try {
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.pause();
      socket.write(`POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      // Megabytes of SSE are pending; the generation waits for 'drain' instead of finishing.
      // That it does not finish has no event to wait for: a bounded look, which a slower
      // machine only makes longer (60k tokens without backpressure take ~0.5 s here).
      await new Promise((r) => setTimeout(r, 400));
      expect(sim.stats().running).toBe(1);
      expect(sim.stats().generationTokens).toBe(0);
      let received = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => (received = received.length > 64 ? received.slice(-64) + d : received + d));
      socket.resume();
      await until(() => received.includes('[DONE]'), 10_000);
      await until(() => sim.stats().generationTokens === 60_000);
    } finally {
      socket.destroy();
    }
  });
});

describe('sim server: fault modes', () => {
  it('http-500 and http-503 on completions; on /tokenize only when asked', async () => {
    for (const [mode, status] of [['http-500', 500], ['http-503', 503]] as const) {
      const res = await post('/v1/completions', streamBody(), { 'x-sim-fault': mode });
      expect(res.status).toBe(status);
      expect(((await res.json()) as Json).code).toBe(status);
      expect((await post('/tokenize', { prompt: 'x' }, { 'x-sim-fault': mode })).status).toBe(200);
      expect((await post('/tokenize', { prompt: 'x' }, { 'x-sim-fault': mode, 'x-sim-fault-tokenize': '1' })).status).toBe(status);
    }
    sim.setOptions({ fault: 'http-503' });
    expect((await post('/v1/completions', streamBody())).status).toBe(503);
    expect((await post('/v1/completions', streamBody(), { 'x-sim-fault': 'none' })).status).toBe(200);
    expect((await post('/v1/completions', streamBody(), { 'x-sim-fault': 'bogus' })).status).toBe(400);
  });

  it('stall-before-first-token sends headers, then nothing', async () => {
    const ac = new AbortController();
    const res = await post('/v1/completions', streamBody(), { 'x-sim-fault': 'stall-before-first-token' }, ac.signal);
    expect(res.status).toBe(200);
    const r = await readUntil(res, (t) => t.length > 0, 300);
    expect(r.timedOut).toBe(true);
    expect(r.text).toBe('');
    ac.abort();
    await until(() => sim.stats().running === 0);
  });

  it('stall-mid-stream stops after K tokens and keeps the socket open', async () => {
    const ac = new AbortController();
    const res = await post('/v1/completions', streamBody(), { 'x-sim-fault': 'stall-mid-stream', 'x-sim-fault-after': '3' }, ac.signal);
    const r = await readUntil(res, (t) => t.includes('[DONE]'), 300);
    expect(r.timedOut).toBe(true);
    expect(events(r.text)).toHaveLength(3);
    expect(sim.stats().openSockets).toBeGreaterThan(0);
    ac.abort();
    await until(() => sim.stats().aborted === 1);
  });

  it('close-mid-stream destroys the socket after K tokens without [DONE]', async () => {
    const res = await post('/v1/completions', streamBody(), { 'x-sim-fault': 'close-mid-stream', 'x-sim-fault-after': '4' });
    const r = await readUntil(res, () => false, 2000);
    expect(r.timedOut).toBe(false);
    expect(r.error).not.toBeNull();
    expect(events(r.text)).toHaveLength(4);
    expect(r.text).not.toContain('[DONE]');
    await until(() => sim.stats().running === 0);
    expect(sim.stats().aborted).toBe(0);
  });

  it('malformed-sse sends one line of invalid JSON after K tokens', async () => {
    const text = await (await post('/v1/completions', streamBody(), { 'x-sim-fault': 'malformed-sse', 'x-sim-fault-after': '2' })).text();
    const ev = events(text);
    expect(() => JSON.parse(ev[2]!)).toThrow();
    expect(ev.filter((e) => e !== '[DONE]' && !e.startsWith('{"id":"cmpl-garbage')).every((e) => JSON.parse(e))).toBe(true);
    expect(ev.at(-1)).toBe('[DONE]');
  });

  it('no-token-ids omits token_ids and prompt_token_ids', async () => {
    const chunks = chunksOf(await (await post('/v1/completions', streamBody(), { 'x-sim-fault': 'no-token-ids' })).text());
    expect(chunks.length).toBeGreaterThan(10);
    expect(chunks.every((c) => c.choices.every((ch: Json) => ch.token_ids === undefined && ch.prompt_token_ids === undefined))).toBe(true);
  });

  it('slow adds a delay per token', async () => {
    const t0 = Date.now();
    await (await post('/v1/completions', streamBody({ max_tokens: 6 }), { 'x-sim-fault': 'slow', 'x-sim-fault-delay-ms': '40' })).text();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
  });

  it('refuse destroys every connection', async () => {
    const refusing = await startSimulator({ fault: 'refuse' });
    try {
      await expect(fetch(`${refusing.url}/health`)).rejects.toThrow();
    } finally {
      await refusing.close();
    }
  });
});

describe('sim server: /v1/chat/completions', () => {
  it('splits reasoning_content from content, non-streamed and streamed', async () => {
    const body = { model: 'sim-r1', messages: [{ role: 'user', content: 'Hi' }] };
    const full = (await (await post('/v1/chat/completions', body)).json()) as Json;
    const msg = full.choices[0].message;
    expect(full.object).toBe('chat.completion');
    expect(msg.role).toBe('assistant');
    expect(msg.reasoning_content.startsWith('Let me consider')).toBe(true);
    expect(msg.reasoning_content).not.toContain('</think>');
    expect(msg.content).toBe('\n\nThe answer is 42. It follows from the steps above.');
    expect(full.choices[0].finish_reason).toBe('stop');
    expect(full.usage.completion_tokens).toBe(45);
    const ev = events(await (await post('/v1/chat/completions', { ...body, stream: true, stream_options: { include_usage: true } })).text());
    expect(ev.at(-1)).toBe('[DONE]');
    const chunks = ev.slice(0, -1).map((e) => JSON.parse(e) as Json);
    expect(chunks[0]!.choices[0].delta).toEqual({ role: 'assistant', content: '' });
    const deltas = chunks.slice(1, -1).map((c) => c.choices[0].delta);
    expect(deltas.map((d) => d.reasoning_content ?? '').join('')).toBe(msg.reasoning_content);
    expect(deltas.map((d) => d.content ?? '').join('')).toBe(msg.content);
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage.completion_tokens).toBe(45);
  });

  it('answers without reasoning when qwen3 thinking is disabled', async () => {
    const full = (await (
      await post('/v1/chat/completions', {
        model: 'sim-qwen3',
        messages: [{ role: 'user', content: 'Hi' }],
        chat_template_kwargs: { enable_thinking: false },
      })
    ).json()) as Json;
    expect(full.choices[0].message).toMatchObject({ content: 'The answer is 42. It follows from the steps above.', reasoning_content: null });
  });
});

describe('sim CLI arguments', () => {
  it('parses flags over environment variables', () => {
    expect(parseSimArgs(['--port', '8000', '--think=7', '--delay-ms', '3', '--models', 'a:s1,b:qwen3'], { SIM_THINK_TOKENS: '9', SIM_ANSWER_TOKENS: '4' })).toEqual({
      port: 8000,
      thinkTokens: 7,
      answerTokens: 4,
      tokenDelayMs: 3,
      models: [
        { id: 'a', template: 's1' },
        { id: 'b', template: 'qwen3' },
      ],
    });
    expect(() => parseSimArgs(['--think', '-1'])).toThrow(/non-negative/);
    expect(() => parseSimArgs(['--bogus'])).toThrow(/unknown argument/);
    expect(() => parseSimArgs(['--fault', 'nope'])).toThrow(/fault/);
  });

  it('takes --tokens-per-write (SIM_TOKENS_PER_WRITE), at least 1', () => {
    expect(parseSimArgs(['--tokens-per-write', '1'])).toEqual({ tokensPerWrite: 1 });
    expect(parseSimArgs([], { SIM_TOKENS_PER_WRITE: '8' })).toEqual({ tokensPerWrite: 8 });
    expect(() => parseSimArgs(['--tokens-per-write', '0'])).toThrow(/positive integer/);
  });
});
