/**
 * The simulator's vLLM 0.32 scale-out routes over real sockets, for prompts with images:
 * - POST /v1/chat/completions/render and /v1/completions/render answer GenerateRequests
 *   (vllm/entrypoints/scale_out/render/serving.py; token_in_token_out/protocol.py);
 * - POST /inference/v1/generate runs one (token_in_token_out/serving.py), streamed or not,
 *   generating what /v1/completions does for the same ids and sampling;
 * - --enable-scale-out off (SimOptions.scaleOut false): vLLM 0.32's 403 (scale_out/factories.py).
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseSimArgs } from '../../src/sim/main.js';
import { DEFAULT_SIM_OPTIONS, startSimulator, type Simulator } from '../../src/sim/server.js';
import { IMAGE_PAD_ID, VISION_END_ID, VISION_START_ID } from '../../src/sim/tokenizer.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

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

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: Json; text: string }> {
  const res = await fetch(`${sim.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  let json: Json = {};
  try {
    json = JSON.parse(text) as Json;
  } catch {
    // an SSE body
  }
  return { status: res.status, json, text };
}

/** SSE body -> its JSON events, checking the `[DONE]` at the end. */
function sse(text: string): Json[] {
  const ev = text.split('\n\n').filter((e) => e.length > 0).map((e) => e.slice('data: '.length));
  expect(ev.at(-1)).toBe('[DONE]');
  return ev.slice(0, -1).map((e) => JSON.parse(e) as Json);
}

const CAT = 'https://img.test/cat.png';
const FISH = 'https://img.test/fish.png';
const sha = (url: string): string => createHash('sha256').update(url).digest('hex');
const pads = (url: string): number => 4 + (createHash('sha256').update(url).digest()[0]! % 5);
const image = (url: string) => ({ type: 'image_url', image_url: { url } });
const ask = (...urls: string[]) => [{ role: 'user', content: [{ type: 'text', text: 'What is in this picture?' }, ...urls.map(image)] }];

async function render(body: Json): Promise<Json> {
  const r = await post('/v1/chat/completions/render', { model: 'sim-r1', ...body });
  expect(r.status).toBe(200);
  return r.json;
}

describe('POST /v1/chat/completions/render', () => {
  it('renders one image as its placeholder run, with parallel features, as /tokenize does', async () => {
    const g = await render({ messages: ask(CAT), temperature: 0 });
    expect(g.request_id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
    const at = g.token_ids.indexOf(IMAGE_PAD_ID);
    const n = pads(CAT);
    expect(g.token_ids.slice(at - 1, at + n + 1)).toEqual([VISION_START_ID, ...Array<number>(n).fill(IMAGE_PAD_ID), VISION_END_ID]);
    expect(g.features).toEqual({
      mm_hashes: { image: [sha(CAT)] },
      mm_placeholders: { image: [{ offset: at, length: n }] },
      kwargs_data: { image: [Buffer.from(CAT).toString('base64')] },
      mm_metadata: null,
    });
    expect(g).toMatchObject({ model: 'sim-r1', stream: false, stream_options: null, cache_salt: null, priority: 0, output_mode: 'tokens' });
    expect(g.sampling_params).toMatchObject({ temperature: 0, max_tokens: 8192 - g.token_ids.length, n: 1, detokenize: true });
    const tokenized = await post('/tokenize', { model: 'sim-r1', messages: ask(CAT) });
    expect(tokenized.json.tokens).toEqual(g.token_ids);
  });

  it('renders two images at their own offsets, deterministically', async () => {
    const g = await render({ messages: ask(CAT, FISH) });
    const [a, b] = g.features.mm_placeholders.image as Array<{ offset: number; length: number }>;
    expect([a!.length, b!.length]).toEqual([pads(CAT), pads(FISH)]);
    expect(b!.offset).toBe(a!.offset + a!.length + 2); // <|vision_end|><|vision_start|> between
    for (const r of [a!, b!]) expect(g.token_ids.slice(r.offset, r.offset + r.length).every((id: number) => id === IMAGE_PAD_ID)).toBe(true);
    expect(g.token_ids.filter((id: number) => id === IMAGE_PAD_ID)).toHaveLength(a!.length + b!.length);
    expect(g.features.mm_hashes.image).toEqual([sha(CAT), sha(FISH)]);
    const again = await render({ messages: ask(CAT, FISH) });
    expect([again.token_ids, again.features]).toEqual([g.token_ids, g.features]);
  });

  it('answers features null for text, and maps the sampling fields', async () => {
    const g = await render({
      messages: [{ role: 'user', content: 'Hi' }],
      max_tokens: 20,
      stop: 'x',
      seed: 3,
      response_format: { type: 'json_object' },
      stream: true,
      stream_options: { include_usage: true },
      cache_salt: 'salt',
      logprobs: true,
      top_logprobs: 2,
      n: 2,
    });
    expect(g.features).toBeNull();
    expect(g.sampling_params).toMatchObject({ max_tokens: 20, stop: ['x'], seed: 3, structured_outputs: { json_object: true }, logprobs: 2, temperature: 1, n: 2 });
    expect(g).toMatchObject({ stream: true, stream_options: { include_usage: true }, cache_salt: 'salt' });
  });

  it("refuses other media, a bad body (vLLM's envelope) and an unknown model", async () => {
    const audio = await post('/v1/chat/completions/render', { messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AA', format: 'wav' } }] }] });
    expect(audio.status).toBe(400);
    expect(audio.json).toMatchObject({ object: 'error', type: 'BadRequestError', code: 400 });
    expect((await post('/v1/chat/completions/render', { messages: [] })).status).toBe(400);
    expect((await post('/v1/chat/completions/render', { model: 'nope', messages: ask(CAT) })).status).toBe(404);
  });
});

describe('POST /v1/completions/render', () => {
  it('answers one GenerateRequest per prompt, max_tokens 16 by default', async () => {
    const r = await post('/v1/completions/render', { model: 'sim-r1', prompt: ['Hello', [1, 2, 3]], response_format: { type: 'json_schema', json_schema: { name: 's', schema: { type: 'object' } } }, priority: 2 });
    expect(r.status).toBe(200);
    expect(r.json).toHaveLength(2);
    expect(r.json[1]).toMatchObject({ token_ids: [1, 2, 3], features: null, model: 'sim-r1', priority: 2, cache_salt: null });
    expect(r.json[0].request_id).toMatch(/^cmpl-/);
    expect(r.json[0].sampling_params).toMatchObject({ max_tokens: 16, structured_outputs: { json: { type: 'object' } } });
    expect((await post('/v1/completions/render', { model: 'sim-r1', prompt: [99999] })).status).toBe(400);
  });
});

describe('POST /inference/v1/generate', () => {
  const sampling = [{ temperature: 0 }, { temperature: 0.8, seed: 7 }];

  it.each(sampling)('generates the ids and text of /v1/completions for the same prompt (%o)', async (s) => {
    const prompt = (await render({ messages: [{ role: 'user', content: 'Hello' }] })).token_ids as number[];
    const ref = await post('/v1/completions', { model: 'sim-r1', prompt, max_tokens: 40, return_token_ids: true, ...s });
    const tokens = await post('/inference/v1/generate', { token_ids: prompt, sampling_params: { max_tokens: 40, ...s } });
    expect(tokens.status).toBe(200);
    const c = tokens.json.choices[0];
    expect(c.token_ids).toEqual(ref.json.choices[0].token_ids);
    expect(c).not.toHaveProperty('text');
    expect(c).toMatchObject({ index: 0, finish_reason: ref.json.choices[0].finish_reason, stop_reason: null, logprobs: null });
    expect(tokens.json.request_id).toMatch(/^generate-tokens-/);
    expect(tokens.json.usage).toMatchObject({ prompt_tokens: prompt.length, completion_tokens: 40, total_tokens: prompt.length + 40 });
    const text = await post('/inference/v1/generate', { token_ids: prompt, sampling_params: { max_tokens: 40, ...s }, output_mode: 'text' });
    expect(text.json.choices[0].text).toBe(ref.json.choices[0].text);
  });

  it('streams per token, text only in text mode, then usage with cached tokens and [DONE]', async () => {
    const g = await render({ messages: ask(CAT), temperature: 0 });
    const body = { token_ids: g.token_ids, features: g.features, sampling_params: { ...g.sampling_params, max_tokens: 12, stop: ['step by'] }, request_id: 'r1' };
    const whole = await post('/inference/v1/generate', { ...body, output_mode: 'text' });
    for (const mode of ['text', 'tokens']) {
      const r = await post('/inference/v1/generate', { ...body, output_mode: mode, stream: true, stream_options: { include_usage: true, continuous_usage_stats: true } });
      expect(r.status).toBe(200);
      const events = sse(r.text);
      const last = events.at(-1)!;
      const deltas = events.slice(0, -1);
      expect(deltas.every((e) => e.request_id === 'generate-tokens-r1' && e.choices.length === 1)).toBe(true);
      expect(deltas.flatMap((e) => e.choices[0].token_ids)).toEqual(whole.json.choices[0].token_ids);
      expect(deltas.at(-1)!.choices[0]).toMatchObject({ finish_reason: 'stop', stop_reason: 'step by' });
      expect(deltas.map((e) => e.usage.completion_tokens)).toEqual(deltas.map((_, i) => i + 1));
      if (mode === 'text') expect(deltas.map((e) => e.choices[0].text).join('')).toBe(whole.json.choices[0].text);
      else expect(deltas.some((e) => 'text' in e.choices[0])).toBe(false);
      expect(last).toEqual({ request_id: 'generate-tokens-r1', choices: [], usage: expect.objectContaining({ completion_tokens: deltas.length }) });
      expect(last.usage.prompt_tokens_details.cached_tokens).toBeGreaterThan(0); // the same prompt again
    }
  });

  it('continues from prompt + generated ids (prefix cache hit), and the answer shows the image', async () => {
    const g = await render({ messages: ask(CAT), temperature: 0 });
    const first = await post('/inference/v1/generate', { token_ids: g.token_ids, features: g.features, sampling_params: { temperature: 0, max_tokens: 20 } });
    const ids = [...g.token_ids, ...first.json.choices[0].token_ids];
    const rest = await post('/inference/v1/generate', { token_ids: ids, features: g.features, sampling_params: { temperature: 0 }, output_mode: 'text' });
    expect(rest.status).toBe(200);
    expect(rest.json.usage.prompt_tokens_details.cached_tokens).toBeGreaterThan(g.token_ids.length - 16);
    expect(rest.json.choices[0]).toMatchObject({ finish_reason: 'stop' });
    expect(rest.json.choices[0].text).toMatch(new RegExp(`The answer is 42\\..* \\[image ${sha(CAT).slice(0, 8)}\\]$`));
    // The same in one request, and in the chat endpoint's answer.
    const once = await post('/inference/v1/generate', { token_ids: g.token_ids, features: g.features, sampling_params: { temperature: 0 } });
    expect(once.json.choices[0].token_ids).toEqual([...first.json.choices[0].token_ids, ...rest.json.choices[0].token_ids]);
    const chat = await post('/v1/chat/completions', { model: 'sim-r1', messages: ask(CAT), temperature: 0 });
    expect(chat.json.choices[0].message.content).toContain(`[image ${sha(CAT).slice(0, 8)}]`);
  });

  it('writes no marker without features', async () => {
    const g = await render({ messages: [{ role: 'user', content: 'What is in this picture?' }] });
    expect(g.features).toBeNull();
    const r = await post('/inference/v1/generate', { token_ids: g.token_ids, sampling_params: { temperature: 0 }, output_mode: 'text' });
    expect(r.json.choices[0].text).toMatch(/The answer is 42\. It follows from the steps above\.$/);
    expect(r.json.choices[0].text).not.toContain('[image');
  });

  it('refuses placeholders without features, mismatched or out-of-range placeholders, bad bodies', async () => {
    const g = await render({ messages: ask(CAT, FISH) });
    const gen = (body: Json) => post('/inference/v1/generate', { token_ids: g.token_ids, features: g.features, sampling_params: {}, ...body });
    const [a, b] = g.features.mm_placeholders.image as Array<{ offset: number; length: number }>;
    const moved = (r: Json) => ({ ...g.features, mm_placeholders: { image: [r, b] } });
    const cases: Array<[Json, RegExp]> = [
      [{ features: null }, /placeholders in token_ids without matching features/],
      [{ features: moved({ ...a, offset: a!.offset - 1 }) }, /not image placeholders/],
      [{ features: moved({ ...a, length: a!.length - 1 }) }, /without matching features/],
      [{ token_ids: g.token_ids.slice(0, b!.offset + 1) }, /within the token_ids/],
      [{ token_ids: [] }, /token_ids/],
      [{ sampling_params: { top_p: 0 } }, /sampling_params/],
      [{ output_mode: 'text', sampling_params: { detokenize: false } }, /detokenize/],
      [{ sampling_params: { n: 2 } }, /n = 1/],
    ];
    for (const [body, message] of cases) {
      const r = await gen(body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json).toMatchObject({ object: 'error', type: 'BadRequestError', code: 400 });
      expect(r.json.message).toMatch(message);
    }
    expect((await gen({ model: 'nope' })).status).toBe(404);
  });

  it("plays the completions route's faults", async () => {
    const body = { token_ids: [1, 2, 3], sampling_params: { max_tokens: 10 }, stream: true };
    expect((await post('/inference/v1/generate', body, { 'x-sim-fault': 'http-503' })).status).toBe(503);
    const r = await post('/inference/v1/generate', body, { 'x-sim-fault': 'error-event', 'x-sim-fault-after': '2' });
    const events = sse(r.text);
    expect(events).toHaveLength(3);
    expect(events[2]).toMatchObject({ object: 'error', code: 500 });
  });
});

describe('scale-out off (vLLM without --enable-scale-out)', () => {
  it("answers vLLM 0.32's 403 on the three routes; the CLI takes --scale-out", async () => {
    sim.setOptions({ scaleOut: false });
    for (const path of ['/v1/chat/completions/render', '/v1/completions/render', '/inference/v1/generate']) {
      const r = await post(path, { model: 'sim-r1', messages: ask(CAT), prompt: 'x', token_ids: [1], sampling_params: {} });
      expect(r.status).toBe(403);
      expect((r.json as { error: { type: string; message: string } }).error).toMatchObject({ type: 'PermissionDeniedError' });
      expect((r.json as { error: { message: string } }).error.message).toContain('--enable-scale-out');
    }
    expect((await post('/v1/completions', { model: 'sim-r1', prompt: 'x', max_tokens: 1 })).status).toBe(200);
    expect(parseSimArgs(['--scale-out', 'false'])).toEqual({ scaleOut: false });
    expect(parseSimArgs([], { SIM_SCALE_OUT: 'true' })).toEqual({ scaleOut: true });
    expect(() => parseSimArgs(['--scale-out', 'maybe'])).toThrow(/true or false/);
  });
});
