/**
 * Issue 11 items 2, 4 and 7: what one request may cost the gateway and its upstream. Runs
 * (prompts x n) are capped and weigh in admission; the per-request part of the upstream payload
 * is bounded; client-requested extensions and segments have operator ceilings.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, until, type Stack } from '../support/stack.js';

const RAW = '<|im_start|>user\nWhat is 6 x 7?<|im_end|>\n<|im_start|>assistant\n';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ config: { limits: { per_key_max_concurrent: 4 } } });
});
afterAll(async () => stack.close());

async function post(path: string, body: unknown, headers: Record<string, string> = {}, base = stack.url) {
  const res = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as { error?: { param: string | null; code: string | null; message: string } } & Record<string, unknown> };
}

describe('runs per request (item 2)', () => {
  it('20,000 one-token prompts get a 400 naming `prompt`, before any upstream call', async () => {
    stack.sim.reset();
    const prompts = Array.from({ length: 20_000 }, () => [1]);
    const res = await post('/v1/completions', { model: 'sim-r1', prompt: prompts, max_tokens: 1 });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ param: 'prompt', code: 'too_many_choices' });
    expect(stack.sim.stats().total).toBe(0);
  });

  it('10 prompts x n = 128 get a 400 naming `n`; 1 x 128 is within the default cap', async () => {
    const res = await post('/v1/completions', { model: 'sim-r1', prompt: Array(10).fill(RAW), n: 128, max_tokens: 1 });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ param: 'n', code: 'too_many_choices' });
    expect(res.json.error!.message).toContain('1280');
  });

  it('a chat request past a lower configured cap gets a 400 naming `n`', async () => {
    const small = await startStack({ config: { limits: { max_choices_per_request: 4 } } });
    try {
      const res = await post('/v1/chat/completions', { model: 'sim-r1', messages: [{ role: 'user', content: 'hi' }], n: 5 }, {}, small.url);
      expect(res.status).toBe(400);
      expect(res.json.error).toMatchObject({ param: 'n', code: 'too_many_choices' });
      const ok = await post('/v1/chat/completions', { model: 'sim-r1', messages: [{ role: 'user', content: 'hi' }], n: 4, max_tokens: 60 }, {}, small.url);
      expect(ok.status).toBe(200);
    } finally {
      await small.close();
    }
  });

  it('a request of n runs counts n against its key: n = 3 running leaves room for 1, not 2', async () => {
    stack.sim.setOptions({ tokenDelayMs: 20 });
    try {
      const key = { authorization: 'Bearer weight-test' };
      const slow = post('/v1/completions', { model: 'sim-r1', prompt: RAW, n: 3, max_tokens: 200 }, key);
      await until(() => stack.sim.stats().running === 3, 5000, 'three runs upstream');
      const two = await post('/v1/completions', { model: 'sim-r1', prompt: RAW, n: 2, max_tokens: 5 }, key);
      expect(two.status).toBe(429);
      const one = await post('/v1/completions', { model: 'sim-r1', prompt: RAW, n: 1, max_tokens: 5 }, key);
      expect(one.status).toBe(200);
      expect((await slow).status).toBe(200);
    } finally {
      stack.sim.setOptions({ tokenDelayMs: 0 });
    }
  });
});

describe('client-requested extensions (item 7)', () => {
  it('min_thinking_tokens 1e6 with E = 1e9: E is clamped to 32 and said so, segments stay bounded', async () => {
    stack.sim.reset();
    const res = await post('/v1/completions', {
      model: 'sim-r1', prompt: RAW, n: 2, max_tokens: 100_000, min_thinking_tokens: 1_000_000, max_thinking_extensions: 1_000_000_000,
    });
    expect(res.status).toBe(200);
    const choices = res.json.choices as Array<{ budget_forcing: { extensions: number; segments: number; extensions_clamped_to?: number } }>;
    for (const c of choices) {
      expect(c.budget_forcing.extensions_clamped_to).toBe(32);
      expect(c.budget_forcing.extensions).toBe(32);
      expect(c.budget_forcing.segments).toBeLessThanOrEqual(34);
    }
    expect(res.json.budget_forcing).toMatchObject({ extensions_clamped_to: 32 });
    expect(stack.sim.stats().total).toBeLessThanOrEqual(2 * 34);
  });

  it('a lower segment ceiling ends extending early and is reported', async () => {
    const small = await startStack({ config: { limits: { max_segments_per_choice: 4 } } });
    try {
      const res = await post('/v1/chat/completions', {
        model: 'sim-r1', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2000, min_thinking_tokens: 1000,
      }, {}, small.url);
      expect(res.status).toBe(200);
      expect(res.json.budget_forcing).toMatchObject({ extensions: 2, segments: 4, segment_limit_reached: true });
      expect(small.sim.stats().total).toBe(4);
    } finally {
      await small.close();
    }
  });
});

describe('upstream bytes of one request (item 4)', () => {
  const blob = 'x'.repeat(1_000_000);

  it('an unknown 1 MB field still reaches vLLM, serialized into each segment once, and counted', async () => {
    const small = await startStack({ config: { limits: { max_upstream_bytes_per_request: 20_000_000 } } });
    try {
      const res = await post('/v1/chat/completions', {
        model: 'sim-r1', messages: [{ role: 'user', content: 'hi' }], n: 2, max_tokens: 200, min_thinking_tokens: 45, vllm_extra_blob: blob,
      }, {}, small.url);
      expect(res.status).toBe(200);
      const sent = small.sim.stats().lastRequests.filter((r) => r.path === '/v1/completions');
      expect(sent.length).toBeGreaterThan(2);
      for (const r of sent) expect((r.body as Record<string, unknown>).vllm_extra_blob).toBe(blob);
    } finally {
      await small.close();
    }
  });

  it('n x the field above the limit is a 400 naming the field, before any upstream call', async () => {
    const small = await startStack({ config: { limits: { max_upstream_bytes_per_request: 20_000_000 } } });
    try {
      const res = await post('/v1/chat/completions', { model: 'sim-r1', messages: [{ role: 'user', content: 'hi' }], n: 21, vllm_extra_blob: blob }, {}, small.url);
      expect(res.status).toBe(400);
      expect(res.json.error).toMatchObject({ param: 'vllm_extra_blob', code: 'upstream_bytes_exceeded' });
      expect(small.sim.stats().total).toBe(0);
      expect(small.sim.stats().lastRequests).toEqual([]);
    } finally {
      await small.close();
    }
  });

  it('segments that add up past the limit end the request with the same stable error', async () => {
    // 3 MB: the first segments of 2 choices fit (2 x 1 MB), their extensions do not.
    const small = await startStack({ config: { limits: { max_upstream_bytes_per_request: 3_000_000 } } });
    try {
      const res = await post('/v1/chat/completions', {
        model: 'sim-r1', messages: [{ role: 'user', content: 'hi' }], n: 2, max_tokens: 200, min_thinking_tokens: 60, vllm_extra_blob: blob,
      }, {}, small.url);
      expect(res.status).toBe(400);
      expect(res.json.error).toMatchObject({ code: 'upstream_bytes_exceeded' });
      expect(small.sim.stats().total).toBeLessThanOrEqual(3);
    } finally {
      await small.close();
    }
  });
});
