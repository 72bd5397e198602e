/**
 * Structured outputs against real vLLM (docs/api.md, "Structured outputs"): vLLM's own chat
 * endpoint, started with --reasoning-parser qwen3 (servers.ts), applies the grammar only after
 * thinking ends; thinkgate puts it on the answer segment only. So at temperature 0 without
 * budgets the same request must give the same reasoning and the same constrained content both
 * ways, and with a budget the thinking is cut at M and the answer still obeys the grammar. The
 * tiny steered Qwen3 has random weights, so the constraints are finite ones (a choice, a schema of
 * a boolean and an enum without free whitespace) that a random model still completes.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import './backends.js';
import { startRealStack, type RealStack } from './stack.js';
import { COMPLETION_PATH } from './transcript.js';

const backends = inject('realBackends').filter((b) => b.kind === 'vllm' && b.managed);

type Choice = { message: { content: string | null; reasoning_content?: string | null; reasoning?: string | null }; finish_reason: string };
type Body = { choices: Choice[]; usage: { completion_tokens_details?: { reasoning_tokens?: number } }; budget_forcing?: { thinking_tokens: number; truncated: boolean } };

const SCHEMA = {
  type: 'object',
  properties: { sunny: { type: 'boolean' }, unit: { enum: ['C', 'F'] } },
  required: ['sunny', 'unit'],
  additionalProperties: false,
};

describe.runIf(backends.length > 0).each(backends)('$label: structured outputs, differential against vLLM chat', (backend) => {
  let stack: RealStack;
  beforeAll(async () => {
    stack = await startRealStack(backend);
  });
  afterAll(async () => stack?.close());

  const body = (extra: Record<string, unknown>) => ({
    model: backend.model,
    messages: [{ role: 'user', content: 'Is it sunny in Paris? Answer in JSON.' }],
    temperature: 0,
    max_tokens: 400,
    ...extra,
  });
  const post = async (url: string, extra: Record<string, unknown>): Promise<Body> => {
    const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body(extra)) });
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()) as Body;
  };
  const shape = (b: Body) => ({
    reasoning: b.choices[0]!.message.reasoning_content ?? b.choices[0]!.message.reasoning ?? null,
    content: b.choices[0]!.message.content,
    finish: b.choices[0]!.finish_reason,
  });

  it.for([
    ['structured_outputs.choice', { structured_outputs: { choice: ['yes', 'no'] } }],
    ['structured_outputs.json without free whitespace', { structured_outputs: { json: SCHEMA, disable_any_whitespace: true } }],
  ] as [string, Record<string, unknown>][])('%s, temperature 0: same reasoning and content as vLLM; the grammar only on the answer segment', async ([, extra]) => {
    const from = stack.proxy.exchanges.length;
    const ours = await post(stack.url, extra);
    const segments = stack.proxy.since(from, COMPLETION_PATH.vllm).map((e) => e.body as Record<string, unknown>);
    const theirs = await post(backend.url, extra);
    expect(shape(ours)).toEqual(shape(theirs));
    expect(segments.length).toBeGreaterThan(1);
    expect(segments[0]!['structured_outputs']).toBeUndefined();
    expect(segments.at(-1)!['structured_outputs']).toEqual(extra['structured_outputs']);
  });

  it('response_format json_schema with M = 24: thinking cut at 24 tokens, the answer still obeys the schema', async () => {
    const ours = await post(stack.url, {
      response_format: { type: 'json_schema', json_schema: { name: 'weather', schema: SCHEMA } },
      max_thinking_tokens: 24,
    });
    expect(ours.budget_forcing).toMatchObject({ thinking_tokens: 24, truncated: true });
    const { content, finish } = shape(ours);
    if (finish === 'stop') {
      const parsed = JSON.parse(content!) as { sunny: unknown; unit: unknown };
      expect(typeof parsed.sunny).toBe('boolean');
      expect(['C', 'F']).toContain(parsed.unit);
    } else {
      // Free whitespace let the random model run to max_tokens: still JSON so far, never prose.
      expect(finish).toBe('length');
      expect(content!.trimStart().startsWith('{')).toBe(true);
    }
  });

  it('a regex constraint with a minimum (m = 40): extensions stay free, the answer matches', async () => {
    const from = stack.proxy.exchanges.length;
    const ours = await post(stack.url, { structured_outputs: { regex: '(yes|no)' }, min_thinking_tokens: 40, max_thinking_tokens: 80 });
    const segments = stack.proxy.since(from, COMPLETION_PATH.vllm).map((e) => e.body as Record<string, unknown>);
    expect(shape(ours).content).toMatch(/^(yes|no)$/);
    expect(ours.budget_forcing!.thinking_tokens).toBeGreaterThanOrEqual(40);
    expect(segments.slice(0, -1).every((s) => s['structured_outputs'] === undefined)).toBe(true);
    expect(segments.at(-1)!['structured_outputs']).toEqual({ regex: '(yes|no)' });
  });
});
