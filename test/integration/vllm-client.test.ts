/**
 * VllmBackend against a small ad-hoc node:http server that speaks vLLM's protocol
 * (vllm/entrypoints/openai/completion/serving.py, serving_tokenization.py, ModelList).
 * Real sockets on 127.0.0.1, port 0; every server, backend and socket is closed after each test.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, Pool } from 'undici';
import { VllmBackend, type VllmBackendOptions } from '../../src/backends/vllm/index.js';
import type { CompletionEvent, CompletionRequest } from '../../src/engine/backend.js';
import { deferred, settled, turnsUntil, until } from '../support/wait.js';
import {
  AbortedError,
  InvalidRequestError,
  NotFoundError,
  ServiceUnavailableError,
  UpstreamError,
  UpstreamTimeoutError,
  isAbortError,
} from '../../src/errors.js';

interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}
type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void | Promise<void>;

interface FakeVllm {
  url: string;
  requests: Recorded[];
  connections: () => number;
  /** Resolves when the response of the n-th request (0-based) is closed; the value says whether it finished. */
  responseClosed: (n: number) => Promise<{ finished: boolean }>;
  close: () => Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function startVllm(handler: Handler): Promise<FakeVllm> {
  const requests: Recorded[] = [];
  // One promise per response, made by whichever comes first: the request or a test asking.
  const closes: ReturnType<typeof deferred<{ finished: boolean }>>[] = [];
  const closeOf = (n: number) => {
    while (closes.length <= n) closes.push(deferred());
    return closes[n]!;
  };
  let responses = 0;
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer((req, res) => {
    const closed = closeOf(responses++);
    res.on('close', () => closed.resolve({ finished: res.writableFinished }));
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      void handler(req, res, body);
    });
  });
  server.on('connection', (s: Socket) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const fake: FakeVllm = {
    url: `http://127.0.0.1:${port}`,
    requests,
    connections: () => connections,
    responseClosed: (n) => closeOf(n).promise,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  cleanups.push(fake.close);
  return fake;
}

function backend(url: string, opts: Partial<VllmBackendOptions> = {}): VllmBackend {
  const b = new VllmBackend({
    baseUrl: url,
    timeouts: { connectMs: 1000, firstTokenMs: 2000, idleMs: 2000, requestMs: 2000 },
    ...opts,
  });
  cleanups.push(() => b.close());
  return b;
}

const sseHeaders = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' };

function delta(text: string, ids: number[], finish: string | null = null, stop: number | string | null = null, completionTokens?: number): object {
  const c: Record<string, unknown> = {
    id: 'cmpl-1',
    object: 'text_completion',
    created: 1,
    model: 'm',
    choices: [{ index: 0, text, logprobs: null, finish_reason: finish, stop_reason: stop, token_ids: ids }],
  };
  if (completionTokens !== undefined) c.usage = { prompt_tokens: 3, completion_tokens: completionTokens, total_tokens: 3 + completionTokens };
  return c;
}
const finalUsage = {
  id: 'cmpl-1',
  object: 'text_completion',
  created: 1,
  model: 'm',
  choices: [],
  usage: { prompt_tokens: 3, completion_tokens: 3, total_tokens: 6, prompt_tokens_details: { cached_tokens: 2 } },
};

function writeEvents(res: ServerResponse, payloads: (object | string)[]): void {
  for (const p of payloads) res.write(`data: ${typeof p === 'string' ? p : JSON.stringify(p)}\n\n`);
}

const request: CompletionRequest = { model: 'm', promptIds: [1, 2, 3], maxTokens: 16, sampling: {} };

async function collect(it: AsyncIterable<CompletionEvent>): Promise<CompletionEvent[]> {
  const out: CompletionEvent[] = [];
  for await (const ev of it) out.push(ev);
  return out;
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('VllmBackend.streamCompletion', () => {
  it('sends the protocol fields (sampling cannot override them) and yields deltas and the final usage', async () => {
    const vllm = await startVllm((_req, res) => {
      res.writeHead(200, sseHeaders);
      writeEvents(res, [
        delta('<think>', [151667], null, null, 1),
        delta('日本', [100], null, null, 2),
        delta('', [151668], 'stop', 151668, 3),
        finalUsage,
        '[DONE]',
      ]);
      res.end();
    });
    const b = backend(`${vllm.url}/prefix/`, { apiKey: 'sk-up', headers: { 'x-route': 'r1', authorization: 'Bearer wrong' } });
    const events = await collect(
      b.streamCompletion(
        {
          model: 'm',
          promptIds: [1, 2, 3],
          maxTokens: 16,
          stopTokenIds: [151668],
          sampling: {
            temperature: 0.6,
            top_k: 20,
            model: 'evil',
            prompt: 'evil',
            max_tokens: 99999,
            stream: false,
            stream_options: { include_usage: false },
            return_token_ids: false,
            skip_special_tokens: true,
            stop: ['evil'],
            stop_token_ids: [7],
            n: 4,
            echo: true,
          },
        },
        new AbortController().signal,
      ),
    );
    expect(events).toEqual([
      { kind: 'delta', text: '<think>', tokenIds: [151667], finishReason: null, stopReason: null },
      { kind: 'delta', text: '日本', tokenIds: [100], finishReason: null, stopReason: null },
      { kind: 'delta', text: '', tokenIds: [151668], finishReason: 'stop', stopReason: 151668 },
      { kind: 'usage', promptTokens: 3, completionTokens: 3, cachedTokens: 2 },
    ]);
    const sent = vllm.requests[0]!;
    expect(sent.method).toBe('POST');
    expect(sent.url).toBe('/prefix/v1/completions');
    expect(sent.headers.authorization).toBe('Bearer sk-up');
    expect(sent.headers['x-route']).toBe('r1');
    expect(sent.headers.accept).toBe('text/event-stream');
    expect(sent.headers['content-type']).toBe('application/json');
    expect(JSON.parse(sent.body)).toEqual({
      temperature: 0.6,
      top_k: 20,
      model: 'm',
      prompt: [1, 2, 3],
      max_tokens: 16,
      stream: true,
      stream_options: { include_usage: true },
      return_token_ids: true,
      skip_special_tokens: false,
      n: 1,
      echo: false,
      stop_token_ids: [151668],
      stop: [],
    });
  });

  it('decodes events written in arbitrary fragments (mid-JSON, mid-UTF-8) and reuses the connection', async () => {
    const payload = [delta('é🙂', [5, 6]), delta('x', [7], 'length'), finalUsage]
      .map((p) => `data: ${JSON.stringify(p)}\r\n\r\n`)
      .join('')
      .concat(': bye\r\n\r\ndata: [DONE]\r\n\r\n');
    const bytes = Buffer.from(payload, 'utf8');
    const vllm = await startVllm(async (_req, res) => {
      res.writeHead(200, sseHeaders);
      for (let i = 0; i < bytes.length; i += 7) {
        res.write(bytes.subarray(i, i + 7));
        if (i % 70 === 0) await sleep(1);
      }
      res.end();
    });
    // Our own pool, to see when undici has the socket back (it was a fixed 20 ms).
    const pool = new Pool(vllm.url);
    cleanups.push(() => pool.close());
    const b = backend(vllm.url, { dispatcher: pool });
    for (let round = 0; round < 2; round++) {
      const events = await collect(b.streamCompletion(request, new AbortController().signal));
      expect(events).toEqual([
        { kind: 'delta', text: 'é🙂', tokenIds: [5, 6], finishReason: null, stopReason: null },
        { kind: 'delta', text: 'x', tokenIds: [7], finishReason: 'length', stopReason: null },
        { kind: 'usage', promptTokens: 3, completionTokens: 3, cachedTokens: 2 },
      ]);
      await until(() => pool.stats.free === 1, 2000, 'undici to return the socket to its pool');
    }
    // Both streams were read to the end, so undici kept the socket alive for the second one.
    expect(vllm.connections()).toBe(1);
  });

  it('with coalesceTokens, merges the deltas of one socket read up to the cap, the stream\'s first token alone; without, a delta per event', async () => {
    // One write of one small buffer: one read on loopback.
    const events = [delta('a', [1]), delta('b', [2]), delta('c', [3]), delta('d', [4]), delta('e', [5]), delta('f', [6], 'length'), finalUsage];
    const vllm = await startVllm((_req, res) => {
      res.writeHead(200, sseHeaders);
      res.end(events.map((p) => `data: ${JSON.stringify(p)}\n\n`).join('') + 'data: [DONE]\n\n');
    });
    const b = backend(vllm.url);
    const merged = await collect(b.streamCompletion({ ...request, coalesceTokens: 4 }, new AbortController().signal));
    // The first token is yielded before the rest of its read is parsed (time to first token).
    expect(merged).toEqual([
      { kind: 'delta', text: 'a', tokenIds: [1], finishReason: null, stopReason: null },
      { kind: 'delta', text: 'bcde', tokenIds: [2, 3, 4, 5], finishReason: null, stopReason: null },
      { kind: 'delta', text: 'f', tokenIds: [6], finishReason: 'length', stopReason: null },
      { kind: 'usage', promptTokens: 3, completionTokens: 3, cachedTokens: 2 },
    ]);
    const plain = await collect(b.streamCompletion(request, new AbortController().signal));
    expect(plain.filter((e) => e.kind === 'delta')).toHaveLength(6);
    // coalesceTokens is the gateway's own: it never reaches vLLM.
    expect(JSON.parse(vllm.requests[0]!.body)).not.toHaveProperty('coalesceTokens');
  });

  it('with coalesceTokens, a bad event fails the stream only after the good ones read before it', async () => {
    const vllm = await startVllm((_req, res) => {
      res.writeHead(200, sseHeaders);
      res.end([delta('a', [1]), delta('b', [2]), delta('c', [3])].map((p) => `data: ${JSON.stringify(p)}\n\n`).join('') + 'data: {"choices": [\n\n');
    });
    const seen: CompletionEvent[] = [];
    const err = await failure(
      (async () => {
        for await (const ev of backend(vllm.url).streamCompletion({ ...request, coalesceTokens: 16 }, new AbortController().signal)) seen.push(ev);
      })(),
    );
    expect(seen).toEqual([
      { kind: 'delta', text: 'a', tokenIds: [1], finishReason: null, stopReason: null },
      { kind: 'delta', text: 'bc', tokenIds: [2, 3], finishReason: null, stopReason: null },
    ]);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as Error).message).toContain('malformed JSON');
  });

  it('with coalesceTokens, a bad event before the first token fails the stream with nothing yielded', async () => {
    const vllm = await startVllm((_req, res) => {
      res.writeHead(200, sseHeaders);
      res.end('data: {"choices": [\n\n' + [delta('a', [1]), delta('b', [2])].map((p) => `data: ${JSON.stringify(p)}\n\n`).join(''));
    });
    const seen: CompletionEvent[] = [];
    const err = await failure(
      (async () => {
        for await (const ev of backend(vllm.url).streamCompletion({ ...request, coalesceTokens: 16 }, new AbortController().signal)) seen.push(ev);
      })(),
    );
    expect(seen).toEqual([]);
    expect(err).toBeInstanceOf(UpstreamError);
  });

  it('uses the last running usage when vLLM sends no trailing usage chunk', async () => {
    const vllm = await startVllm((_req, res) => {
      res.writeHead(200, sseHeaders);
      writeEvents(res, [delta('a', [1], null, null, 1), delta('b', [2], 'stop', null, 2), '[DONE]']);
      res.end();
    });
    const events = await collect(backend(vllm.url).streamCompletion(request, new AbortController().signal));
    expect(events.at(-1)).toEqual({ kind: 'usage', promptTokens: 3, completionTokens: 2 });
    expect(events).toHaveLength(3);
  });

  it('accepts a stream that ends after a finish_reason without [DONE]', async () => {
    const vllm = await startVllm((_req, res) => {
      res.writeHead(200, sseHeaders);
      writeEvents(res, [delta('a', [1]), delta('b', [2], 'stop')]);
      res.end();
    });
    const events = await collect(backend(vllm.url).streamCompletion(request, new AbortController().signal));
    expect(events.map((e) => e.kind)).toEqual(['delta', 'delta']);
  });

  it('fails a chunk without token_ids: vLLM >= 0.10.2 is required', async () => {
    const vllm = await startVllm((_req, res) => {
      res.writeHead(200, sseHeaders);
      writeEvents(res, [{ choices: [{ index: 0, text: 'a', finish_reason: null, stop_reason: null }] }, '[DONE]']);
      res.end();
    });
    const err = await failure(collect(backend(vllm.url).streamCompletion(request, new AbortController().signal)));
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as Error).message).toContain('0.10.2');
  });

  it('fails malformed JSON with UpstreamError', async () => {
    const vllm = await startVllm((_req, res) => {
      res.writeHead(200, sseHeaders);
      writeEvents(res, ['{"choices": [', '[DONE]']);
      res.end();
    });
    const err = await failure(collect(backend(vllm.url).streamCompletion(request, new AbortController().signal)));
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as Error).message).toContain('malformed JSON');
  });

  it('turns a mid-stream error event into UpstreamError carrying vLLM\'s message', async () => {
    const vllm = await startVllm((_req, res) => {
      res.writeHead(200, sseHeaders);
      writeEvents(res, [delta('a', [1]), { error: { message: 'CUDA went away', type: 'InternalServerError', param: null, code: 500 } }, '[DONE]']);
      res.end();
    });
    const seen: CompletionEvent[] = [];
    const err = await failure(
      (async () => {
        for await (const ev of backend(vllm.url).streamCompletion(request, new AbortController().signal)) seen.push(ev);
      })(),
    );
    expect(seen).toHaveLength(1);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as Error).message).toBe('vLLM failed during generation.');
    expect((err as UpstreamError).upstreamDetail).toBe('CUDA went away');
  });

  it('maps HTTP errors before the stream', async () => {
    const ctx = "This model's maximum context length is 32 tokens. However, you requested 40 tokens.";
    const replies: [number, unknown][] = [
      [400, { error: { message: ctx, type: 'BadRequestError', param: null, code: 400 } }],
      [400, { object: 'error', message: 'top_k must be -1 or >= 1', type: 'BadRequestError', param: 'top_k', code: 400 }],
      [404, { error: { message: 'The model `x` does not exist.', type: 'NotFoundError', param: null, code: 404 } }],
      [429, { error: { message: 'busy', type: 'x', code: 429 } }],
      [503, 'Service Unavailable'],
      [500, { error: { message: 'kaboom', type: 'InternalServerError', code: 500 } }],
    ];
    let i = 0;
    const vllm = await startVllm((_req, res) => {
      const [status, body] = replies[i++]!;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    });
    const b = backend(vllm.url);
    const run = () => failure(collect(b.streamCompletion(request, new AbortController().signal)));

    const e400 = await run();
    expect(e400).toBeInstanceOf(InvalidRequestError);
    expect(e400).toMatchObject({ message: "This model's maximum context length is 32 tokens; the prompt plus max_tokens exceeds it.", code: 'context_length_exceeded', status: 400 });
    const e400b = await run();
    expect(e400b).toMatchObject({ message: 'The upstream rejected the request as invalid (HTTP 400).', param: 'top_k', code: 'upstream_rejected_request' });
    const e404 = await run();
    expect(e404).toBeInstanceOf(NotFoundError);
    expect(e404).toMatchObject({ code: 'model_not_found', status: 404 });
    expect(await run()).toBeInstanceOf(ServiceUnavailableError);
    const e503 = await run();
    expect(e503).toBeInstanceOf(ServiceUnavailableError);
    expect(e503).toMatchObject({ status: 503 });
    const e500 = await run();
    expect(e500).toBeInstanceOf(UpstreamError);
    expect(e500).toMatchObject({ status: 502, upstreamStatus: 500 });
    expect((e500 as Error).message).toBe('vLLM failed (HTTP 500).');
    expect((e500 as UpstreamError).upstreamDetail).toBe('kaboom');
  });

  it('reports a refused connection as upstream_unreachable', async () => {
    const gone = await startVllm(() => undefined);
    const url = gone.url;
    await gone.close();
    const err = await failure(collect(backend(url).streamCompletion(request, new AbortController().signal)));
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err).toMatchObject({ code: 'upstream_unreachable', status: 502 });
  });

  it('fails a stream that ends without finish_reason and [DONE], cleanly or by a reset', async () => {
    let n = 0;
    const vllm = await startVllm((_req, res) => {
      res.writeHead(200, sseHeaders);
      writeEvents(res, [delta('a', [1])]);
      if (n++ === 0) res.end();
      else setTimeout(() => res.socket?.destroy(), 20);
    });
    const b = backend(vllm.url);
    for (let round = 0; round < 2; round++) {
      const err = await failure(collect(b.streamCompletion(request, new AbortController().signal)));
      expect(err).toBeInstanceOf(UpstreamError);
      expect((err as Error).message).toContain('upstream closed the stream early');
    }
  });

  it('times out waiting for the first token, and closes the upstream socket', async () => {
    const vllm = await startVllm((_req, res) => {
      res.writeHead(200, sseHeaders);
      res.flushHeaders(); // headers, but no token: a long queue or prefill
    });
    const b = backend(vllm.url, { timeouts: { connectMs: 1000, firstTokenMs: 100, idleMs: 5000 } });
    const t0 = performance.now();
    const err = await failure(collect(b.streamCompletion(request, new AbortController().signal)));
    expect(err).toBeInstanceOf(UpstreamTimeoutError);
    expect(err).toMatchObject({ code: 'upstream_timeout', status: 504 });
    expect((err as Error).message).toContain('first token');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(95);
    expect((await vllm.responseClosed(0)).finished).toBe(false);
  });

  it('times out when no headers come either (first token)', async () => {
    const vllm = await startVllm(() => undefined);
    const b = backend(vllm.url, { timeouts: { connectMs: 1000, firstTokenMs: 100, idleMs: 5000 } });
    const err = await failure(collect(b.streamCompletion(request, new AbortController().signal)));
    expect(err).toBeInstanceOf(UpstreamTimeoutError);
    expect((err as Error).message).toContain('first token');
  });

  it('times out when vLLM stalls mid-stream (idle), and closes the upstream socket', async () => {
    const vllm = await startVllm((_req, res) => {
      res.writeHead(200, sseHeaders);
      writeEvents(res, [delta('a', [1])]);
    });
    const b = backend(vllm.url, { timeouts: { connectMs: 1000, firstTokenMs: 5000, idleMs: 100 } });
    const seen: CompletionEvent[] = [];
    const err = await failure(
      (async () => {
        for await (const ev of b.streamCompletion(request, new AbortController().signal)) seen.push(ev);
      })(),
    );
    expect(seen).toHaveLength(1);
    expect(err).toBeInstanceOf(UpstreamTimeoutError);
    expect((err as Error).message).toContain('idle');
    expect((await vllm.responseClosed(0)).finished).toBe(false);
  });

  it('does not count a slow consumer against the idle timeout', async () => {
    // The consumer holds each of the first 3 events for twice idleMs, while vLLM is still
    // streaming. vLLM is never the silent one: it writes each next event as soon as the consumer
    // has the previous one (paced by the consumer, not by its own 20 ms timers, which a loaded
    // machine once stretched past a 60 ms idle timeout), so that event is already waiting when
    // the consumer comes back. Only the consumer's holds are longer than idleMs.
    const IDLE_MS = 100;
    const payloads: object[] = [];
    for (let i = 0; i < 14; i++) payloads.push(delta(`t${i}`, [i]));
    payloads.push(delta('end', [99], 'stop'), finalUsage);
    const events: CompletionEvent[] = [];
    /** taken[i] resolves when the consumer has event i. */
    const taken = payloads.map(() => deferred());
    const vllm = await startVllm(async (_req, res) => {
      res.writeHead(200, sseHeaders);
      for (const [i, p] of payloads.entries()) {
        // Event i goes out once the consumer has event i - 1 (the usage event may come only at the end).
        if (i > 0 && i < payloads.length - 1) await taken[i - 1]!.promise;
        writeEvents(res, [p]);
      }
      writeEvents(res, ['[DONE]']);
      res.end();
    });
    const b = backend(vllm.url, { timeouts: { connectMs: 1000, firstTokenMs: 1000, idleMs: IDLE_MS } });
    for await (const ev of b.streamCompletion(request, new AbortController().signal)) {
      events.push(ev);
      taken[events.length - 1]?.resolve();
      if (events.length <= 3) await sleep(2 * IDLE_MS); // a lower bound: a longer hold proves as much
    }
    expect(events).toHaveLength(16);
    expect(events.at(-1)).toMatchObject({ kind: 'usage' });
  });

  async function endlessStream(): Promise<FakeVllm> {
    return startVllm((_req, res) => {
      res.writeHead(200, sseHeaders);
      let i = 0;
      const tick = setInterval(() => writeEvents(res, [delta(`t${i}`, [i++])]), 10);
      res.on('close', () => clearInterval(tick));
    });
  }

  /**
   * "Within 100 ms" (issue 4) means: the break or the abort itself closes the socket, by a chain
   * of events with no timer in it. Counted in event-loop turns, which a loaded machine does not
   * stretch (test/support/wait.ts; test/integration/disconnects.test.ts did the same): a few
   * here, while anything that waited on a timer would spin hundreds of turns per millisecond.
   */
  const CLOSE_WITHIN_TURNS = 20;

  it('closes the upstream socket within 100 ms when the consumer breaks early', async () => {
    const vllm = await endlessStream();
    const b = backend(vllm.url);
    let n = 0;
    for await (const ev of b.streamCompletion(request, new AbortController().signal)) {
      expect(ev.kind).toBe('delta');
      if (++n === 2) break;
    }
    const closed = vllm.responseClosed(0);
    const turns = await turnsUntil(settled(closed), 2000, 'the upstream response to close');
    console.log(`[vllm-client] closed ${turns} turns after the break`);
    expect((await closed).finished).toBe(false);
    expect(turns).toBeLessThanOrEqual(CLOSE_WITHIN_TURNS);
  });

  it('closes the upstream socket within 100 ms when the signal aborts, and throws AbortedError', async () => {
    const vllm = await endlessStream();
    const b = backend(vllm.url);
    const ac = new AbortController();
    const it = b.streamCompletion(request, ac.signal)[Symbol.asyncIterator]();
    expect((await it.next()).value).toMatchObject({ kind: 'delta' });
    ac.abort();
    const closed = vllm.responseClosed(0);
    const turns = await turnsUntil(settled(closed), 2000, 'the upstream response to close');
    console.log(`[vllm-client] closed ${turns} turns after the abort`);
    expect((await closed).finished).toBe(false);
    expect(turns).toBeLessThanOrEqual(CLOSE_WITHIN_TURNS);
    // The next pull reports the abort (buffered deltas may come first).
    let err: unknown;
    try {
      for (;;) if ((await it.next()).done === true) break;
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AbortedError);
    expect(isAbortError(err)).toBe(true);
  });

  it('aborts an in-flight request that has no response yet', async () => {
    const vllm = await startVllm(() => undefined); // never answers
    const b = backend(vllm.url);
    const ac = new AbortController();
    const p = failure(collect(b.streamCompletion(request, ac.signal)));
    await until(() => vllm.requests.length === 1, 2000, 'the request to arrive');
    ac.abort();
    const closed = vllm.responseClosed(0);
    const turns = await turnsUntil(settled(closed), 2000, 'the upstream response to close');
    console.log(`[vllm-client] closed ${turns} turns after the abort (no response yet)`);
    expect(await p).toBeInstanceOf(AbortedError);
    expect(turns).toBeLessThanOrEqual(CLOSE_WITHIN_TURNS);
  });

  it('does not send anything when the signal is already aborted', async () => {
    const vllm = await startVllm(() => undefined);
    const ac = new AbortController();
    ac.abort();
    expect(await failure(collect(backend(vllm.url).streamCompletion(request, ac.signal)))).toBeInstanceOf(AbortedError);
    // Something that does not happen has no event to wait for: give a request that was sent
    // anyway 20 ms (many turns) to arrive. A slower machine only waits longer, never fails.
    await sleep(20);
    expect(vllm.requests).toHaveLength(0);
  });
});

describe('VllmBackend non-streaming calls', () => {
  function tokenizer(): { vllm: Promise<FakeVllm>; calls: () => number } {
    let calls = 0;
    const vllm = startVllm((req, res, body) => {
      if (req.url === '/tokenize') {
        calls++;
        const b = JSON.parse(body) as { prompt?: string; messages?: unknown[] };
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'application/json' });
          const tokens = b.prompt !== undefined ? [...b.prompt].map((c) => c.codePointAt(0)!) : [1, 2, 3, 4];
          res.end(JSON.stringify({ count: tokens.length, max_model_len: 32768, tokens }));
        }, 10);
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"detail":"Not Found"}');
    });
    return { vllm, calls: () => calls };
  }

  it('tokenizeChat posts the chat form and returns ids and maxModelLen', async () => {
    const t = tokenizer();
    const vllm = await t.vllm;
    const b = backend(vllm.url, { apiKey: 'k' });
    const res = await b.tokenizeChat({
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
      chatTemplateKwargs: { enable_thinking: true },
      tools: [{ type: 'function', function: { name: 'f' } }],
    });
    expect(res).toEqual({ ids: [1, 2, 3, 4], maxModelLen: 32768 });
    expect(JSON.parse(vllm.requests[0]!.body)).toEqual({
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
      add_generation_prompt: true,
      chat_template_kwargs: { enable_thinking: true },
      tools: [{ type: 'function', function: { name: 'f' } }],
    });
    expect(vllm.requests[0]!.headers.authorization).toBe('Bearer k');
    await b.tokenizeChat({ model: 'm', messages: [] });
    expect(JSON.parse(vllm.requests[1]!.body)).toEqual({ model: 'm', messages: [], add_generation_prompt: true });
  });

  it('tokenize sends add_special_tokens: false and asks once per (model, text), also concurrently', async () => {
    const t = tokenizer();
    const vllm = await t.vllm;
    const b = backend(vllm.url);
    const [a1, a2] = await Promise.all([b.tokenize('m', '<think>'), b.tokenize('m', '<think>')]);
    expect(a1).toEqual([...'<think>'].map((c) => c.codePointAt(0)));
    expect(a2).toEqual(a1);
    a1.push(999); // callers get copies
    expect(await b.tokenize('m', '<think>')).toEqual(a2);
    expect(t.calls()).toBe(1);
    expect(JSON.parse(vllm.requests[0]!.body)).toEqual({ model: 'm', prompt: '<think>', add_special_tokens: false });
    await b.tokenize('other-model', '<think>');
    expect(t.calls()).toBe(2);
  });

  it('tokenize cache is bounded (LRU) and does not keep failures', async () => {
    let fail = true;
    let calls = 0;
    const vllm = await startVllm((_req, res, body) => {
      calls++;
      const { prompt } = JSON.parse(body) as { prompt: string };
      if (prompt === 'bad' && fail) {
        res.writeHead(500);
        res.end('nope');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ count: 1, max_model_len: 10, tokens: [prompt.length] }));
    });
    const b = backend(vllm.url, { tokenizeCacheSize: 2 });
    expect(await failure(b.tokenize('m', 'bad'))).toBeInstanceOf(UpstreamError);
    fail = false;
    expect(await b.tokenize('m', 'bad')).toEqual([3]);
    expect(calls).toBe(2);
    await b.tokenize('m', 'a');
    await b.tokenize('m', 'bad'); // touch: now 'a' is the oldest
    await b.tokenize('m', 'cc'); // evicts 'a'
    expect(calls).toBe(4);
    await b.tokenize('m', 'bad');
    await b.tokenize('m', 'cc');
    expect(calls).toBe(4);
    await b.tokenize('m', 'a');
    expect(calls).toBe(5);
  });

  it('tokenize honours the caller signal without cancelling the shared lookup', async () => {
    const t = tokenizer();
    const vllm = await t.vllm;
    const b = backend(vllm.url);
    const ac = new AbortController();
    const p = b.tokenize('m', 'x', ac.signal);
    ac.abort();
    expect(await failure(p)).toBeInstanceOf(AbortedError);
    expect(await b.tokenize('m', 'x')).toEqual([120]);
    expect(t.calls()).toBe(1);
  });

  it('maps an unknown route to UpstreamError naming it', async () => {
    const vllm = await startVllm((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"detail":"Not Found"}');
    });
    const err = await failure(backend(vllm.url).tokenize('m', 'x'));
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as Error).message).toContain('POST /tokenize');
  });

  it('applies requestMs to non-streaming calls', async () => {
    const vllm = await startVllm(() => undefined);
    const b = backend(vllm.url, { timeouts: { connectMs: 1000, firstTokenMs: 1000, idleMs: 1000, requestMs: 80 } });
    const err = await failure(b.tokenizeChat({ model: 'm', messages: [] }));
    expect(err).toBeInstanceOf(UpstreamTimeoutError);
    expect((err as Error).message).toContain('request timeout');
    expect(await failure(b.models())).toBeInstanceOf(UpstreamTimeoutError);
  });

  it('fails a body that is not JSON or not the right shape', async () => {
    let i = 0;
    const vllm = await startVllm((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(i++ === 0 ? '<html>' : '{"tokens": "nope"}');
    });
    const b = backend(vllm.url);
    expect((await failure(b.tokenizeChat({ model: 'm', messages: [] })) as Error).message).toContain('malformed JSON');
    expect((await failure(b.tokenizeChat({ model: 'm', messages: [] })) as Error).message).toContain('unexpected body');
  });

  it('models() maps vLLM model cards', async () => {
    const vllm = await startVllm((req, res) => {
      expect(req.url).toBe('/v1/models');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          object: 'list',
          data: [
            { id: 'Qwen/Qwen3-8B', object: 'model', created: 1700000000, owned_by: 'vllm', root: '/models/qwen3', parent: null, max_model_len: 40960, permission: [{}] },
            { id: 'lora-a', object: 'model', created: 1700000001, owned_by: 'vllm', root: 'Qwen/Qwen3-8B', parent: 'Qwen/Qwen3-8B', max_model_len: null },
          ],
        }),
      );
    });
    expect(await backend(vllm.url).models()).toEqual([
      { id: 'Qwen/Qwen3-8B', ownedBy: 'vllm', created: 1700000000, maxModelLen: 40960, root: '/models/qwen3' },
      { id: 'lora-a', ownedBy: 'vllm', created: 1700000001, root: 'Qwen/Qwen3-8B' },
    ]);
  });

  it('health() is true on 200 and false otherwise, never throwing', async () => {
    let mode: 'ok' | 'sick' | 'hang' = 'ok';
    const vllm = await startVllm((req, res) => {
      expect(req.url).toBe('/health');
      if (mode === 'hang') return;
      res.writeHead(mode === 'ok' ? 200 : 500);
      res.end();
    });
    const b = backend(vllm.url, { timeouts: { connectMs: 1000, firstTokenMs: 1000, idleMs: 1000, healthMs: 80 } });
    expect(await b.health()).toBe(true);
    mode = 'sick';
    expect(await b.health()).toBe(false);
    mode = 'hang';
    const t0 = performance.now();
    expect(await b.health()).toBe(false);
    expect(performance.now() - t0).toBeLessThan(1000);
    const url = vllm.url;
    await vllm.close();
    expect(await backend(url).health()).toBe(false);
  });

  it('close() closes its own pool but leaves a caller dispatcher open', async () => {
    const vllm = await startVllm((_req, res) => {
      res.writeHead(200);
      res.end();
    });
    const own = new VllmBackend({ baseUrl: vllm.url, timeouts: { connectMs: 1000, firstTokenMs: 1000, idleMs: 1000 } });
    expect(await own.health()).toBe(true);
    await own.close();
    await own.close(); // idempotent
    expect(await own.health()).toBe(false); // its pool is closed

    const agent = new Agent();
    cleanups.push(() => agent.close());
    const shared = new VllmBackend({ baseUrl: vllm.url, dispatcher: agent, timeouts: { connectMs: 1000, firstTokenMs: 1000, idleMs: 1000 } });
    expect(await shared.health()).toBe(true);
    await shared.close();
    expect(agent.closed).toBe(false);
    expect(shared.name).toBe(vllm.url);
  });
});
