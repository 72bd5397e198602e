/**
 * Structured outputs against real vLLM (docs/api.md, "Structured outputs"): vLLM's own chat
 * endpoint, started with --reasoning-parser qwen3 (servers.ts), applies the grammar only after
 * thinking ends; thinkgate puts it on the answer segment only. The tiny steered Qwen3 has random
 * weights: at temperature 0 it closes thinking at once, and inside a JSON grammar it writes
 * whitespace until max_tokens (xgrammar lets JSON carry any; this build does not honour
 * disable_any_whitespace), so the differential uses constraints a random model completes (a
 * choice, a regex), and the budget cases use temperature 1 with seeds, where the model thinks for
 * tens to hundreds of tokens, and a regex that spells the JSON exactly.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import './backends.js';
import { startRealStack, type RealStack } from './stack.js';
import { COMPLETION_PATH } from './transcript.js';

const backends = inject('realBackends').filter((b) => b.kind === 'vllm' && b.managed);

type Choice = { message: { content: string | null; reasoning_content?: string | null; reasoning?: string | null }; finish_reason: string };
type BudgetForcing = { thinking_tokens: number; truncated: boolean; extensions: number; segments: number };
type Body = { choices: Choice[]; budget_forcing?: BudgetForcing };

const SCHEMA = {
  type: 'object',
  properties: { sunny: { type: 'boolean' }, unit: { enum: ['C', 'F'] } },
  required: ['sunny', 'unit'],
  additionalProperties: false,
};
/** SCHEMA's instances without whitespace, as a regex: a random model cannot wander off in it. */
const SCHEMA_REGEX = '\\{"sunny":(true|false),"unit":"(C|F)"\\}';

describe.runIf(backends.length > 0).each(backends)('$label: structured outputs', (backend) => {
  let stack: RealStack;
  beforeAll(async () => {
    stack = await startRealStack(backend);
  });
  afterAll(async () => stack?.close());

  const post = async (url: string, body: Record<string, unknown>): Promise<Body> => {
    const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: backend.model, ...body }) });
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()) as Body;
  };
  /** thinkgate's answer and the upstream segments it caused. */
  const ours = async (body: Record<string, unknown>) => {
    const from = stack.proxy.exchanges.length;
    const out = await post(stack.url, body);
    return { out, segments: stack.proxy.since(from, COMPLETION_PATH.vllm).map((e) => e.body as Record<string, unknown>) };
  };
  const shape = (b: Body) => ({
    reasoning: b.choices[0]!.message.reasoning_content ?? b.choices[0]!.message.reasoning ?? null,
    content: b.choices[0]!.message.content,
    finish: b.choices[0]!.finish_reason,
  });
  const differential = { messages: [{ role: 'user', content: 'Is it sunny in Paris? Answer in JSON.' }], temperature: 0, max_tokens: 200 };
  const thinking = (seed: number) => ({ messages: [{ role: 'user', content: 'What is 6 x 7? Think it over.' }], temperature: 1, top_p: 1, seed });

  it.for([
    ['structured_outputs.choice', { structured_outputs: { choice: ['yes', 'no'] } }],
    ['structured_outputs.regex', { structured_outputs: { regex: SCHEMA_REGEX } }],
    ['guided_choice (the old spelling, honoured as structured_outputs.choice)', { guided_choice: ['yes', 'no'] }, { structured_outputs: { choice: ['yes', 'no'] } }],
  ] as [string, Record<string, unknown>, Record<string, unknown>?][])('%s, temperature 0: the same content as vLLM chat; the grammar only on the answer segment', async ([, extra, direct]) => {
    const { out, segments } = await ours({ ...differential, ...extra });
    const theirs = await post(backend.url, { ...differential, ...(direct ?? extra) });
    expect(shape(out)).toEqual(shape(theirs));
    expect(shape(out).finish).toBe('stop');
    expect(segments.length).toBeGreaterThan(1);
    expect(segments[0]!['structured_outputs']).toBeUndefined();
    expect(segments.at(-1)!['structured_outputs']).toEqual((direct ?? extra)['structured_outputs']);
  });

  it('M = 24 with a grammar: thinking cut at exactly 24 tokens, then the answer obeys it', async () => {
    let checked = 0;
    for (const seed of [1, 2, 3, 4]) {
      const { out, segments } = await ours({ ...thinking(seed), structured_outputs: { regex: SCHEMA_REGEX }, max_thinking_tokens: 24, max_tokens: 200 });
      if (!out.budget_forcing!.truncated) continue; // this seed closed by itself before 24
      expect(out.budget_forcing!.thinking_tokens).toBe(24);
      expect(shape(out).content).toMatch(new RegExp(`^${SCHEMA_REGEX}$`));
      expect(segments.map((s) => s['structured_outputs'] !== undefined)).toEqual([false, true]);
      checked++;
    }
    expect(checked, 'no seed of 1-4 thought past 24 tokens').toBeGreaterThan(0);
  });

  it('response_format json_schema with M = 24: the answer segment carries it; what comes back is that JSON, whitespace and all', async () => {
    const { out, segments } = await ours({
      ...thinking(1),
      response_format: { type: 'json_schema', json_schema: { name: 'weather', schema: SCHEMA } },
      max_thinking_tokens: 24,
      max_tokens: 120,
    });
    expect(segments[0]!['response_format']).toBeUndefined();
    expect(segments.at(-1)!['response_format']).toMatchObject({ type: 'json_schema' });
    const { content, finish } = shape(out);
    if (finish === 'stop') expect(JSON.parse(content!)).toMatchObject({ sunny: expect.any(Boolean) });
    else expect(content!.trimStart().startsWith('{')).toBe(true); // free whitespace ran it to max_tokens: still JSON so far, never prose
  });

  it('a minimum with a grammar: extension segments stay free, only the answer carries it', async () => {
    let extended = 0;
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const { out, segments } = await ours({ ...thinking(seed), structured_outputs: { choice: ['yes', 'no'] }, min_thinking_tokens: 60, max_thinking_tokens: 100, max_thinking_extensions: 3, max_tokens: 160 });
      expect(shape(out).content).toMatch(/^(yes|no)$/);
      expect(segments.slice(0, -1).every((s) => s['structured_outputs'] === undefined)).toBe(true);
      expect(segments.at(-1)!['structured_outputs']).toEqual({ choice: ['yes', 'no'] });
      if (out.budget_forcing!.extensions > 0) extended++;
    }
    expect(extended, 'no seed of 1-6 closed thinking below 60 tokens').toBeGreaterThan(0);
  });
});
