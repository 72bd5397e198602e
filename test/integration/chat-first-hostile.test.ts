/**
 * A hostile upstream on the chat first segment (routing.first_segment: chat, the default; issue
 * 14 item 6, docs/upstream-protocol.md). The first segment comes from vLLM's
 * /v1/chat/completions, so what that endpoint sends is attacked here as hostile-upstream.test.ts
 * attacks /v1/completions: after the real prompt chunk (captured from the simulator), heartbeats,
 * endless lines, text without ids, bad JSON, ids that disagree with the server's own count.
 * Each ends in a clean error envelope or error event, never a 500, and the gateway's memory stays
 * bounded. Before the prompt ids, a refusal falls back to the /tokenize path (the answer comes
 * from there), while a timeout does not: waiting as long again on /tokenize would double it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ServerResponse } from 'node:http';
import { startStack, type Stack } from '../support/stack.js';
import { CHAT_REFUSAL_SKIPS } from '../../src/runs/chat-first-segment.js';
import { peakRssGrowth, repeatEvery, startHostileUpstream, writeRepeated, type HostileUpstream } from '../support/hostile-upstream.js';

const MiB = 1024 * 1024;
const TIMEOUTS = { connect_ms: 500, first_token_ms: 300, idle_ms: 300, request_ms: 3000 };
const LIMITS = { max_upstream_response_bytes: MiB, max_relay_response_bytes: 2 * MiB };
const RSS_BOUND = 96 * MiB;
const MESSAGES = [{ role: 'user', content: 'What is 6 x 7?' }];
const CHAT = 'POST /v1/chat/completions';

let hostile: HostileUpstream;
let stack: Stack;
/** The simulator's real first chat chunk for MESSAGES: the rendered prompt's ids. */
let promptChunk: string;
/** The id the simulator's tokenizer gives "a". */
let tokenA: number;

beforeAll(async () => {
  hostile = await startHostileUpstream();
  stack = await startStack({
    config: { upstreams: [{ url: hostile.url }], timeouts: TIMEOUTS, limits: LIMITS, routing: { retries: 0, first_segment: 'chat' } },
  });
  hostile.target = stack.sim.url;
  const res = await fetch(`${stack.sim.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'sim-r1', messages: MESSAGES, stream: true, return_token_ids: true, max_tokens: 1 }),
  });
  promptChunk = (await res.text()).split('\n\n')[0]!;
  expect(promptChunk).toMatch(/^data: \{.*"prompt_token_ids":\[/);
  const tok = await fetch(`${stack.sim.url}/tokenize`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'sim-r1', prompt: 'a', add_special_tokens: false }),
  });
  tokenA = ((await tok.json()) as { tokens: number[] }).tokens[0]!;
  // The first request of its kind takes the /tokenize path and learns that the template opens
  // thinking; the requests below go through the chat endpoint.
  expect((await chat(false)).status).toBe(200);
  expect(await upstreamPaths(() => chat(false))).toEqual(['/v1/chat/completions']);
});
afterEach(() => hostile.routes.clear());
afterAll(async () => {
  await stack?.close();
  await hostile?.close();
});

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Outcome {
  status: number;
  text: string;
}

async function chat(stream: boolean, extra: Json = {}): Promise<Outcome> {
  const res = await fetch(`${stack.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'sim-r1', messages: MESSAGES, stream, ...extra }),
    signal: AbortSignal.timeout(8000),
  });
  return { status: res.status, text: await res.text() };
}

/** The paths the simulator was asked while `fn` ran (what the hostile upstream relayed). */
async function upstreamPaths(fn: () => Promise<unknown>): Promise<string[]> {
  stack.sim.reset();
  await fn();
  return stack.sim.stats().lastRequests.map((r) => r.path);
}

/** thinkgate_chat_first_segments_total for `outcome` (the hostile upstream is the only replica). */
async function chatFirstCount(outcome: string): Promise<number> {
  const text = await (await fetch(`${stack.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('thinkgate_chat_first_segments_total{') && l.includes(`outcome="${outcome}"`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

function sseHead(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write(`${promptChunk}\n\n`);
}

function expectEnvelope(o: Outcome, status: number, code: string): void {
  expect(o.status, o.text.slice(0, 300)).toBe(status);
  const body = JSON.parse(o.text) as Json;
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(body.error.code).toBe(code);
}

/** A streamed answer that failed after its first byte: one error event, then nothing (no [DONE]). */
function expectErrorEvent(o: Outcome, code: string): void {
  expect(o.status).toBe(200);
  const events = o.text.split('\n\n').filter((e) => e.startsWith('data: '));
  const last = JSON.parse(events.at(-1)!.slice(6)) as Json;
  expect(last.error?.code, o.text.slice(-300)).toBe(code);
}

/**
 * A kind of request of its own (the template fields are the key the chat path is learned and
 * refused by), learned through /tokenize: a refusal then holds back only this kind.
 */
async function ownKind(name: string): Promise<Json> {
  const kind = { chat_template_kwargs: { hostile_case: name } };
  expect((await chat(false, kind)).status).toBe(200);
  return kind;
}

describe('before the prompt ids: a refusal falls back to /tokenize, a timeout does not', () => {
  it('a 500 with a traceback: the /tokenize path answers; the upstream text reaches no client; the next requests of that kind skip the chat call', async () => {
    const kind = await ownKind('http-500');
    let refusals = 0;
    hostile.routes.set(CHAT, async (_req, res) => {
      refusals++;
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('Traceback: secret-token-xyz in /srv/vllm');
    });
    let o: Outcome | undefined;
    const paths = await upstreamPaths(async () => (o = await chat(false, kind)));
    expect(o!.status).toBe(200);
    expect(o!.text).not.toContain('secret-token-xyz');
    expect(paths).toEqual(['/tokenize', '/v1/completions']);
    expect(refusals).toBe(1);
    const refused = await chatFirstCount('refused');
    expect(refused).toBeGreaterThanOrEqual(1);
    // A refused kind takes /tokenize for the next CHAT_REFUSAL_SKIPS requests, then tries again.
    for (let i = 0; i < CHAT_REFUSAL_SKIPS; i++) expect((await chat(false, kind)).status).toBe(200);
    expect(refusals).toBe(1);
    hostile.routes.clear();
    const used = await chatFirstCount('used');
    expect(await upstreamPaths(() => chat(false, kind))).toEqual(['/v1/chat/completions']);
    expect(await chatFirstCount('used')).toBe(used + 1);
    expect(await chatFirstCount('refused')).toBe(refused);
  });

  it("a prompt too long for the context is that request's own: the next request of its kind tries the chat call again", async () => {
    const kind = await ownKind('context-length');
    hostile.routes.set(CHAT, async (_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: "This model's maximum context length is 64 tokens. However, you requested 900 tokens.", type: 'BadRequestError', param: null, code: 400 } }));
    });
    // (The simulator's own context is larger, so the /tokenize path answers this one.)
    expect((await chat(false, kind)).status).toBe(200);
    hostile.routes.clear();
    expect(await upstreamPaths(() => chat(false, kind))).toEqual(['/v1/chat/completions']);
  });

  it('a server without return_token_ids (no prompt ids on the first chunk): the /tokenize path answers', async () => {
    const kind = await ownKind('no-prompt-ids');
    hostile.routes.set(CHAT, async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end('data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n');
    });
    const o = await chat(true, kind);
    expect(o.status).toBe(200);
    expect(o.text).toContain('data: [DONE]');
  });

  it('silence after the headers: 504 at first_token_ms, and no second wait on /tokenize', async () => {
    hostile.routes.set(CHAT, async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      await repeatEvery(res, ': ping\n\n', 50);
    });
    let o: Outcome | undefined;
    const paths = await upstreamPaths(async () => (o = await chat(false)));
    expectEnvelope(o!, 504, 'upstream_timeout');
    expect(paths).toEqual([]);
  });
});

describe('after the prompt ids: the chat stream is read as strictly as /v1/completions', () => {
  it('heartbeats without tokens: 504 at first_token_ms', async () => {
    hostile.routes.set(CHAT, async (_req, res) => {
      sseHead(res);
      await repeatEvery(res, 'data: {"choices":[]}\n\n', 50);
    });
    expectEnvelope(await chat(false), 504, 'upstream_timeout');
  });

  it('an endless line without a newline: 502, not a growing buffer', async () => {
    hostile.routes.set(CHAT, async (_req, res) => {
      sseHead(res);
      res.write('data: {"choices":[{"index":0,"delta":{"reasoning":"');
      await writeRepeated(res, Buffer.alloc(64 * 1024, 'a'), 200 * MiB, hostile);
    });
    for (const stream of [false, true]) {
      hostile.bytesSent = 0;
      const { value, growth } = await peakRssGrowth(() => chat(stream));
      expectEnvelope(value, 502, 'upstream_error');
      expect(growth).toBeLessThan(RSS_BOUND);
      expect(hostile.bytesSent).toBeLessThan(50 * MiB);
    }
  });

  it('text with empty token_ids: 502 (only ids are progress and only ids are counted)', async () => {
    hostile.routes.set(CHAT, async (_req, res) => {
      sseHead(res);
      const chunk = Buffer.from(`data: {"choices":[{"index":0,"delta":{"reasoning":"${'a'.repeat(1000)}"},"token_ids":[]}]}\n\n`);
      await writeRepeated(res, chunk, 50 * MiB, hostile);
    });
    const { value, growth } = await peakRssGrowth(() => chat(false));
    expectEnvelope(value, 502, 'upstream_error');
    expect(growth).toBeLessThan(RSS_BOUND);
  });

  it('a chunk that is not JSON after a real token: the stream ends with one error event', async () => {
    hostile.routes.set(CHAT, async (_req, res) => {
      sseHead(res);
      res.write(`data: {"choices":[{"index":0,"delta":{"reasoning":"a"},"token_ids":[${tokenA}]}]}\n\n`);
      res.end('data: {"choices":[{"index":0,\n\n');
    });
    expectErrorEvent(await chat(true), 'upstream_error');
    expectEnvelope(await chat(false), 502, 'upstream_error');
  });

  /** The prompt chunk, one token that ends the segment, then `usage` as the trailing usage chunk. */
  const oneTokenThenUsage = (usage: string) => async (_req: unknown, res: ServerResponse) => {
    sseHead(res);
    res.write(`data: {"choices":[{"index":0,"delta":{"reasoning":"a"},"token_ids":[${tokenA}],"finish_reason":"length"}]}\n\n`);
    res.write(`data: {"choices":[],"usage":${usage}}\n\n`);
    res.end('data: [DONE]\n\n');
  };

  it("ids that disagree with the server's own completion_tokens (an old vLLM lost some): 502", async () => {
    hostile.routes.set(CHAT, oneTokenThenUsage('{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}'));
    expectEnvelope(await chat(false), 502, 'upstream_error');
  });

  it('absurd usage numbers: 502, never a 500', async () => {
    hostile.routes.set(CHAT, oneTokenThenUsage('{"prompt_tokens":1e300,"completion_tokens":1,"total_tokens":1e300}'));
    expectEnvelope(await chat(false), 502, 'upstream_error');
  });
});
