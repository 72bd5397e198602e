/**
 * Issue 14, item 6: `routing.first_segment: chat` sends a chat request's first segment through
 * vLLM's /v1/chat/completions (the simulator's, with return_token_ids), skipping the /tokenize
 * round trip, where the template opens thinking. Two gateways in front of one simulator: one on
 * the /tokenize path (the reference), one on the chat path. The same requests must give the same
 * thinking, answer, usage and budget_forcing; what the simulator was asked shows which path ran.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfigFromObject } from '../../src/config/index.js';
import { startSimulator, type Simulator } from '../../src/sim/server.js';
import { until } from '../support/wait.js';

type App = Awaited<ReturnType<typeof buildApp>>;
let sim: Simulator;
let viaTokenize: { app: App; url: string };
let viaChat: { app: App; url: string };

async function gateway(firstSegment: 'tokenize' | 'chat'): Promise<{ app: App; url: string }> {
  const config = loadConfigFromObject(
    {
      upstreams: [{ url: sim.url }],
      server: { log_level: 'silent', sse_keepalive_ms: 0 },
      routing: { first_segment: firstSegment },
      models: { 'sim-s1*': { profile: 's1' }, '*': { profile: 'think-tags' } },
    },
    {},
  );
  const app = await buildApp(config);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return { app, url: `http://127.0.0.1:${addr.port}` };
}

beforeAll(async () => {
  sim = await startSimulator({ thinkTokens: 40 });
  [viaTokenize, viaChat] = await Promise.all([gateway('tokenize'), gateway('chat')]);
});
afterAll(async () => {
  await viaTokenize?.app.close();
  await viaChat?.app.close();
  await sim?.close();
});

interface Result {
  status: number;
  reasoning: string;
  content: string;
  usage: unknown;
  budgetForcing: unknown;
  finish: string | null;
}

async function chat(url: string, body: Record<string, unknown>, model = 'sim-r1'): Promise<Result> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'What is 6 times 7?' }], temperature: 0, ...body }),
  });
  const text = await res.text();
  if (res.status !== 200) return { status: res.status, reasoning: '', content: text, usage: null, budgetForcing: null, finish: null };
  if (body.stream !== true) {
    const j = JSON.parse(text) as { choices: Array<{ message: { reasoning_content?: string | null; content: string | null }; finish_reason: string }>; usage: unknown; budget_forcing: unknown };
    const c = j.choices[0]!;
    return { status: 200, reasoning: c.message.reasoning_content ?? '', content: c.message.content ?? '', usage: j.usage, budgetForcing: j.budget_forcing, finish: c.finish_reason };
  }
  const chunks = text
    .split('\n\n')
    .filter((e) => e.startsWith('data: {'))
    .map((e) => JSON.parse(e.slice(6)) as { choices: Array<{ delta: { reasoning_content?: string; content?: string }; finish_reason: string | null }>; usage?: unknown; budget_forcing?: unknown; error?: unknown });
  expect(chunks.some((c) => c.error !== undefined)).toBe(false);
  return {
    status: 200,
    reasoning: chunks.map((c) => c.choices[0]?.delta.reasoning_content ?? '').join(''),
    content: chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''),
    usage: chunks.at(-1)?.usage ?? null,
    budgetForcing: chunks.find((c) => c.budget_forcing !== undefined)?.budget_forcing ?? null,
    finish: chunks.map((c) => c.choices[0]?.finish_reason ?? null).filter((f) => f !== null).at(-1) ?? null,
  };
}

/** The simulator's calls for what runs `fn` (the last requests it recorded, by path). */
async function calls(fn: () => Promise<unknown>): Promise<string[]> {
  sim.reset();
  await fn();
  await until(() => sim.stats().running === 0, 2000, 'the simulator to finish');
  return sim.stats().lastRequests.map((r) => r.path);
}

describe('routing.first_segment: chat', () => {
  it('learns from a /tokenize request that the template opens thinking, then skips /tokenize: one chat call, then completions', async () => {
    const body = { max_thinking_tokens: 30 };
    // The first request of its kind takes the /tokenize path and learns the template.
    expect(await calls(() => chat(viaChat.url, body))).toContain('/tokenize');
    const paths = await calls(() => chat(viaChat.url, body));
    expect(paths.filter((p) => p === '/tokenize')).toEqual([]);
    expect(paths[0]).toBe('/v1/chat/completions');
    // The forced close at M is the second segment, on /v1/completions with ids.
    expect(paths.slice(1).every((p) => p === '/v1/completions')).toBe(true);
    const first = sim.stats().lastRequests[0]!.body as Record<string, unknown>;
    expect(first).toMatchObject({ return_token_ids: true, max_tokens: 30, stream: true, n: 1, skip_special_tokens: false });
    // The trailing usage only, on both endpoints: no running usage on every chunk (docs/upstream-protocol.md).
    for (const r of sim.stats().lastRequests) {
      if (r.path !== '/tokenize') expect((r.body as Record<string, unknown>).stream_options).toEqual({ include_usage: true });
    }
  });

  it.each([
    ['natural thinking', {}],
    ['M cuts thinking', { max_thinking_tokens: 25 }],
    ['m extends thinking', { min_thinking_tokens: 60, max_thinking_extensions: 2 }],
    ['m and M', { min_thinking_tokens: 50, max_thinking_tokens: 50 }],
    ['max_tokens ends the answer', { max_tokens: 45 }],
    ['a stop string', { stop: [' 42'] }],
  ])('%s: the same thinking, answer, usage and budget_forcing as the /tokenize path, streamed or not', async (_name, budget) => {
    for (const stream of [false, true]) {
      const body = { ...budget, stream, ...(stream ? { stream_options: { include_usage: true } } : {}) };
      await chat(viaChat.url, body); // learns the template if this is the first of its kind
      const [a, b] = [await chat(viaTokenize.url, body), await chat(viaChat.url, body)];
      expect(b.status).toBe(200);
      expect(b).toEqual(a);
    }
  });

  it('a template that does not open thinking keeps the /tokenize path (Qwen3: the model opens it)', async () => {
    await chat(viaChat.url, {}, 'sim-qwen3');
    const paths = await calls(() => chat(viaChat.url, {}, 'sim-qwen3'));
    expect(paths).toContain('/tokenize');
    expect(paths).not.toContain('/v1/chat/completions');
  });

  it('logprobs, n > 1 and prefills keep the /tokenize path', async () => {
    await chat(viaChat.url, {});
    for (const extra of [
      { logprobs: true },
      { n: 2 },
      {
        messages: [
          { role: 'user', content: 'What is 6 times 7?' },
          { role: 'assistant', content: '<think>\nSix sevens' },
        ],
        continue_final_message: true,
        add_generation_prompt: false,
      },
    ]) {
      const paths = await calls(() => chat(viaChat.url, extra));
      expect(paths, JSON.stringify(extra)).toContain('/tokenize');
      expect(paths, JSON.stringify(extra)).not.toContain('/v1/chat/completions');
    }
  });

  it('a chat call the server refuses falls back to the /tokenize path, with its error mapped as always', async () => {
    await chat(viaChat.url, {});
    // The simulator refuses max_tokens 0: so does the /tokenize path, as vLLM does.
    const [a, b] = [await chat(viaTokenize.url, { max_tokens: 0 }), await chat(viaChat.url, { max_tokens: 0 })];
    expect(b.status).toBe(a.status);
  });

  it('a vLLM older than 0.13 (its chat stream loses the ids of swallowed steps) keeps the /tokenize path', async () => {
    const old = await startSimulator({ thinkTokens: 40, vllmVersion: '0.12.0' });
    const saved = sim;
    sim = old;
    const gw = await gateway('chat');
    try {
      await chat(gw.url, {});
      const paths = await calls(() => chat(gw.url, {}));
      expect(paths).toContain('/tokenize');
      expect(paths).not.toContain('/v1/chat/completions');
      expect((await chat(gw.url, {})).status).toBe(200);
    } finally {
      await gw.app.close();
      await old.close();
      sim = saved;
    }
  });

  it('a client that leaves during the first segment closes the chat stream upstream', async () => {
    sim.setOptions({ thinkTokens: 5000, tokenDelayMs: 5 });
    try {
      await chat(viaChat.url, { max_tokens: 5 });
      const before = sim.stats().aborted;
      const ac = new AbortController();
      const res = await fetch(`${viaChat.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'sim-r1', messages: [{ role: 'user', content: 'What is 6 times 7?' }], stream: true }),
        signal: ac.signal,
      });
      const reader = res.body!.getReader();
      await reader.read();
      await until(() => sim.stats().running === 1, 2000, 'the chat segment to run');
      expect(sim.stats().lastRequests.at(-1)!.path).toBe('/v1/chat/completions');
      ac.abort();
      await until(() => sim.stats().running === 0 && sim.stats().aborted === before + 1, 2000, 'the upstream abort');
    } finally {
      sim.setOptions({ thinkTokens: 40, tokenDelayMs: 0 });
    }
  });
});
