/**
 * Tool calling against real vLLM's own chat endpoint (started with --enable-auto-tool-choice
 * --tool-call-parser hermes --reasoning-parser qwen3, VLLM_ENFORCE_STRICT_TOOL_CALLING=0;
 * servers.ts): the same request at temperature 0 without budgets, to thinkgate and to vLLM
 * direct, must give the same reasoning_content, content, tool_calls (names and arguments) and
 * finish_reason. The tiny steered Qwen3 has random weights: "auto" rarely writes a call, so the
 * auto case checks that the tools reach the template the same way and that no call is invented;
 * "required" and named rely on vLLM's grammar on thinkgate's answer segment (EngineInput
 * .answerSampling, docs/api.md "Structured outputs"), never on the thinking segment.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import './backends.js';
import { startRealStack, type RealStack } from './stack.js';
import { COMPLETION_PATH } from './transcript.js';

const backends = inject('realBackends').filter((b) => b.kind === 'vllm' && b.managed);

const weather = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Get the weather of a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

type Choice = { message: { content: string | null; reasoning_content?: string | null; reasoning?: string | null; tool_calls?: { type: string; function: { name: string; arguments: string } }[] }; finish_reason: string };

describe.runIf(backends.length > 0).each(backends)('$label: tools, differential against vLLM chat', (backend) => {
  let stack: RealStack;
  beforeAll(async () => {
    stack = await startRealStack(backend);
  });
  afterAll(async () => stack?.close());

  const body = (extra: Record<string, unknown>) => ({
    model: backend.model,
    messages: [{ role: 'user', content: 'What is the weather in Paris? Use the tool.' }],
    tools: [weather],
    temperature: 0,
    max_tokens: 600,
    ...extra,
  });

  async function both(extra: Record<string, unknown>) {
    const post = async (url: string) => {
      const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body(extra)) });
      expect(res.status).toBe(200);
      return ((await res.json()) as { choices: Choice[] }).choices[0]!;
    };
    const from = stack.proxy.exchanges.length;
    const ours = await post(stack.url);
    const segments = stack.proxy.since(from, COMPLETION_PATH.vllm).map((e) => e.body as Record<string, unknown>);
    const theirs = await post(backend.url);
    return { ours, theirs, segments };
  }

  // vLLM 0.32's qwen3 reasoning parser drops a `</think>` repeated after the first one
  // (parser/qwen3.py: "Absorb duplicate </think>"); the steered tiny model writes many at T = 0.
  // That is reasoning-parser parity, not tool calling (reported with issue 13, item 2): compare
  // content without them, a blank one as null.
  const shape = (c: Choice) => ({
    reasoning: c.message.reasoning_content ?? c.message.reasoning ?? null,
    content: (c.message.content ?? '').replaceAll('</think>', '') || null,
    calls: (c.message.tool_calls ?? []).map((t) => ({ type: t.type, name: t.function.name, arguments: t.function.arguments })),
    finish: c.finish_reason,
  });

  /**
   * The same answer as vLLM's. At temperature 0 the random model closes thinking at once and,
   * inside the JSON grammar, writes whitespace until max_tokens (xgrammar lets JSON carry any
   * whitespace): both end with `length`. thinkgate's max_tokens bounds thinking + answer and
   * leaves out the model's own `</think>` (docs/budget-forcing.md), which vLLM counts, so there
   * its answer may run one token longer: then vLLM's text must be a prefix of thinkgate's.
   */
  const expectSameAnswer = (o: ReturnType<typeof shape>, t: ReturnType<typeof shape>) => {
    if (t.finish !== 'length') return void expect(o).toEqual(t);
    expect({ reasoning: o.reasoning, finish: o.finish, names: o.calls.map((c) => c.name) }).toEqual({ reasoning: t.reasoning, finish: t.finish, names: t.calls.map((c) => c.name) });
    expect((o.content ?? '').startsWith(t.content ?? '')).toBe(true);
    o.calls.forEach((c, i) => expect(c.arguments.startsWith(t.calls[i]!.arguments)).toBe(true));
  };

  // Temperature 0 only: at temperature 1 with a seed the reasoning came back identical but the
  // answer drifted ~50 tokens in (one near-tie token differed between vLLM's chat and
  // /v1/completions runs of the same prompt on the CPU build), which is sampling, not tool calling.
  it('auto, temperature 0: same reasoning, content, calls and finish_reason as vLLM', async () => {
    const { ours, theirs } = await both({});
    expect(shape(ours)).toEqual(shape(theirs));
  });

  it.for([
    ['required', { tool_choice: 'required' }],
    ['named', { tool_choice: { type: 'function', function: { name: 'get_weather' } } }],
  ] as [string, Record<string, unknown>][])('%s: the grammar forces the call after the thinking; same call as vLLM', async ([, extra]) => {
    const { ours, theirs, segments } = await both(extra);
    expect(segments[0]!['structured_outputs']).toBeUndefined(); // never on the thinking segment
    expect(segments.at(-1)!['structured_outputs']).toBeDefined(); // always on the answer segment
    expectSameAnswer(shape(ours), shape(theirs));
    if (theirs.finish_reason !== 'length') expect(shape(ours).calls[0]?.name).toBe('get_weather');
  });
});
