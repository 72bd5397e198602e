import { describe, expect, it } from 'vitest';
import type { BudgetForcingSummary, EngineEvent, Usage } from '../../src/engine/types.js';
import { ChatChunkRenderer, type ChatChunkOptions } from '../../src/openai/chat-chunks.js';
import { RunningUsage } from '../../src/openai/running-usage.js';
import type { ChatCompletionChunk, ChatCompletionChunkDelta } from '../../src/openai/types.js';

const usage: Usage = { prompt_tokens: 9, completion_tokens: 14, total_tokens: 23, reasoning_tokens: 10, answer_tokens: 3, cached_tokens: 8 };
const bf: BudgetForcingSummary = { thinking_tokens: 10, extensions: 0, truncated: true, segments: 2 };

const events: EngineEvent[] = [
  { type: 'segment', index: 0, cause: 'initial', promptTokens: 9 },
  { type: 'reasoning', text: 'Hmm', tokens: 1 },
  { type: 'reasoning', text: '', tokens: 1 },
  { type: 'reasoning', text: ' ok', tokens: 9 },
  { type: 'usage', segment: 0, promptTokens: 9, completionTokens: 10 },
  { type: 'segment', index: 1, cause: 'close', promptTokens: 23 },
  { type: 'content', text: '42', tokens: 3 },
  { type: 'usage', segment: 1, promptTokens: 23, completionTokens: 4, cachedTokens: 8 },
  { type: 'finish', reason: 'length', usage, budgetForcing: bf },
];

function renderer(over: Partial<ChatChunkOptions> = {}) {
  return new ChatChunkRenderer({
    id: 'chatcmpl-7',
    created: 1700000001,
    model: 'r1',
    reasoningFields: ['reasoning_content', 'reasoning'],
    includeUsage: false,
    ...over,
  });
}

/** The per-event output, so the tests also pin which event produced which chunks. */
function perEvent(r: ChatChunkRenderer, evs: EngineEvent[]): ChatCompletionChunk[][] {
  return evs.map((ev) => r.onEvent(ev));
}

const head = { id: 'chatcmpl-7', object: 'chat.completion.chunk', created: 1700000001, model: 'r1', system_fingerprint: null } as const;
function c(delta: ChatCompletionChunkDelta, finish: 'stop' | 'length' | null = null, extra: Record<string, unknown> = {}, index = 0) {
  return { ...head, choices: [{ index, delta, logprobs: null, finish_reason: finish }], ...extra };
}

describe('ChatChunkRenderer', () => {
  it('renders role first, reasoning, content, and a finish chunk carrying budget_forcing (no usage requested)', () => {
    expect(perEvent(renderer(), events)).toEqual([
      [],
      [c({ role: 'assistant', content: '' }), c({ reasoning_content: 'Hmm', reasoning: 'Hmm' })],
      [],
      [c({ reasoning_content: ' ok', reasoning: ' ok' })],
      [],
      [],
      [c({ content: '42' })],
      [],
      [c({}, 'length', { budget_forcing: bf })],
    ]);
  });

  it('with include_usage: usage null on every chunk, then a usage chunk with choices [] and budget_forcing', () => {
    const u = { usage: null };
    expect(perEvent(renderer({ includeUsage: true }), events)).toEqual([
      [],
      [c({ role: 'assistant', content: '' }, null, u), c({ reasoning_content: 'Hmm', reasoning: 'Hmm' }, null, u)],
      [],
      [c({ reasoning_content: ' ok', reasoning: ' ok' }, null, u)],
      [],
      [],
      [c({ content: '42' }, null, u)],
      [],
      [
        c({}, 'length', u),
        {
          ...head,
          choices: [],
          usage: {
            prompt_tokens: 9,
            completion_tokens: 14,
            total_tokens: 23,
            completion_tokens_details: { reasoning_tokens: 10 },
            prompt_tokens_details: { cached_tokens: 8 },
          },
          budget_forcing: bf,
        },
      ],
    ]);
  });

  it('sends only the configured reasoning name, or no reasoning at all', () => {
    const only = renderer({ reasoningFields: ['reasoning'] });
    expect(only.onEvent({ type: 'reasoning', text: 'x', tokens: 1 })).toEqual([c({ role: 'assistant', content: '' }), c({ reasoning: 'x' })]);
    const rc = renderer({ reasoningFields: ['reasoning_content'] });
    expect(rc.onEvent({ type: 'reasoning', text: 'x', tokens: 1 })).toEqual([c({ role: 'assistant', content: '' }), c({ reasoning_content: 'x' })]);
    const none = renderer({ reasoningFields: [] });
    expect(none.onEvent({ type: 'reasoning', text: 'x', tokens: 1 })).toEqual([]);
    // The role then comes with the first chunk that is sent.
    expect(none.onEvent({ type: 'content', text: 'y', tokens: 1 })).toEqual([c({ role: 'assistant', content: '' }), c({ content: 'y' })]);
  });

  it('a finish with nothing before it still sends the role first', () => {
    const b: BudgetForcingSummary = { thinking_tokens: 0, extensions: 0, truncated: false, segments: 1 };
    expect(renderer().onEvent({ type: 'finish', reason: 'stop', usage, budgetForcing: b })).toEqual([
      c({ role: 'assistant', content: '' }),
      c({}, 'stop', { budget_forcing: b }),
    ]);
  });

  it('begin() sends the role chunk once, early', () => {
    const r = renderer();
    expect(r.begin()).toEqual([c({ role: 'assistant', content: '' })]);
    expect(r.begin()).toEqual([]);
    expect(r.onEvent({ type: 'content', text: 'a', tokens: 1 })).toEqual([c({ content: 'a' })]);
  });

  it('each chunk is a fresh object (safe to hand to an async writer)', () => {
    const r = renderer();
    const [, first] = r.onEvent({ type: 'content', text: 'a', tokens: 1 });
    const [second] = r.onEvent({ type: 'content', text: 'b', tokens: 1 });
    expect(first).not.toBe(second);
    expect(first?.choices[0]?.delta).toEqual({ content: 'a' });
  });

  it('n > 1: role per choice, and the usage chunk only after the last choice finished', () => {
    const r = renderer({ includeUsage: true, choices: 2 });
    const u = { usage: null };
    const b0: BudgetForcingSummary = { thinking_tokens: 1, extensions: 1, truncated: false, segments: 1 };
    const b1: BudgetForcingSummary = { thinking_tokens: 2, extensions: 0, truncated: true, segments: 3 };
    const u0: Usage = { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7, reasoning_tokens: 1, answer_tokens: 1 };
    const u1: Usage = { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8, reasoning_tokens: 2, answer_tokens: 1 };
    expect(r.onEvent({ type: 'content', text: 'a', tokens: 1 }, 0)).toEqual([
      c({ role: 'assistant', content: '' }, null, u, 0),
      c({ content: 'a' }, null, u, 0),
    ]);
    expect(r.onEvent({ type: 'content', text: 'b', tokens: 1 }, 1)).toEqual([
      c({ role: 'assistant', content: '' }, null, u, 1),
      c({ content: 'b' }, null, u, 1),
    ]);
    // n > 1: each finish chunk carries that choice's own budget forcing.
    const withBf = (chunk: ChatCompletionChunk, bf: BudgetForcingSummary) => ({ ...chunk, choices: [{ ...chunk.choices[0]!, budget_forcing: bf }] });
    expect(r.onEvent({ type: 'finish', reason: 'stop', usage: u0, budgetForcing: b0 }, 0)).toEqual([withBf(c({}, 'stop', u, 0), b0)]);
    expect(r.onEvent({ type: 'finish', reason: 'length', usage: u1, budgetForcing: b1 }, 1)).toEqual([
      withBf(c({}, 'length', u, 1), b1),
      {
        ...head,
        choices: [],
        usage: { prompt_tokens: 5, completion_tokens: 5, total_tokens: 10, completion_tokens_details: { reasoning_tokens: 3 } },
        budget_forcing: { thinking_tokens: 3, extensions: 1, truncated: true, segments: 4 },
      },
    ]);
  });

  it('serializes to the exact wire JSON', () => {
    const r = renderer();
    const [role, delta] = r.onEvent({ type: 'reasoning', text: 'a"\n', tokens: 1 });
    expect(JSON.stringify(role)).toBe(
      '{"id":"chatcmpl-7","object":"chat.completion.chunk","created":1700000001,"model":"r1","system_fingerprint":null,' +
        '"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}',
    );
    expect(JSON.stringify(delta)).toBe(
      '{"id":"chatcmpl-7","object":"chat.completion.chunk","created":1700000001,"model":"r1","system_fingerprint":null,' +
        '"choices":[{"index":0,"delta":{"reasoning_content":"a\\"\\n","reasoning":"a\\"\\n"},"logprobs":null,"finish_reason":null}]}',
    );
  });
});

describe('ChatChunkRenderer: continuous_usage_stats and include_reasoning (issue 13, item 8)', () => {
  const so = (completion: number, reasoning: number, prompt = 9) => ({
    usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, completion_tokens_details: { reasoning_tokens: reasoning } },
  });

  it("every chunk carries the choice's usage so far (vLLM's shape); the finish chunk the exact one; the usage chunk the totals", () => {
    const r = renderer({ includeUsage: true, continuousUsage: new RunningUsage(() => 9) });
    const out = perEvent(r, events);
    expect(out.slice(0, 8)).toEqual([
      [],
      // The role chunk comes before any token, as vLLM's first chunk.
      [c({ role: 'assistant', content: '' }, null, so(0, 0)), c({ reasoning_content: 'Hmm', reasoning: 'Hmm' }, null, so(1, 1))],
      [],
      // The empty-text event's token still counts.
      [c({ reasoning_content: ' ok', reasoning: ' ok' }, null, so(11, 11))],
      [],
      [],
      [c({ content: '42' }, null, so(14, 11))],
      [],
    ]);
    // The finish chunk: the engine's exact usage (14 completion tokens, 10 reasoning: its own span count).
    expect(out[8]![0]).toEqual(c({}, 'length', so(14, 10)));
    expect(out[8]![1]!.usage).toMatchObject({ prompt_tokens: 9, completion_tokens: 14, prompt_tokens_details: { cached_tokens: 8 } });
    expect(out[8]).toHaveLength(2);
  });

  it('n = 2: each choice counts its own tokens, with its own prompt length', () => {
    const r = renderer({ includeUsage: true, continuousUsage: new RunningUsage((i) => 9 + i), choices: 2 });
    expect(r.onEvent({ type: 'reasoning', text: 'a', tokens: 2 }, 0)[1]).toEqual(c({ reasoning_content: 'a', reasoning: 'a' }, null, so(2, 2)));
    expect(r.onEvent({ type: 'content', text: 'b', tokens: 3 }, 1)).toEqual([
      c({ role: 'assistant', content: '' }, null, so(0, 0, 10), 1),
      c({ content: 'b' }, null, so(3, 0, 10), 1),
    ]);
    expect(r.onEvent({ type: 'content', text: 'c', tokens: 1 }, 0)).toEqual([c({ content: 'c' }, null, so(3, 2))]);
  });

  it('without include_usage, continuous usage adds nothing (vLLM: it counts only with include_usage)', () => {
    const r = renderer({ includeUsage: false });
    expect(r.onEvent({ type: 'content', text: 'x', tokens: 1 })).toEqual([c({ role: 'assistant', content: '' }), c({ content: 'x' })]);
  });

  it('include_reasoning: false sends no reasoning delta at all, only the answer', () => {
    const r = renderer({ includeReasoning: false });
    const out = perEvent(r, events).flat();
    expect(out.some((chunk) => 'reasoning' in chunk.choices[0]!.delta || 'reasoning_content' in chunk.choices[0]!.delta)).toBe(false);
    expect(out).toEqual([c({ role: 'assistant', content: '' }), c({ content: '42' }), c({}, 'length', { budget_forcing: bf })]);
  });
});

describe('tool calls in chunks (docs/api.md "Tool calls")', () => {
  const toolRenderer = async (tools: Record<string, unknown>) => {
    const { planTools } = await import('../../src/tools/tool-plan.js');
    let n = 0;
    return renderer({ tools: planTools(tools, 'hermes'), newToolCallId: () => `chatcmpl-tool-${n++}`, choices: 2 });
  };
  const call = (name: string) => `<tool_call>{"name": "${name}", "arguments": {"a": 1}}</tool_call>`;
  const content = (text: string): EngineEvent => ({ type: 'content', text, tokens: 1 });
  const fin: EngineEvent = { type: 'finish', reason: 'stop', usage, budgetForcing: bf };

  it('n = 2 interleaved: each choice has its own reader; thinking is never parsed; finish tool_calls', async () => {
    const r = await toolRenderer({ tools: [{ type: 'function', function: { name: 'f' } }] });
    const out = [
      ...r.onEvent({ type: 'reasoning', text: '<tool_call>{"name": "x", "arguments": {}}</tool_call>', tokens: 5 }, 0),
      ...r.onEvent(content('Hi <tool'), 0),
      ...r.onEvent(content('<tool_call>{"name": "g", '), 1),
      ...r.onEvent(content('_call>{"name": "f", "arguments": {"a": 1}}</tool_call>'), 0),
      ...r.onEvent(content('"arguments": {}}</tool_call>'), 1),
      ...r.onEvent(fin, 0),
      ...r.onEvent({ ...fin, reason: 'length' }, 1),
    ].flatMap((ch) => ch.choices.map((x) => ({ i: x.index, d: x.delta, f: x.finish_reason })));
    expect(out.filter((x) => x.d.reasoning_content !== undefined).map((x) => x.d.reasoning_content)).toEqual(['<tool_call>{"name": "x", "arguments": {}}</tool_call>']);
    expect(out.filter((x) => x.i === 0 && x.d.content !== undefined && x.d.content !== '').map((x) => x.d.content)).toEqual(['Hi ']);
    expect(out.filter((x) => x.i === 0).flatMap((x) => x.d.tool_calls ?? [])).toEqual([
      { index: 0, type: 'function', id: 'chatcmpl-tool-1', function: { name: 'f' } },
      { index: 0, function: { arguments: '{"a": 1}' } },
    ]);
    // Choice 1's name was readable first, so it drew the first id.
    expect(out.filter((x) => x.i === 1).flatMap((x) => x.d.tool_calls ?? [])).toEqual([
      { index: 0, type: 'function', id: 'chatcmpl-tool-0', function: { name: 'g' } },
      { index: 0, function: { arguments: '{}' } },
    ]);
    // choice 0 stopped after streaming calls: tool_calls; choice 1 hit the length: length.
    expect(out.filter((x) => x.f !== null).map((x) => [x.i, x.f])).toEqual([[0, 'tool_calls'], [1, 'length']]);
  });

  it('parallel_tool_calls false streams call 0 only; a named choice finishes with stop', async () => {
    const r = await toolRenderer({ tools: [{ type: 'function', function: { name: 'f' } }], parallel_tool_calls: false });
    const calls = [...r.onEvent(content(call('f') + call('f'))), ...r.onEvent(fin)].flatMap((ch) => ch.choices.flatMap((x) => x.delta.tool_calls ?? []));
    expect(new Set(calls.map((c) => c.index))).toEqual(new Set([0]));
    const named = await toolRenderer({ tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: { type: 'function', function: { name: 'f' } } });
    const chunks = [...named.onEvent(content('{"a": 1}')), ...named.onEvent(fin)];
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
    expect(chunks.flatMap((ch) => ch.choices.flatMap((x) => x.delta.tool_calls ?? []))).toEqual([
      { index: 0, id: 'chatcmpl-tool-0', type: 'function', function: { name: 'f', arguments: '{"a": 1}' } },
    ]);
  });
});
