/**
 * Issue 13, item 7: media parts reach the model (docs/multimodal.md). A chat request with an
 * image is rendered once by the simulator's /v1/chat/completions/render (vLLM's scale-out
 * endpoint), and every segment is a /inference/v1/generate call with the ids so far and the
 * rendered features. The simulator refuses image placeholders without their features, and its
 * answer names the image it saw, so a segment that lost the image fails or shows it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { buildApp } from '../../src/app.js';
import { loadConfigFromObject } from '../../src/config/index.js';
import { startSimulator, type Simulator, type SimOptions } from '../../src/sim/server.js';
import { until } from '../support/wait.js';

type App = Awaited<ReturnType<typeof buildApp>>;
interface Gateway {
  app: App;
  url: string;
}
let sim: Simulator;
let noScaleOut: Simulator;
let gw: Gateway;
let refusing: Gateway;
let small: Gateway;
let oldVllm: Gateway;
let slowSim: Simulator;
let slow: Gateway;

async function gateway(upstream: string, extra: Record<string, unknown> = {}): Promise<Gateway> {
  const config = loadConfigFromObject(
    {
      upstreams: [{ url: upstream }],
      server: { log_level: 'silent', sse_keepalive_ms: 0 },
      models: { 'sim-s1*': { profile: 's1' }, '*': { profile: 'think-tags' } },
      ...extra,
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
  noScaleOut = await startSimulator({ thinkTokens: 40, scaleOut: false } as Partial<SimOptions>);
  slowSim = await startSimulator({ thinkTokens: 400, tokenDelayMs: 20 });
  [gw, refusing, small, oldVllm] = await Promise.all([
    gateway(sim.url),
    gateway(sim.url, { routing: { media: 'refuse' } }),
    gateway(sim.url, { limits: { max_upstream_bytes_per_request: 4096 } }),
    gateway(noScaleOut.url),
  ]);
  slow = await gateway(slowSim.url);
});
afterAll(async () => {
  await Promise.all([gw, refusing, small, oldVllm, slow].map((g) => g?.app.close()));
  await slowSim?.close();
  await sim?.close();
  await noScaleOut?.close();
});

/** A tiny PNG as a data URL; `seed` makes a different image. */
function image(seed: number): string {
  return `data:image/png;base64,${Buffer.from(`iVBORw0KGgo-test-image-${seed}`).toString('base64')}`;
}

function withImage(seed = 1, text = 'What is 6 times 7? Look at the picture.'): unknown[] {
  return [
    {
      role: 'user',
      content: [
        { type: 'text', text },
        { type: 'image_url', image_url: { url: image(seed) } },
      ],
    },
  ];
}

interface ChatResult {
  status: number;
  body: Record<string, any>;
}

async function post(url: string, body: Record<string, unknown>, model = 'sim-r1'): Promise<ChatResult> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: withImage(), temperature: 0, ...body }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function paths(fn: () => Promise<unknown>): Promise<string[]> {
  sim.reset();
  await fn();
  await until(() => sim.stats().running === 0, 2000, 'the simulator to finish');
  return sim.stats().lastRequests.map((r) => r.path);
}

describe('chat with an image part', () => {
  it('renders once, then every segment is a generate call with the features; the answer saw the image', async () => {
    let r: ChatResult | undefined;
    const seen = await paths(async () => {
      r = await post(gw.url, { max_thinking_tokens: 24 });
    });
    expect(r!.status, JSON.stringify(r!.body)).toBe(200);
    const bf = r!.body.budget_forcing;
    expect(bf.thinking_tokens).toBe(24);
    expect(bf.truncated).toBe(true);
    expect(r!.body.choices[0].message.content).toMatch(/\[image [0-9a-f]{8}\]/);
    // One render of the chat; no /tokenize of the prompt and no /v1/completions segment.
    expect(seen.filter((p) => p === '/v1/chat/completions/render')).toHaveLength(1);
    expect(seen).not.toContain('/v1/completions');
    const generates = sim.stats().lastRequests.filter((q) => q.path === '/inference/v1/generate');
    // The thinking up to M, then the forced close's answer segment.
    expect(generates.length).toBeGreaterThanOrEqual(2);
    const first = generates[0]!.body as { token_ids: number[]; features: unknown };
    for (const g of generates) {
      const b = g.body as { token_ids: number[]; features: unknown; sampling_params: Record<string, unknown> };
      expect(b.features).toEqual(first.features);
      // Token-exact: every segment's prompt starts with the rendered prompt.
      expect(b.token_ids.slice(0, first.token_ids.length)).toEqual(first.token_ids);
      expect(b.sampling_params.skip_special_tokens).toBe(false);
    }
  });

  it('another image gives another answer; the same image the same one', async () => {
    const a = await post(gw.url, { max_thinking_tokens: 16, messages: withImage(1) });
    const b = await post(gw.url, { max_thinking_tokens: 16, messages: withImage(2) });
    const a2 = await post(gw.url, { max_thinking_tokens: 16, messages: withImage(1) });
    const marker = (r: ChatResult): string => /\[image ([0-9a-f]{8})\]/.exec(r.body.choices[0].message.content)?.[1] ?? '';
    expect(marker(a)).not.toBe('');
    expect(marker(a)).not.toBe(marker(b));
    expect(marker(a2)).toBe(marker(a));
  });

  it('a minimum extends thinking with more generate segments, each with the image', async () => {
    const r = await post(gw.url, { min_thinking_tokens: 60, max_thinking_tokens: 80 });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.budget_forcing.thinking_tokens).toBeGreaterThanOrEqual(60);
    expect(r.body.budget_forcing.extensions).toBeGreaterThanOrEqual(1);
    expect(r.body.choices[0].message.content).toMatch(/\[image [0-9a-f]{8}\]/);
  });

  it('streams through the openai SDK, with the same thinking and answer as the non-stream call', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'x' });
    const stream = await client.chat.completions.create({
      model: 'sim-r1',
      messages: withImage() as never,
      temperature: 0,
      stream: true,
      max_thinking_tokens: 24,
    } as never);
    let reasoning = '';
    let content = '';
    for await (const chunk of stream as unknown as AsyncIterable<{ choices: Array<{ delta: { content?: string; reasoning_content?: string } }> }>) {
      reasoning += chunk.choices[0]?.delta.reasoning_content ?? '';
      content += chunk.choices[0]?.delta.content ?? '';
    }
    const whole = await post(gw.url, { max_thinking_tokens: 24 });
    expect(content).toBe(whole.body.choices[0].message.content);
    expect(reasoning).toBe(whole.body.choices[0].message.reasoning_content);
  });

  it('n: 2 with a seed: two samples, one render, each choice its own seed (seed + i)', async () => {
    const seen = await paths(async () => {
      const r = await post(gw.url, { n: 2, seed: 7, temperature: 1, max_thinking_tokens: 16 });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.choices).toHaveLength(2);
    });
    expect(seen.filter((p) => p === '/v1/chat/completions/render')).toHaveLength(1);
    const seeds = new Set(
      sim
        .stats()
        .lastRequests.filter((q) => q.path === '/inference/v1/generate')
        .map((q) => (q.body as { sampling_params: { seed: number } }).sampling_params.seed),
    );
    expect([...seeds].sort()).toEqual([7, 8]);
  });

  it('response_format json_schema: thinking segments carry no grammar, the answer segment vLLM\'s structured_outputs; the answer parses', async () => {
    const schema = { type: 'object', properties: { city: { type: 'string' }, celsius: { type: 'number' } }, required: ['city', 'celsius'], additionalProperties: false };
    const seen = await paths(async () => {
      const r = await post(gw.url, { max_thinking_tokens: 16, response_format: { type: 'json_schema', json_schema: { name: 'w', schema } } });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      const parsed = JSON.parse(r.body.choices[0].message.content) as Record<string, unknown>;
      expect(Object.keys(parsed).sort()).toEqual(['celsius', 'city']);
    });
    expect(seen.filter((p) => p === '/v1/chat/completions/render')).toHaveLength(1);
    const generates = sim.stats().lastRequests.filter((q) => q.path === '/inference/v1/generate');
    const sp = (q: (typeof generates)[number]) => (q.body as { sampling_params: { structured_outputs?: unknown } }).sampling_params.structured_outputs ?? null;
    expect(generates.length).toBeGreaterThanOrEqual(2);
    for (const g of generates.slice(0, -1)) expect(sp(g)).toBeNull();
    expect(sp(generates.at(-1)!)).toEqual({ json: schema });
  });

  it('early-exit probes are generate calls with the image too', async () => {
    await paths(async () => {
      const r = await post(gw.url, { max_thinking_tokens: 40, thinking_early_exit: { probe_interval_tokens: 8, agreements: 16 } });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.budget_forcing.early_exit.probes).toBeGreaterThanOrEqual(1);
    });
    const generates = sim.stats().lastRequests.filter((q) => q.path === '/inference/v1/generate');
    expect(generates.length).toBeGreaterThanOrEqual(3);
    const features = (generates[0]!.body as { features: unknown }).features;
    for (const g of generates) expect((g.body as { features: unknown }).features).toEqual(features);
    expect(sim.stats().lastRequests.map((q) => q.path)).not.toContain('/v1/completions');
  });

  it('logprobs: read from generate\'s chat-shaped logprobs, one entry per kept id, the sampled token first among top_logprobs', async () => {
    const r = await post(gw.url, { max_thinking_tokens: 16, logprobs: true, top_logprobs: 2 });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const content = r.body.choices[0].logprobs.content as Array<{ token: string; logprob: number; top_logprobs: Array<{ token: string; logprob: number }> }>;
    expect(content.length).toBeGreaterThan(0);
    for (const e of content) {
      expect(e.logprob).toBeLessThanOrEqual(0);
      expect(e.top_logprobs.length).toBeLessThanOrEqual(2);
      expect(e.top_logprobs[0]).toMatchObject({ token: e.token, logprob: e.logprob });
    }
    // The generate calls asked vLLM for them (sampling_params from /v1/completions/render).
    const g = sim.stats().lastRequests.filter((q) => q.path === '/inference/v1/generate').at(-1)!;
    expect((g.body as { sampling_params: { logprobs: number } }).sampling_params.logprobs).toBe(2);
    // The early-exit confidence gate reads them too.
    const gated = await post(gw.url, { max_thinking_tokens: 32, thinking_early_exit: { probe_interval_tokens: 8, agreements: 2, min_confidence: -5 } });
    expect(gated.status, JSON.stringify(gated.body)).toBe(200);
  });

  it('text-only requests keep the /tokenize path', async () => {
    const seen = await paths(() => post(gw.url, { max_thinking_tokens: 16, messages: [{ role: 'user', content: 'What is 6 times 7?' }] }));
    expect(seen).toContain('/tokenize');
    expect(seen).toContain('/v1/completions');
    expect(seen).not.toContain('/inference/v1/generate');
  });
});

describe('cancellation', () => {
  it('a client that leaves during a generate segment: the upstream request is aborted', async () => {
    const ac = new AbortController();
    const res = await fetch(`${slow.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'sim-r1', messages: withImage(), stream: true, temperature: 0 }),
      signal: ac.signal,
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await reader.read(); // the stream is under way
    await until(() => slowSim.stats().running === 1, 2000, 'a generate segment to run');
    const before = slowSim.stats().aborted;
    ac.abort();
    await until(() => slowSim.stats().running === 0, 2000, 'the upstream segment to end');
    expect(slowSim.stats().aborted).toBe(before + 1);
    expect(slowSim.stats().lastRequests.at(-1)?.path).toBe('/inference/v1/generate');
  });
});

describe('refusals, naming the part or the field', () => {
  it('routing.media: refuse', async () => {
    const r = await post(refusing.url, {});
    expect(r.status).toBe(400);
    expect(r.body.error.param).toBe('messages[0].content[1]');
    expect(r.body.error.code).toBe('unsupported_content_part');
  });

  it('a vLLM without the render endpoint (no --enable-scale-out)', async () => {
    const r = await post(oldVllm.url, {});
    expect(r.status).toBe(400);
    expect(r.body.error.param).toBe('messages[0].content[1]');
    expect(r.body.error.message).toContain('--enable-scale-out');
  });

  it('a part that is neither text nor media', async () => {
    const r = await post(gw.url, { messages: [{ role: 'user', content: [{ type: 'file', file: { file_id: 'f' } }] }] });
    expect(r.status).toBe(400);
    expect(r.body.error.param).toBe('messages[0].content[0]');
  });

  it('the media resent with every segment counts toward limits.max_upstream_bytes_per_request', async () => {
    const big = `data:image/png;base64,${Buffer.alloc(3000, 7).toString('base64')}`;
    const r = await post(small.url, { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: big } }] }] });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('upstream_bytes_exceeded');
  });
});
