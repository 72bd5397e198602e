/**
 * Issue 13, items 1 and 8 against the real servers (tiny steered Qwen3): the field table's
 * segment and unknown fields reach the server and the server takes them, include_reasoning
 * hides the text of thinking that still ran, continuous_usage_stats counts what the server
 * generated, and the new reasoning_effort levels run.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import './backends.js';
import { startRealStack, type RealStack } from './stack.js';
import { COMPLETION_PATH, segmentOf } from './transcript.js';

const backends = inject('realBackends');

describe.each(backends)('$label', (backend) => {
  let stack: RealStack;
  const path = COMPLETION_PATH[backend.kind];
  beforeAll(async () => {
    stack = await startRealStack(backend);
  });
  afterAll(async () => stack?.close());

  const ask = (seed: number, extra: Record<string, unknown>) => ({
    model: backend.model,
    messages: [{ role: 'user', content: 'What is 6 x 7? Think it over.' }],
    temperature: 1,
    top_p: 1,
    seed,
    ...extra,
  });
  async function post(body: unknown): Promise<{ status: number; text: string }> {
    const res = await fetch(`${stack.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, text: await res.text() };
  }
  const chunks = (text: string): any[] =>
    text.split('\n').filter((l) => l.startsWith('data: ') && l !== 'data: [DONE]').map((l) => JSON.parse(l.slice(6)));

  it('segment fields and an unknown field reach every segment, and the server takes them', async () => {
    const from = stack.proxy.exchanges.length;
    const res = await post(ask(11, { max_thinking_tokens: 8, max_completion_tokens: 20, top_k: 40, vllm_0_99_knob: 1 }));
    expect(res.status, res.text).toBe(200);
    const sent = stack.proxy.since(from, path).map((e) => e.body as Record<string, unknown>);
    expect(sent.length).toBeGreaterThan(0);
    for (const b of sent) expect(b).toMatchObject({ top_k: 40, vllm_0_99_knob: 1 });
  });

  it('include_reasoning: false: thinking ran on the server and was budgeted, no reasoning text comes back', async () => {
    const from = stack.proxy.exchanges.length;
    const res = await post(ask(12, { max_thinking_tokens: 10, max_completion_tokens: 30, include_reasoning: false }));
    expect(res.status, res.text).toBe(200);
    const body = JSON.parse(res.text);
    expect(body.choices[0].message.reasoning_content).toBeNull();
    expect(body.choices[0].message.reasoning).toBeNull();
    const segs = stack.proxy.since(from, path).map((e) => segmentOf(backend.kind, e));
    const generated = segs.reduce((n, s) => n + s.generated.length, 0);
    expect(body.budget_forcing.thinking_tokens).toBeGreaterThan(0);
    expect(body.budget_forcing.thinking_tokens).toBeLessThanOrEqual(10);
    expect(body.usage.completion_tokens_details.reasoning_tokens).toBe(body.budget_forcing.thinking_tokens);
    expect(generated).toBeGreaterThanOrEqual(body.budget_forcing.thinking_tokens - 1);
  });

  it('continuous_usage_stats, n = 2, with an extension: per-choice counts rise to the exact finish, which sums to the usage', async () => {
    const res = await post({
      ...ask(13, { n: 2, max_thinking_tokens: 24, min_thinking_tokens: 12, max_completion_tokens: 40 }),
      stream: true,
      stream_options: { include_usage: true, continuous_usage_stats: true },
    });
    expect(res.status, res.text).toBe(200);
    const cs = chunks(res.text);
    const last = cs.at(-1);
    expect(last.choices).toEqual([]);
    const seen = new Map<number, number[]>();
    const finals = new Map<number, number>();
    for (const c of cs.slice(0, -1)) {
      expect(c.usage.total_tokens).toBe(c.usage.prompt_tokens + c.usage.completion_tokens);
      const i = c.choices[0].index as number;
      seen.set(i, [...(seen.get(i) ?? []), c.usage.completion_tokens]);
      if (c.choices[0].finish_reason != null) finals.set(i, c.usage.completion_tokens);
    }
    expect([...seen.keys()].sort()).toEqual([0, 1]);
    for (const counts of seen.values()) {
      expect(counts[0]).toBe(0);
      expect([...counts].sort((a, b) => a - b)).toEqual(counts);
    }
    expect(finals.get(0)! + finals.get(1)!).toBe(last.usage.completion_tokens);
    // max_completion_tokens bounds span + answer; usage adds the close and end-of-turn ids (docs/budget-forcing.md).
    expect(last.usage.completion_tokens_details.reasoning_tokens).toBeLessThanOrEqual(48);
    expect(last.budget_forcing.thinking_tokens).toBe(last.usage.completion_tokens_details.reasoning_tokens);
  });

  it.each(['xhigh', 'max'])('reasoning_effort %s runs (its M is bounded by max_completion_tokens)', async (effort) => {
    const res = await post(ask(14, { reasoning_effort: effort, max_completion_tokens: 24 }));
    expect(res.status, res.text).toBe(200);
    const body = JSON.parse(res.text);
    expect(body.budget_forcing.thinking_tokens).toBeGreaterThan(0);
    expect(body.budget_forcing.thinking_tokens).toBeLessThanOrEqual(24);
  });
});
