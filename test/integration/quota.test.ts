/**
 * Issue 17, items 1 and 3: named keys with policies, against the simulator (in-memory store; the
 * same governor over Redis: quota-redis.test.ts). The simulator thinks 30 tokens and answers 12
 * unless told otherwise.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/stack.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const KEYS = [
  { name: 'capped', key: 'sk-capped', max_thinking_tokens: 10, max_n: 2 },
  { name: 'refuser', sha256: sha('sk-refuser'), thinking_quota: { hour: 50 } },
  { name: 'degrader', key: 'sk-degrader', thinking_quota: { day: 40 }, on_quota_exhausted: 'degrade' },
  { name: 'rated', key: 'sk-rated', requests_per_minute: 2 },
  { name: 'streamer', key: 'sk-streamer', thinking_quota: { minute: 100 } },
];

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    config: { auth: { api_keys: ['sk-plain'], keys: KEYS }, quota: { charge_every_tokens: 8 } },
  });
});
afterAll(async () => stack.close());

interface Bf {
  thinking_tokens: number;
  max_thinking_tokens_clamped_to?: number;
  max_thinking_tokens_clamped_by?: string;
}
async function chat(key: string, extra: Record<string, unknown> = {}) {
  const res = await fetch(`${stack.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: 'sim-r1', messages: [{ role: 'user', content: 'What is 6 x 7?' }], ...extra }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: (res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : {}) as { budget_forcing?: Bf; error?: { code: string; param: string | null } } };
}

async function metric(line: RegExp): Promise<number> {
  const text = await (await fetch(`${stack.url}/metrics`)).text();
  const m = text.split('\n').find((l) => line.test(l));
  return m === undefined ? 0 : Number(m.split(' ').pop());
}

describe('named keys: caps', () => {
  it('a key configured by its sha256 authenticates; an unknown key does not', async () => {
    expect((await chat('sk-refuser', { max_thinking_tokens: 5 })).status).toBe(200);
    expect((await chat('sk-nope')).status).toBe(401);
    expect((await chat('sk-plain')).status).toBe(200); // THINKGATE_API_KEYS keeps working, no policy
  });

  it('M above (or absent under) the key cap is clamped and reported; below it is untouched', async () => {
    const absent = await chat('sk-capped');
    expect(absent.status).toBe(200);
    expect(absent.json.budget_forcing).toMatchObject({ thinking_tokens: 10, max_thinking_tokens_clamped_to: 10, max_thinking_tokens_clamped_by: 'key_cap' });
    const above = await chat('sk-capped', { max_thinking_tokens: 1000 });
    expect(above.json.budget_forcing).toMatchObject({ thinking_tokens: 10, max_thinking_tokens_clamped_to: 10 });
    const below = await chat('sk-capped', { max_thinking_tokens: 4 });
    expect(below.json.budget_forcing!.thinking_tokens).toBe(4);
    expect(below.json.budget_forcing!.max_thinking_tokens_clamped_to).toBeUndefined();
  });

  it('n above the key cap is a 400 naming n', async () => {
    const res = await chat('sk-capped', { n: 3 });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ param: 'n' });
    expect((await chat('sk-capped', { n: 2 })).status).toBe(200);
  });
});

describe('named keys: request rate', () => {
  it('past requests_per_minute: 429 rate_limit_exceeded with Retry-After and x-ratelimit-*-requests', async () => {
    // The window may roll over between the calls: retry the triple once.
    for (let attempt = 0; ; attempt++) {
      const r = [await chat('sk-rated', { max_tokens: 5 }), await chat('sk-rated', { max_tokens: 5 }), await chat('sk-rated', { max_tokens: 5 })];
      if (r[2]!.status === 200 && attempt === 0) continue;
      expect(r[2]!.status).toBe(429);
      expect(r[2]!.json.error).toMatchObject({ code: 'rate_limit_exceeded' });
      const h = r[2]!.headers;
      expect(Number(h.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number(h.get('retry-after'))).toBeLessThanOrEqual(60);
      expect(h.get('x-ratelimit-limit-requests')).toBe('2');
      expect(h.get('x-ratelimit-remaining-requests')).toBe('0');
      // OpenAI's format (errors.ts formatReset): "1h0m0s", "1m0s", "42s", or "390ms" when the window ends within the second.
      expect(h.get('x-ratelimit-reset-requests')).toMatch(/^((\d+h)?(\d+m)?\d+s|\d+ms)$/);
      return;
    }
  });
});

describe('named keys: thinking quota', () => {
  it('refuse: charged what was generated; once spent, 429 thinking_quota_exceeded with the reset in headers', async () => {
    // 5 tokens used above; 30 more leaves 15 of 50.
    const a = await chat('sk-refuser');
    expect(a.json.budget_forcing!.thinking_tokens).toBe(30);
    expect(await metric(/^thinkgate_key_thinking_quota_used_tokens\{key="refuser",window="hour"\}/)).toBe(35);
    // This one finds 15 left, runs, and is cut once a charge finds the quota spent (non-stream: a 429).
    const b = await chat('sk-refuser');
    expect(b.status).toBe(429);
    expect(b.json.error).toMatchObject({ code: 'thinking_quota_exceeded' });
    const used = await metric(/^thinkgate_key_thinking_quota_used_tokens\{key="refuser",window="hour"\}/);
    expect(used).toBeGreaterThanOrEqual(50);
    expect(used - 50).toBeLessThanOrEqual(8); // overdraw: at most one charge interval
    const c = await chat('sk-refuser');
    expect(c.status).toBe(429);
    expect(c.json.error).toMatchObject({ code: 'thinking_quota_exceeded' });
    expect(c.headers.get('x-ratelimit-limit-tokens')).toBe('50');
    expect(c.headers.get('x-ratelimit-remaining-tokens')).toBe('0');
    expect(Number(c.headers.get('retry-after'))).toBeLessThanOrEqual(3600);
    expect(c.headers.get('x-ratelimit-reset-tokens')).toMatch(/^((\d+h)?(\d+m)?\d+s|\d+ms)$/);
    expect(await metric(/^thinkgate_key_quota_refusals_total\{key="refuser",reason="thinking_quota"\}/)).toBe(2);
  });

  it('degrade: M is capped to what is left (split over n), then 0: answers without thinking', async () => {
    const a = await chat('sk-degrader', { max_thinking_tokens: 25 });
    expect(a.json.budget_forcing).toMatchObject({ thinking_tokens: 25 });
    const b = await chat('sk-degrader', { n: 2 });
    expect(b.status).toBe(200);
    const choices = (b.json as unknown as { choices: Array<{ budget_forcing: Bf }> }).choices;
    for (const c of choices) expect(c.budget_forcing).toMatchObject({ max_thinking_tokens_clamped_to: 7, max_thinking_tokens_clamped_by: 'thinking_quota' });
    // 40 - 25 - 2 x 7 leaves 1, then nothing.
    const c = await chat('sk-degrader');
    expect(c.json.budget_forcing).toMatchObject({ thinking_tokens: 1, max_thinking_tokens_clamped_to: 1 });
    const d = await chat('sk-degrader');
    expect(d.status).toBe(200);
    expect(d.json.budget_forcing).toMatchObject({ thinking_tokens: 0, max_thinking_tokens_clamped_to: 0, max_thinking_tokens_clamped_by: 'thinking_quota' });
    expect((d.json as unknown as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content).toMatch(/\S/);
  });

  it('a stream that finds its quota spent ends with a thinking_quota_exceeded error event', async () => {
    stack.sim.setOptions({ thinkTokens: 300 });
    try {
      const res = await chat('sk-streamer', { stream: true });
      expect(res.status).toBe(200);
      const events = res.text.split('\n\n').filter((e) => e.startsWith('data: {'));
      const last = JSON.parse(events.at(-1)!.slice(6)) as { error?: { code: string } };
      expect(last.error).toMatchObject({ code: 'thinking_quota_exceeded' });
      const used = await metric(/^thinkgate_key_thinking_quota_used_tokens\{key="streamer",window="minute"\}/);
      expect(used).toBeGreaterThanOrEqual(100);
      expect(used - 100).toBeLessThanOrEqual(8);
      // What the key metrics counted is what was charged: every thinking token of the stream.
      expect(await metric(/^thinkgate_key_thinking_tokens_total\{key="streamer"\}/)).toBe(used);
    } finally {
      stack.sim.setOptions({ thinkTokens: 30 });
    }
  });
});

describe('per-key metrics', () => {
  it('count requests, thinking and answer tokens under configured names; every other key is _unnamed', async () => {
    const before = await metric(/^thinkgate_key_requests_total\{key="_unnamed",code="200"\}/);
    await chat('sk-plain');
    expect(await metric(/^thinkgate_key_requests_total\{key="_unnamed",code="200"\}/)).toBe(before + 1);
    expect(await metric(/^thinkgate_key_answer_tokens_total\{key="capped"\}/)).toBeGreaterThan(0);
    const text = await (await fetch(`${stack.url}/metrics`)).text();
    const keys = new Set([...text.matchAll(/key="([^"]+)"/g)].map((m) => m[1]));
    expect([...keys].every((k) => ['_unnamed', ...KEYS.map((x) => x.name)].includes(k!))).toBe(true);
    expect(await metric(/^thinkgate_quota_store_up /)).toBe(1);
  });
});
