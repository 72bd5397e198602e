/** X-Request-Id: honoured, returned, and one id per upstream segment so vLLM's logs match ours. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack, segmentRequests } from '../support/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => stack.close());

const body = (extra: Record<string, unknown>) =>
  JSON.stringify({ model: 'sim-r1', messages: [{ role: 'user', content: 'hi' }], max_thinking_tokens: 5, ...extra });

describe('request ids', () => {
  it('honours the caller id, returns it, and gives each upstream segment its own id', async () => {
    for (const stream of [false, true]) {
      const id = `trace-${stream}-42`;
      const res = await fetch(`${stack.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': id },
        body: body({ stream }),
      });
      await res.text();
      expect(res.headers.get('x-request-id')).toBe(id);
      const sent = segmentRequests(stack.sim).slice(-2).map((r) => r.headers['x-request-id']);
      expect(sent).toEqual([`${id}-1`, `${id}-2`]);
    }
  });

  it('mints an id when the caller sends none or an unsafe one', async () => {
    for (const headers of [{}, { 'x-request-id': 'bad id\twith spaces' }] as Record<string, string>[]) {
      const res = await fetch(`${stack.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: body({}) });
      await res.text();
      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('n > 1: each choice is budget-forced on its own, with its own segment ids', async () => {
    const res = await fetch(`${stack.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'multi' },
      body: body({ n: 3 }),
    });
    const json = (await res.json()) as { choices: { index: number; message: { content: string } }[]; budget_forcing: { thinking_tokens: number; segments: number } };
    expect(json.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(json.choices.every((c) => c.message.content.length > 0)).toBe(true);
    expect(json.budget_forcing).toMatchObject({ thinking_tokens: 15, segments: 6 });
    // Each sample's own figures, beside the sum (issue 7: parallel scaling).
    const perChoice = (json.choices as unknown as { budget_forcing: unknown }[]).map((c) => c.budget_forcing);
    expect(perChoice).toEqual(Array(3).fill({ thinking_tokens: 5, extensions: 0, truncated: true, segments: 2 }));
    const ids = stack.sim.stats().lastRequests.filter((r) => r.path === '/v1/completions').slice(-6).map((r) => r.headers['x-request-id']).sort();
    expect(ids).toEqual(['multi-c0-1', 'multi-c0-2', 'multi-c1-1', 'multi-c1-2', 'multi-c2-1', 'multi-c2-2']);
  });

  it('n > 1 streamed: the finish chunk of each choice carries its own budget_forcing', async () => {
    const res = await fetch(`${stack.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: body({ n: 2, stream: true, min_thinking_tokens: 35, max_thinking_tokens: 50 }),
    });
    const events = (await res.text()).split('\n\n').filter((e) => e.startsWith('data: {'));
    const finishes = events
      .map((e) => JSON.parse(e.slice(6)) as { choices: { index: number; finish_reason: string | null; budget_forcing?: unknown }[] })
      .flatMap((c) => c.choices)
      .filter((c) => c.finish_reason !== null);
    expect(finishes.map((c) => c.index).sort()).toEqual([0, 1]);
    for (const c of finishes) expect(c.budget_forcing).toEqual({ thinking_tokens: 41, extensions: 1, truncated: false, segments: 3 });
  });
});
