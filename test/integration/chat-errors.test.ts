/** Errors in the OpenAI envelope, before and after the first byte; cancellation to the upstream. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { startStack, until, type Stack } from '../support/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterEach(() => stack.sim.setOptions({ fault: 'none', tokenDelayMs: 0 }));
afterAll(async () => stack.close());

const body = (extra: Record<string, unknown> = {}) => ({ model: 'sim-r1', messages: [{ role: 'user', content: 'hi' }], ...extra });

async function post(payload: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${stack.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as { error: Record<string, unknown> } };
}

describe('errors before the first byte', () => {
  it('unknown model: 404 model_not_found through the SDK', async () => {
    const err = await stack.client.chat.completions.create(body({ model: 'nope' }) as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
  });

  it('bad JSON: 400 invalid_request_error', async () => {
    const r = await post('{"model": ');
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_json' });
  });

  it('bad fields: 400 with the param', async () => {
    for (const [extra, param] of [
      [{ max_thinking_tokens: -1 }, 'max_thinking_tokens'],
      [{ temperature: 'hot' }, 'temperature'],
      [{ messages: [] }, 'messages'],
      [{ messages: [{ role: 'wizard', content: 'x' }] }, 'messages[0].role'],
      [{ min_thinking_tokens: 20, max_thinking_tokens: 10 }, 'min_thinking_tokens'],
    ] as const) {
      const r = await post(body(extra));
      expect([r.status, r.json.error.param, r.json.error.type]).toEqual([400, param, 'invalid_request_error']);
    }
    const r = await post({ messages: [{ role: 'user', content: 'x' }] });
    expect([r.status, r.json.error.param]).toEqual([400, 'model']);
  });

  it('upstream 500 before any token: 502 upstream_error', async () => {
    stack.sim.setOptions({ fault: 'http-500' });
    const r = await post(body());
    expect(r.status).toBe(502);
    expect(r.json.error).toMatchObject({ type: 'upstream_error' });
  });

  it('a prompt that fills the context: 400 context_length_exceeded, nothing generated', async () => {
    stack.sim.setOptions({ maxModelLen: 64 });
    try {
      stack.sim.reset();
      const r = await post(body({ messages: [{ role: 'user', content: 'word '.repeat(200) }] }));
      expect([r.status, r.json.error.code, r.json.error.param]).toEqual([400, 'context_length_exceeded', 'messages']);
      // Not a token: vLLM's chat endpoint (the first segment's, when it is tried) refuses such a
      // prompt itself, and no /v1/completions segment is sent.
      expect(stack.sim.stats().liveGenerationTokens).toBe(0);
      expect(stack.sim.stats().lastRequests.map((r) => r.path)).not.toContain('/v1/completions');
    } finally {
      stack.sim.setOptions({ maxModelLen: 8192 });
    }
  });

  it('unknown routes: 404 in the envelope', async () => {
    const res = await fetch(`${stack.url}/v1/nothing`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe('not_found_error');
  });
});

describe('errors after the first byte', () => {
  it('an upstream that dies mid-stream gives one data: {"error"} event and no [DONE]', async () => {
    stack.sim.setOptions({ fault: 'close-mid-stream', faultAfter: 5 });
    const res = await fetch(`${stack.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body({ stream: true })),
    });
    expect(res.status).toBe(200);
    const events = (await res.text()).split('\n\n').filter(Boolean);
    const errors = events.filter((e) => e.startsWith('data: {"error"'));
    expect(errors).toHaveLength(1);
    expect(JSON.parse(errors[0]!.slice(6)).error.type).toBe('upstream_error');
    expect(events.at(-1)).toBe(errors[0]);
    expect(events).not.toContain('data: [DONE]');
  });

  it('the SDK surfaces it as an APIError', async () => {
    stack.sim.setOptions({ fault: 'close-mid-stream', faultAfter: 3 });
    const run = async () => {
      const s = await stack.client.chat.completions.create({ ...body(), stream: true } as never);
      for await (const _ of s as unknown as AsyncIterable<unknown>) void _;
    };
    await expect(run()).rejects.toBeInstanceOf(OpenAI.APIError);
  });
});

describe('cancellation', () => {
  it('a client that disconnects mid-thinking closes the upstream request', async () => {
    stack.sim.setOptions({ tokenDelayMs: 20 });
    const before = stack.sim.stats().aborted;
    const ctrl = new AbortController();
    const s = await stack.client.chat.completions.create({ ...body(), stream: true } as never, { signal: ctrl.signal });
    let chunks = 0;
    try {
      for await (const _ of s as unknown as AsyncIterable<unknown>) {
        if (++chunks === 3) ctrl.abort(); // the SDK ends the iteration (or throws) once aborted
      }
    } catch (err) {
      expect((err as Error).name).toMatch(/Abort/);
    }
    expect(chunks).toBeLessThan(10);
    await until(() => stack.sim.stats().aborted === before + 1 && stack.sim.stats().running === 0, 2000, 'upstream abort');
  });

  it('a non-stream client that gives up closes the upstream request too', async () => {
    stack.sim.setOptions({ tokenDelayMs: 20 });
    const before = stack.sim.stats().aborted;
    const ctrl = new AbortController();
    const p = stack.client.chat.completions.create(body() as never, { signal: ctrl.signal });
    await until(() => stack.sim.stats().running === 1, 2000, 'upstream start');
    ctrl.abort();
    await expect(p).rejects.toThrow();
    await until(() => stack.sim.stats().aborted === before + 1 && stack.sim.stats().running === 0, 2000, 'upstream abort');
  });
});

describe('auth', () => {
  it('requires a bearer key on /v1/* when keys are configured, and leaves probes open', async () => {
    const s = await startStack({ env: { THINKGATE_API_KEYS: 'k1,k2' }, apiKey: 'k2' });
    try {
      const ok = await s.client.chat.completions.create(body({ max_thinking_tokens: 1 }) as never);
      expect(ok).toBeTruthy();
      const res = await fetch(`${s.url}/v1/models`, { headers: { authorization: 'Bearer wrong' } });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { type: string } }).error.type).toBe('authentication_error');
      expect((await fetch(`${s.url}/v1/models`)).status).toBe(401);
      expect((await fetch(`${s.url}/health`)).status).toBe(200);
      expect((await fetch(`${s.url}/metrics`)).status).toBe(200);
    } finally {
      await s.close();
    }
  });
});
