/**
 * A hostile upstream (issue 11, items 3 and 9): an HTTP server on loopback that pretends to be
 * vLLM and answers with huge bodies, endless lines, heartbeats without tokens, text without
 * token ids, bad UTF-8, absurd usage numbers and error bodies full of secrets. For each, the
 * gateway answers a clean OpenAI error envelope (or a clean answer), never a 500 or a hang; its
 * memory stays bounded; /health stays live; the upstream socket is closed.
 *
 * Limits are small here (1 MiB buffered, 2 MiB relayed, 300 ms timeouts) so that each case
 * takes well under a second; the 200 MB body is streamed by the fake server, never allocated.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import type { ServerResponse } from 'node:http';
import { buildApp } from '../../src/app.js';
import { loadConfigFromObject } from '../../src/config/index.js';
import { startStack, type Stack } from '../support/stack.js';
import { LlamaCppBackend } from '../../src/backends/llamacpp/client.js';
import { UpstreamError, UpstreamTimeoutError } from '../../src/errors.js';
import { peakRssGrowth, repeatEvery, startHostileUpstream, writeRepeated, type HostileUpstream } from '../support/hostile-upstream.js';

const MiB = 1024 * 1024;
const TIMEOUTS = { connect_ms: 500, first_token_ms: 300, idle_ms: 300, request_ms: 3000 };
const LIMITS = { max_upstream_response_bytes: MiB, max_relay_response_bytes: 2 * MiB };
/** A generous bound on RSS growth while one hostile answer is handled (the attacks send 200 MB). */
const RSS_BOUND = 96 * MiB;
const CLIENT_DEADLINE_MS = 8000;

let hostile: HostileUpstream;
let stack: Stack;
/** Ids the simulator's tokenizer gives "a": real thinking tokens for the fake streams. */
let tokenA: number;

beforeAll(async () => {
  hostile = await startHostileUpstream();
  // The /tokenize path: these attacks are on /v1/completions and /tokenize (the chat endpoint's
  // first segment has its own: chat-first-hostile.test.ts).
  stack = await startStack({ config: { upstreams: [{ url: hostile.url }], timeouts: TIMEOUTS, limits: LIMITS, routing: { retries: 0, first_segment: 'tokenize' } } });
  hostile.target = stack.sim.url;
  const res = await fetch(`${stack.sim.url}/tokenize`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'sim-r1', prompt: 'a', add_special_tokens: false }),
  });
  tokenA = ((await res.json()) as { tokens: number[] }).tokens[0]!;
});
afterEach(() => hostile.routes.clear());
afterAll(async () => {
  await stack.close();
  await hostile.close();
});

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Outcome {
  status: number;
  contentType: string;
  text: string;
  ms: number;
}

async function chat(stream: boolean, extra: Json = {}): Promise<Outcome> {
  return send('/v1/chat/completions', { model: 'sim-r1', messages: [{ role: 'user', content: 'What is 6 x 7?' }], stream, ...extra });
}

async function send(path: string, body: unknown, method = 'POST', url = stack.url): Promise<Outcome> {
  const t0 = performance.now();
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(method === 'POST' ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(CLIENT_DEADLINE_MS),
  });
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', text, ms: performance.now() - t0 };
}

/** The OpenAI error envelope with exactly its four keys, and a stable message. */
function expectEnvelope(o: Outcome, status: number, code: string): Json {
  expect(o.status, o.text.slice(0, 300)).toBe(status);
  expect(o.contentType).toMatch(/^application\/json/);
  const body = JSON.parse(o.text) as Json;
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeLessThan(300);
  return body.error as Json;
}

/** A stream that opened: chunks, then exactly one error event with `code`, no [DONE]. */
function expectSseError(o: Outcome, code: string): void {
  expect(o.status).toBe(200);
  expect(o.contentType).toMatch(/^text\/event-stream/);
  const data = o.text
    .split('\n\n')
    .filter((b) => b.startsWith('data: '))
    .map((b) => b.slice(6));
  expect(data).not.toContain('[DONE]');
  const last = JSON.parse(data.at(-1)!) as Json;
  expect(last.error.code).toBe(code);
}

async function expectHealthy(): Promise<void> {
  const res = await fetch(`${stack.url}/health`, { signal: AbortSignal.timeout(1000) });
  expect(res.status).toBe(200);
}

/** Runs one hostile case: RSS bounded, /health live during and after it. */
async function attack<T>(fn: () => Promise<T>): Promise<T> {
  hostile.bytesSent = 0;
  const health = (async () => {
    // /health answers while the attack is under way (the event loop is not starved).
    await expectHealthy();
  })();
  const { value, growth } = await peakRssGrowth(fn);
  await health;
  expect(growth, `RSS grew by ${(growth / MiB).toFixed(1)} MiB`).toBeLessThan(RSS_BOUND);
  await expectHealthy();
  return value;
}

const sse = (obj: unknown): string => `data: ${JSON.stringify(obj)}\n\n`;
const delta = (text: string, ids: number[], finish: string | null = null, usage?: unknown): unknown => ({
  id: 'cmpl-h',
  object: 'text_completion',
  choices: [{ index: 0, text, token_ids: ids, finish_reason: finish }],
  ...(usage === undefined ? {} : { usage }),
});

function sseHead(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
}

/** 200 MB of `{"tokens":[1,1,1,...` streamed in 64 KiB writes, never held in memory. */
function hugeJson(prefix: string, declareLength = false): (req: unknown, res: ServerResponse) => Promise<void> {
  const total = 200 * 1000 * 1000;
  return async (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', ...(declareLength ? { 'content-length': String(total) } : {}) });
    res.write(prefix);
    await writeRepeated(res, Buffer.from('1,'.repeat(32 * 1024)), total, hostile);
  };
}

describe('huge bodies are cut at limits.max_upstream_response_bytes', () => {
  it('a 200 MB /tokenize answer: 502 upstream_response_too_large, the socket closed after ~1 MiB', async () => {
    hostile.routes.set('POST /tokenize', hugeJson('{"count":1,"tokens":['));
    const closed = hostile.closedEarly();
    const o = await attack(() => chat(false));
    expectEnvelope(o, 502, 'upstream_response_too_large');
    await closed;
    expect(hostile.bytesSent).toBeLessThan(50 * MiB); // not read to the end
  });

  it('a declared Content-Length over the limit fails before reading', async () => {
    hostile.routes.set('POST /tokenize', hugeJson('{"tokens":[', true));
    const closed = hostile.closedEarly();
    const o = await attack(() => chat(true));
    expectEnvelope(o, 502, 'upstream_response_too_large');
    await closed;
  });

  it('a 200 MB /v1/models answer', async () => {
    hostile.routes.set('GET /v1/models', hugeJson('{"object":"list","data":[{"id":"x","pad":['));
    const o = await attack(() => send('/v1/models', undefined, 'GET'));
    expectEnvelope(o, 502, 'upstream_response_too_large');
  });

  it('an endless SSE line without a newline: 502, not a growing buffer', async () => {
    hostile.routes.set('POST /v1/completions', async (_req, res) => {
      sseHead(res);
      res.write('data: {"choices":[{"index":0,"text":"');
      await writeRepeated(res, Buffer.alloc(64 * 1024, 'a'), 200 * 1000 * 1000, hostile);
    });
    for (const stream of [false, true]) {
      const o = await attack(() => chat(stream));
      expectEnvelope(o, 502, 'upstream_error');
      expect(hostile.bytesSent).toBeLessThan(50 * MiB);
    }
  });

  it('a relayed answer (POST /tokenize relay) is streamed and cut at limits.max_relay_response_bytes', async () => {
    hostile.routes.set('POST /tokenize', hugeJson('{"count":1,"tokens":['));
    const closed = hostile.closedEarly();
    const failure = await attack(() => send('/tokenize', { model: 'sim-r1', prompt: 'hi' }).then(() => null, (err: unknown) => err));
    // Headers had gone out: all a relay can do is end the response short (the client sees a broken body).
    expect(failure).toBeInstanceOf(Error);
    await closed;
    expect(hostile.bytesSent).toBeLessThan(50 * MiB);
    // Declared too large: refused before the first byte, as an envelope.
    hostile.routes.set('POST /tokenize', hugeJson('{"tokens":[', true));
    const o = await attack(() => send('/tokenize', { model: 'sim-r1', prompt: 'hi' }));
    expectEnvelope(o, 502, 'upstream_response_too_large');
  });
});

describe('only tokens are progress: heartbeats time out like silence', () => {
  const heartbeats: [string, () => string][] = [
    ['{"choices":[]}', () => sse({ choices: [] })],
    ['empty deltas', () => sse(delta('', []))],
    ['bare usage', () => sse({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 0 } })],
    [': comments', () => ': ping\n\n'],
  ];
  for (const [name, beat] of heartbeats) {
    it(`${name} every 50 ms from the start: 504 at first_token_ms`, async () => {
      hostile.routes.set('POST /v1/completions', async (_req, res) => {
        sseHead(res);
        await repeatEvery(res, beat(), 50);
      });
      const closed = hostile.closedEarly();
      for (const stream of [false, true]) {
        const o = await attack(() => chat(stream));
        expectEnvelope(o, 504, 'upstream_timeout');
        expect(o.ms).toBeLessThan(CLIENT_DEADLINE_MS / 2);
      }
      await closed;
    });
  }

  it('heartbeats after three tokens: the idle timeout ends the request (stream: an SSE error event)', async () => {
    const afterTokens = async (_req: unknown, res: ServerResponse): Promise<void> => {
      sseHead(res);
      for (let i = 0; i < 3; i++) res.write(sse(delta('a', [tokenA])));
      await repeatEvery(res, sse({ choices: [] }), 50);
    };
    hostile.routes.set('POST /v1/completions', afterTokens);
    expectEnvelope(await attack(() => chat(false)), 504, 'upstream_timeout');
    expectSseError(await attack(() => chat(true)), 'upstream_timeout');
  });
});

describe('what a request collects is bounded by token ids', () => {
  it('text with empty token_ids, as fast as the socket takes it: 502, RSS bounded', async () => {
    const textOnly = async (_req: unknown, res: ServerResponse): Promise<void> => {
      sseHead(res);
      await writeRepeated(res, Buffer.from(sse(delta('x'.repeat(4096), []))), 200 * 1000 * 1000, hostile);
    };
    hostile.routes.set('POST /v1/completions', textOnly);
    const o = await attack(() => chat(false));
    expectEnvelope(o, 502, 'upstream_error');
    expect(hostile.bytesSent).toBeLessThan(10 * MiB);
    // A stream opens with the first text (8 KiB of slack), then ends with the error event.
    expectSseError(await attack(() => chat(true)), 'upstream_error');
    expect(hostile.bytesSent).toBeLessThan(10 * MiB);
  });

  it('text with empty token_ids after real tokens: the stream ends with an error event', async () => {
    const later = async (_req: unknown, res: ServerResponse): Promise<void> => {
      sseHead(res);
      res.write(sse(delta('a', [tokenA])));
      await writeRepeated(res, Buffer.from(sse(delta('x'.repeat(4096), []))), 200 * 1000 * 1000, hostile);
    };
    hostile.routes.set('POST /v1/completions', later);
    const o = await attack(() => chat(true));
    expectSseError(o, 'upstream_error');
  });
});

describe('media requests: the render and generate routes are bounded too (docs/multimodal.md)', () => {
  const withImage = (stream: boolean): Promise<Outcome> =>
    chat(stream, {
      messages: [{ role: 'user', content: [{ type: 'text', text: 'What is 6 x 7?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] }],
    });

  it('a 200 MB render answer: 502 upstream_response_too_large, the socket closed early', async () => {
    hostile.routes.set('POST /v1/chat/completions/render', hugeJson('{"token_ids":[1],"features":{"mm_hashes":{"image":["'));
    const closed = hostile.closedEarly();
    expectEnvelope(await attack(() => withImage(false)), 502, 'upstream_response_too_large');
    await closed;
    expect(hostile.bytesSent).toBeLessThan(50 * MiB);
  });

  it('a render without the media features, or with ids that are not ids: 502, never a run without its image', async () => {
    const answer = (body: unknown) => async (_req: unknown, res: ServerResponse): Promise<void> => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    hostile.routes.set('POST /v1/chat/completions/render', answer({ token_ids: [1, 2, 3], features: null }));
    expectEnvelope(await withImage(false), 502, 'upstream_error');
    hostile.routes.set('POST /v1/chat/completions/render', answer({ token_ids: [1, -2], features: { mm_hashes: { image: ['h'] }, mm_placeholders: { image: [] } } }));
    expectEnvelope(await withImage(false), 502, 'upstream_error');
    hostile.routes.set('POST /v1/completions/render', answer({ sampling_params: {} }));
    hostile.routes.delete('POST /v1/chat/completions/render');
    expectEnvelope(await withImage(false), 502, 'upstream_error');
  });

  it('a generate stream of text without token ids: 502 / one error event, RSS bounded', async () => {
    const textOnly = async (_req: unknown, res: ServerResponse): Promise<void> => {
      sseHead(res);
      await writeRepeated(res, Buffer.from(sse({ request_id: 'g', choices: [{ index: 0, text: 'x'.repeat(4096), token_ids: [] }] })), 200 * 1000 * 1000, hostile);
    };
    hostile.routes.set('POST /inference/v1/generate', textOnly);
    expectEnvelope(await attack(() => withImage(false)), 502, 'upstream_error');
    expect(hostile.bytesSent).toBeLessThan(10 * MiB);
    expectSseError(await attack(() => withImage(true)), 'upstream_error');
  });
});

describe('hostile logprobs (chat logprobs: true)', () => {
  const withLp = (lp: unknown) => ({ id: 'cmpl-h', object: 'text_completion', choices: [{ index: 0, text: 'a', token_ids: [tokenA], finish_reason: null, logprobs: lp }] });
  const good = { tokens: ['a'], token_logprobs: [-0.5], top_logprobs: [{ a: -0.5 }], text_offset: [0] };
  const cases: [string, () => unknown][] = [
    ['more entries than ids', () => ({ ...good, tokens: ['a', 'b'], token_logprobs: [-0.5, -1] })],
    ['no logprobs at all', () => null],
    ['a positive logprob', () => ({ ...good, token_logprobs: [5] })],
    ['a 300 KB token string (the 10 MB one: test/unit/vllm-logprobs.test.ts)', () => ({ ...good, tokens: ['t'.repeat(300 * 1024)] })],
  ];
  for (const [name, lp] of cases) {
    it(`${name}: 502 before the first byte, an error event after it`, async () => {
      // First chunk fine, so the stream opens; the second is the hostile one.
      hostile.routes.set('POST /v1/completions', async (_req: unknown, res: ServerResponse) => {
        sseHead(res);
        res.write(sse(withLp(good)));
        res.write(sse(withLp(lp())));
        res.end();
      });
      const o = await attack(() => chat(false, { logprobs: true, top_logprobs: 1 }));
      expectEnvelope(o, 502, 'upstream_error');
      expectSseError(await attack(() => chat(true, { logprobs: true, top_logprobs: 1 })), 'upstream_error');
    });
  }
});

describe('an upstream that ends every segment early', () => {
  it('finish_reason "length" after one token, every time: the segment ceiling bounds the upstream requests', async () => {
    // The engine opens a new segment after each early "length" while room is left; without
    // limits.max_segments_per_choice this once made 3,511 upstream requests in 8 s.
    let requests = 0;
    hostile.routes.set('POST /v1/completions', async (_req, res) => {
      requests++;
      sseHead(res);
      res.write(sse(delta('a', [tokenA], 'length')));
      res.end('data: [DONE]\n\n');
    });
    const o = await attack(() => chat(false, { max_tokens: 100_000, min_thinking_tokens: 50_000, max_thinking_tokens: 60_000 }));
    expect([200, 400, 502]).toContain(o.status);
    expect(requests).toBeLessThanOrEqual(64);
  });
});

describe('bad bytes and absurd numbers', () => {
  it('invalid UTF-8 in the text: a clean answer with U+FFFD, valid JSON', async () => {
    // Two segments: thinking ends at "EOS" (finish stop: the last id is the stop token), the
    // gateway closes thinking, and the answer ends the same way.
    const badUtf8 = async (_req: unknown, res: ServerResponse): Promise<void> => {
      sseHead(res);
      const chunk = (text: Buffer, ids: number[], finish: string | null): Buffer => {
        const [head, tail] = JSON.stringify(delta('\u0000', ids, finish)).split('\\u0000');
        return Buffer.concat([Buffer.from(`data: ${head}`), text, Buffer.from(`${tail}\n\n`)]);
      };
      res.write(chunk(Buffer.from([0x61, 0xff, 0xfe, 0xc3]), [tokenA], null));
      res.write(chunk(Buffer.from([0x80, 0x80, 0xed, 0xa0, 0x80]), [tokenA], null));
      res.write(sse(delta('', [tokenA], 'stop')));
      res.write(sse({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 2 } }));
      res.end('data: [DONE]\n\n');
    };
    hostile.routes.set('POST /v1/completions', badUtf8);
    const o = await attack(() => chat(false));
    expect(o.status, o.text).toBe(200);
    const body = JSON.parse(o.text) as Json;
    expect(body.choices[0].message.reasoning_content).toContain('\uFFFD');
    expect(body.choices[0].message.content).toContain('\uFFFD');
    const s = await attack(() => chat(true));
    expect(s.status).toBe(200);
    expect(s.text).toContain('\uFFFD');
    expect(s.text.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });

  for (const [name, usage] of [
    ['1e300', { prompt_tokens: 1e300, completion_tokens: 1 }],
    ['negative', { prompt_tokens: -5, completion_tokens: 1 }],
    ['"NaN"', { prompt_tokens: 'NaN', completion_tokens: 'Infinity' }],
    ['over 2^53', { prompt_tokens: 2 ** 60, completion_tokens: 1 }],
  ] as const) {
    it(`absurd usage (${name}): 502, never a 500`, async () => {
      const absurd = async (_req: unknown, res: ServerResponse): Promise<void> => {
        sseHead(res);
        res.write(sse(delta('a', [tokenA], null, usage)));
        res.write(sse(delta('a', [tokenA], 'length', usage)));
        res.write(sse({ choices: [], usage }));
        res.end('data: [DONE]\n\n');
      };
      hostile.routes.set('POST /v1/completions', absurd);
      const o = await attack(() => chat(false));
      expectEnvelope(o, 502, 'upstream_error');
    });
  }
});

describe('llama-server: the same bounds in its client and reader', () => {
  const llama = (): LlamaCppBackend =>
    new LlamaCppBackend({
      baseUrl: hostile.url,
      timeouts: { connectMs: 500, firstTokenMs: 300, idleMs: 300, requestMs: 3000 },
      maxResponseBytes: MiB,
    });
  const complete = async (b: LlamaCppBackend): Promise<unknown> => {
    try {
      for await (const _ of b.streamCompletion({ model: 'm', promptIds: [1, 2], maxTokens: 100, sampling: {} }, new AbortController().signal)) {
        // drain
      }
      return null;
    } catch (err) {
      return err;
    } finally {
      await b.close();
    }
  };
  const ev = (content: string, tokens: number[]): string => sse({ content, tokens, stop: false });

  it('a 200 MB /tokenize answer', async () => {
    hostile.routes.set('POST /tokenize', hugeJson('{"tokens":['));
    const b = llama();
    const err = await attack(() => b.tokenize('m', 'hello').then(() => null, (e: unknown) => e));
    await b.close();
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err).toMatchObject({ code: 'upstream_response_too_large' });
  });

  it('heartbeat events without tokens time out; text without tokens and endless lines fail', async () => {
    hostile.routes.set('POST /completion', async (_req, res) => {
      sseHead(res);
      await repeatEvery(res, ev('', []), 50);
    });
    expect(await attack(() => complete(llama()))).toBeInstanceOf(UpstreamTimeoutError);
    hostile.routes.set('POST /completion', async (_req, res) => {
      sseHead(res);
      res.write(ev('a', [5]));
      await writeRepeated(res, Buffer.from(ev('x'.repeat(4096), [])), 200 * 1000 * 1000, hostile);
    });
    expect(await attack(() => complete(llama()))).toMatchObject({ code: 'upstream_error', message: expect.stringMatching(/text without the token ids/) });
    hostile.routes.set('POST /completion', async (_req, res) => {
      sseHead(res);
      res.write('data: {"content":"');
      await writeRepeated(res, Buffer.alloc(64 * 1024, 'a'), 200 * 1000 * 1000, hostile);
    });
    hostile.bytesSent = 0;
    expect(await attack(() => complete(llama()))).toMatchObject({ code: 'upstream_error', message: expect.stringMatching(/larger than the configured bound/) });
    expect(hostile.bytesSent).toBeLessThan(50 * MiB);
  });
});

describe('upstream error text never reaches the client or the error log', () => {
  const SECRET = 'sk-live-7f3a9c2b1d4e5f60';
  const traceback = `Traceback (most recent call last):\n  File "/app/vllm/entrypoints/openai/api_server.py", line 612\n    settings = {'api_key': '${SECRET}', 'hf_token': 'hf_abcdefghijklmnop'}\nRuntimeError: CUDA error, api_key=${SECRET} Authorization: Bearer ${SECRET}`;

  it('500 traceback, 400 message, mid-stream error event: stable messages; the debug log has the text, redacted; ?api_key= is not logged', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        cb();
      },
    });
    const config = loadConfigFromObject({
      upstreams: [{ url: hostile.url }],
      server: { log_level: 'debug', sse_keepalive_ms: 0 },
      timeouts: TIMEOUTS,
      routing: { retries: 0, first_segment: 'tokenize' },
    });
    const app = await buildApp(config, { logDestination: sink });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    const chatAt = (stream: boolean): Promise<Outcome> =>
      send('/v1/chat/completions', { model: 'sim-r1', messages: [{ role: 'user', content: 'hi' }], stream }, 'POST', url);
    try {
      hostile.routes.set('POST /v1/completions', async (_req, res) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(traceback);
      });
      const e500 = await chatAt(false);
      expect(expectEnvelope(e500, 502, 'upstream_error').message).toBe('vLLM failed (HTTP 500).');

      hostile.routes.set('POST /v1/completions', async (_req, res) => {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `bad request; ${traceback}`, type: 'BadRequestError', param: null, code: 400 } }));
      });
      expect(expectEnvelope(await chatAt(false), 400, 'upstream_rejected_request').message).toBe('The upstream rejected the request as invalid (HTTP 400).');

      hostile.routes.set('POST /v1/completions', async (_req, res) => {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `This model's maximum context length is 4096 tokens. However, you requested 9000 tokens. ${traceback}`, type: 'BadRequestError', param: null, code: 400 } }));
      });
      expect(expectEnvelope(await chatAt(false), 400, 'context_length_exceeded').message).toBe(
        "This model's maximum context length is 4096 tokens; the prompt plus max_tokens exceeds it.",
      );

      hostile.routes.set('POST /v1/completions', async (_req, res) => {
        sseHead(res);
        res.write(sse(delta('a', [tokenA])));
        res.write(sse({ error: { message: traceback, type: 'InternalServerError', param: null, code: 500 } }));
        res.end('data: [DONE]\n\n');
      });
      const mid = await chatAt(true);
      expectSseError(mid, 'upstream_error');

      // A malformed chunk that quotes "model output": not in the client message, not in the error log.
      hostile.routes.set('POST /v1/completions', async (_req, res) => {
        sseHead(res);
        res.end(`data: {"choices": [{"text": "PRIVATE-MODEL-OUTPUT ${SECRET}", \n\n`);
      });
      const bad = await chatAt(false);
      expect(bad.text).not.toContain('PRIVATE-MODEL-OUTPUT');

      await send(`/v1/models?api_key=${SECRET}`, undefined, 'GET', url);

      for (const o of [e500, mid, bad]) expect(o.text).not.toContain(SECRET);
      const all = lines.join('\n');
      expect(all, 'no secret anywhere in the logs, debug included').not.toContain(SECRET);
      expect(all).not.toContain('hf_abcdefghijklmnop');
      const atInfo = lines.filter((l) => (JSON.parse(l) as { level: number }).level >= 30).join('\n');
      expect(atInfo).not.toContain('Traceback');
      expect(atInfo).not.toContain('PRIVATE-MODEL-OUTPUT');
      // The upstream's words are in the debug log, redacted, for the operator.
      expect(all).toMatch(/"upstream":"Traceback.*api_key=\[REDACTED\]/);
      expect(all).toContain('/v1/models');
    } finally {
      hostile.routes.clear();
      await app.close();
    }
  });
});
