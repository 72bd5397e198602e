/**
 * Issue 13, item 9: non-ASCII text on llama.cpp. llama-server streams a token that ends inside a
 * multi-byte character without its id; the backend recovers the ids through /tokenize
 * (src/backends/llamacpp/withheld-ids.ts) and asks for a few tokens past max_tokens so a
 * character open at the limit completes (completion-stream.ts). A scripted llama-server on
 * loopback (test/support/llama-stream.ts replays its withholding), driven through
 * LlamaCppBackend and through the whole gateway with a forced close inside an emoji.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { LlamaCppBackend } from '../../src/backends/llamacpp/client.js';
import { buildApp } from '../../src/app.js';
import { loadConfigFromObject } from '../../src/config/index.js';
import type { CompletionDelta, CompletionEvent } from '../../src/engine/backend.js';
import { UpstreamError } from '../../src/errors.js';
import { llamaStream, ToyVocab } from '../support/llama-stream.js';

const enc = new TextEncoder();
const vocab = new ToyVocab(['想', '好', '</think>', '<think>\n', 'Wait', '\n', '<|im_start|>', '<|im_end|>', 'user', 'assistant']);
const bytesOf = (s: string) => [...enc.encode(s)].map((b) => ToyVocab.BYTE_BASE + b);
const LLAMA = bytesOf('🦙'); // not in the vocabulary: its own split is byte tokens too
const THINKING = [vocab.add('想'), ...LLAMA, vocab.add('好'), ...LLAMA, ToyVocab.EOS];
const ANSWER = [...bytesOf('答'), vocab.add('好'), ToyVocab.EOS];

interface Seen {
  path: string;
  body: Record<string, unknown>;
}
const seen: Seen[] = [];
/** What /completion generates, one script per request in order (the last one repeats). */
let scripts: number[][] = [];
let completions = 0;
/** Route overrides for hostile cases. */
let tokenizeOverride: ((body: Record<string, unknown>, res: ServerResponse) => void) | null = null;
let byteByByte = false;

let server: Server;
let url = '';

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const path = req.url ?? '';
      const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      seen.push({ path, body });
      const json = (v: unknown) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(v));
      };
      if (path === '/health') return json({ status: 'ok' });
      if (path === '/v1/models') return json({ object: 'list', data: [{ id: 'toy', object: 'model' }] });
      if (path === '/props') return json({ default_generation_settings: { n_ctx: 4096 } });
      if (path === '/apply-template') {
        const msgs = body['messages'] as Array<{ role: string; content: string }>;
        return json({ prompt: msgs.map((m) => `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`).join('') + '<|im_start|>assistant\n' });
      }
      if (path === '/tokenize') {
        if (tokenizeOverride !== null && body['with_pieces'] === true) return tokenizeOverride(body, res);
        const content = body['content'] as string | number[];
        return json(body['with_pieces'] === true ? vocab.withPieces(content) : { tokens: vocab.tokenize(content as string) });
      }
      if (path === '/completion') {
        const ids = scripts[Math.min(completions++, scripts.length - 1)]!;
        const datas = llamaStream(vocab, { ids, nPredict: body['n_predict'] as number, eos: ToyVocab.EOS });
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const text = datas.map((d) => `data: ${d}\n\n`).join('');
        if (!byteByByte) return void res.end(text);
        // One byte per write: multi-byte characters cut across network chunks.
        const buf = Buffer.from(text);
        let i = 0;
        const step = (): void => {
          if (res.destroyed) return;
          if (i >= buf.length) return void res.end();
          res.write(buf.subarray(i, i + 1));
          i++;
          setImmediate(step);
        };
        return step();
      }
      res.statusCode = 404;
      res.end('{}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await once(server, 'close');
});
beforeEach(() => {
  seen.length = 0;
  scripts = [THINKING];
  completions = 0;
  tokenizeOverride = null;
  byteByByte = false;
});

const timeouts = { connectMs: 1000, firstTokenMs: 3000, idleMs: 3000, requestMs: 3000 };

async function complete(maxTokens: number, stopTokenIds: number[] = []): Promise<CompletionEvent[]> {
  const b = new LlamaCppBackend({ baseUrl: url, timeouts });
  try {
    const out: CompletionEvent[] = [];
    for await (const ev of b.streamCompletion({ model: 'toy', promptIds: [1, 2, 3], maxTokens, stopTokenIds, sampling: {} }, new AbortController().signal)) out.push(ev);
    return out;
  } finally {
    await b.close();
  }
}
const deltas = (evs: CompletionEvent[]) => evs.filter((e): e is CompletionDelta => e.kind === 'delta');

describe('LlamaCppBackend: ids withheld inside multi-byte characters', () => {
  it('recovers every id through /tokenize with_pieces and asks for 3 tokens past max_tokens', async () => {
    const evs = await complete(50);
    expect(deltas(evs).flatMap((d) => d.tokenIds)).toEqual(THINKING);
    expect(deltas(evs).map((d) => d.text).join('')).toBe('想🦙好🦙');
    expect(deltas(evs).at(-1)).toMatchObject({ finishReason: 'stop', tokenIds: [ToyVocab.EOS] });
    expect(evs.at(-1)).toEqual({ kind: 'usage', promptTokens: 10, completionTokens: THINKING.length, cachedTokens: 0 });
    expect(seen.find((s) => s.path === '/completion')!.body).toMatchObject({ n_predict: 53, return_tokens: true, stream: true });
    const asked = seen.filter((s) => s.path === '/tokenize');
    // One per emoji: its text, without special-token parsing.
    expect(asked.map((s) => s.body)).toEqual([
      { content: '🦙', add_special: false, parse_special: false, with_pieces: true },
      { content: '🦙', add_special: false, parse_special: false, with_pieces: true },
    ]);
  });

  it('the same, the stream cut into one-byte network chunks', async () => {
    byteByByte = true;
    const evs = await complete(50);
    expect(deltas(evs).flatMap((d) => d.tokenIds)).toEqual(THINKING);
    expect(deltas(evs).map((d) => d.text).join('')).toBe('想🦙好🦙');
  });

  it('max_tokens inside a character: exactly max_tokens ids, the open character left out of the text', async () => {
    for (let max = 1; max < THINKING.length; max++) {
      const evs = await complete(max);
      const ids = deltas(evs).flatMap((d) => d.tokenIds);
      expect(ids, `max ${max}`).toEqual(THINKING.slice(0, max));
      expect(deltas(evs).at(-1)!.finishReason, `max ${max}`).toBe('length');
      const whole = new TextDecoder().decode(Uint8Array.from(ids.flatMap((id) => [...vocab.piece(id)])));
      expect(deltas(evs).map((d) => d.text).join(''), `max ${max}`).toBe(whole.replace(/\ufffd+$/, ''));
    }
  });

  it('hostile: /tokenize failing or answering garbage is a clean UpstreamError', async () => {
    const cases: Array<(body: Record<string, unknown>, res: ServerResponse) => void> = [
      (_b, res) => {
        res.statusCode = 500;
        res.end('{"error":{"code":500,"message":"boom","type":"server_error"}}');
      },
      (_b, res) => res.end('not json'),
      (_b, res) => res.end(JSON.stringify({ tokens: [{ id: 'x', piece: 1 }] })),
      (_b, res) => res.end(JSON.stringify({ tokens: LLAMA.map((id) => ({ id, piece: [300] })) })),
      (_b, res) => res.end(JSON.stringify({ tokens: LLAMA.map((id) => ({ id, piece: 'zz' })) })),
    ];
    for (const c of cases) {
      tokenizeOverride = c;
      await expect(complete(50)).rejects.toBeInstanceOf(UpstreamError);
    }
  });

  it('hostile: ids that never come (the stream ends inside a character) is a clean UpstreamError', async () => {
    scripts = [[vocab.add('想'), LLAMA[0]!, LLAMA[1]!]];
    await expect(complete(50)).rejects.toThrow(/inside a multi-byte character/);
  });
});

describe('through the gateway: a forced close inside an emoji', () => {
  let app: FastifyInstance;
  let gw = '';
  beforeAll(async () => {
    app = await buildApp(
      loadConfigFromObject({
        upstreams: [{ url, kind: 'llamacpp' }],
        server: { log_level: 'silent', sse_keepalive_ms: 0 },
        models: { '*': { profile: 'think-tags' } },
      }),
    );
    await app.listen({ host: '127.0.0.1', port: 0 });
    gw = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => app.close());

  it('200, the thinking span is exactly M sampled ids, the continuation carries them, the answer is whole', async () => {
    scripts = [THINKING, ANSWER];
    const M = 3; // 想 and two bytes of 🦙: the limit falls inside the emoji
    const res = await fetch(`${gw}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'toy', messages: [{ role: 'user', content: '你好 🦙' }], max_thinking_tokens: M, max_completion_tokens: 40 }),
    });
    const body = (await res.json()) as Record<string, any>;
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body['budget_forcing']).toMatchObject({ thinking_tokens: M, truncated: true });
    expect(body['choices'][0].message.reasoning_content).toBe('想');
    expect(body['choices'][0].message.content).toBe('答好');
    const segs = seen.filter((s) => s.path === '/completion').map((s) => s.body as { prompt: number[]; n_predict: number });
    expect(segs).toHaveLength(2);
    expect(segs[0]!.n_predict).toBe(M + 3);
    // The next prompt continues with exactly the M ids llama-server sampled (two of them withheld), then the forced close.
    const forcedClose = vocab.tokenize('\n</think>\n\n');
    expect(segs[1]!.prompt).toEqual([...segs[0]!.prompt, ...THINKING.slice(0, M), ...forcedClose]);
    expect(body['usage'].completion_tokens_details.reasoning_tokens).toBe(M);
    // The thinking the gateway opened counts as completion, as the template did not write it.
    const open = vocab.tokenize('<think>\n');
    expect(segs[0]!.prompt.slice(-open.length)).toEqual(open);
    expect(body['usage'].completion_tokens).toBe(open.length + M + forcedClose.length + ANSWER.length);
  });
});
