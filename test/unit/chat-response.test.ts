import { describe, expect, it } from 'vitest';
import type { BudgetForcingSummary, EngineEvent, Usage } from '../../src/engine/types.js';
import { ChatCompletionBuilder } from '../../src/openai/chat-response.js';
import type { ReasoningField } from '../../src/openai/types.js';

const BOTH: readonly ReasoningField[] = ['reasoning_content', 'reasoning'];
const usage: Usage = { prompt_tokens: 12, completion_tokens: 30, total_tokens: 42, reasoning_tokens: 20, answer_tokens: 7 };
const bf: BudgetForcingSummary = { thinking_tokens: 20, extensions: 1, truncated: false, segments: 2 };

function build(events: EngineEvent[], reasoningFields: readonly ReasoningField[] = BOTH) {
  const b = new ChatCompletionBuilder({ id: 'chatcmpl-1', created: 1700000000, model: 'qwq', reasoningFields });
  for (const ev of events) b.onEvent(ev);
  return b.result();
}

const typical: EngineEvent[] = [
  { type: 'segment', index: 0, cause: 'initial', promptTokens: 12 },
  { type: 'reasoning', text: 'Let me ', tokens: 2 },
  { type: 'reasoning', text: 'think.', tokens: 2 },
  { type: 'usage', segment: 0, promptTokens: 12, completionTokens: 5 },
  { type: 'segment', index: 1, cause: 'extend', promptTokens: 17 },
  { type: 'reasoning', text: 'Wait', tokens: 1 },
  { type: 'reasoning', text: ', yes.', tokens: 15 },
  { type: 'content', text: '', tokens: 1 },
  { type: 'content', text: 'The answer', tokens: 2 },
  { type: 'content', text: ' is 4.', tokens: 4 },
  { type: 'usage', segment: 1, promptTokens: 17, completionTokens: 25, cachedTokens: 16 },
  { type: 'finish', reason: 'stop', usage, budgetForcing: bf },
];

describe('ChatCompletionBuilder', () => {
  it('renders a full completion with both reasoning names', () => {
    expect(build(typical)).toEqual({
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 1700000000,
      model: 'qwq',
      system_fingerprint: null,
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: 'The answer is 4.',
            reasoning_content: 'Let me think.Wait, yes.',
            reasoning: 'Let me think.Wait, yes.',
          },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: {
        prompt_tokens: 12,
        completion_tokens: 30,
        total_tokens: 42,
        completion_tokens_details: { reasoning_tokens: 20 },
      },
      budget_forcing: { thinking_tokens: 20, extensions: 1, truncated: false, segments: 2 },
    });
  });

  it('include_reasoning: false renders the reasoning names as null (vLLM: reasoning = None), usage and budget unchanged', () => {
    const b = new ChatCompletionBuilder({ id: 'chatcmpl-1', created: 1700000000, model: 'qwq', reasoningFields: BOTH, includeReasoning: false });
    for (const ev of typical) b.onEvent(ev);
    const out = b.result();
    expect(out.choices[0]?.message).toEqual({ role: 'assistant', content: 'The answer is 4.', reasoning_content: null, reasoning: null });
    expect(out.usage).toEqual(build(typical).usage);
    expect(out.budget_forcing).toEqual(bf);
  });

  it('sends only the configured reasoning names', () => {
    expect(build(typical, ['reasoning']).choices[0]?.message).toEqual({
      role: 'assistant',
      content: 'The answer is 4.',
      reasoning: 'Let me think.Wait, yes.',
    });
    expect(build(typical, ['reasoning_content']).choices[0]?.message).toEqual({
      role: 'assistant',
      content: 'The answer is 4.',
      reasoning_content: 'Let me think.Wait, yes.',
    });
    expect(build(typical, []).choices[0]?.message).toEqual({ role: 'assistant', content: 'The answer is 4.' });
  });

  it("content is '' (never null) and reasoning null when nothing was generated; length passes through", () => {
    const u: Usage = { prompt_tokens: 3, completion_tokens: 0, total_tokens: 3, reasoning_tokens: 0, answer_tokens: 0 };
    const s: BudgetForcingSummary = { thinking_tokens: 0, extensions: 0, truncated: true, segments: 1 };
    const r = build([
      { type: 'segment', index: 0, cause: 'initial', promptTokens: 3 },
      { type: 'finish', reason: 'length', usage: u, budgetForcing: s },
    ]);
    expect(r.choices).toEqual([
      {
        index: 0,
        message: { role: 'assistant', content: '', reasoning_content: null, reasoning: null },
        logprobs: null,
        finish_reason: 'length',
      },
    ]);
    expect(r.usage).toEqual({ prompt_tokens: 3, completion_tokens: 0, total_tokens: 3, completion_tokens_details: { reasoning_tokens: 0 } });
    expect(r.budget_forcing).toEqual(s);
  });

  it('reports cached prompt tokens only when the engine did, 0 included', () => {
    const withCache = (cached: number) =>
      build([{ type: 'finish', reason: 'stop', usage: { ...usage, cached_tokens: cached }, budgetForcing: bf }]).usage;
    expect(withCache(16)).toEqual({
      prompt_tokens: 12,
      completion_tokens: 30,
      total_tokens: 42,
      completion_tokens_details: { reasoning_tokens: 20 },
      prompt_tokens_details: { cached_tokens: 16 },
    });
    expect(withCache(0).prompt_tokens_details).toEqual({ cached_tokens: 0 });
  });

  it('joins many deltas exactly', () => {
    const events: EngineEvent[] = [];
    for (let i = 0; i < 10_000; i++) events.push({ type: 'reasoning', text: `${i % 10}`, tokens: 1 });
    events.push({ type: 'finish', reason: 'stop', usage, budgetForcing: bf });
    const r = build(events);
    expect(r.choices[0]?.message.reasoning).toBe('0123456789'.repeat(1000));
  });

  it('a choice that never finished reports finish_reason null and zero usage', () => {
    const r = build([{ type: 'content', text: 'partial', tokens: 1 }]);
    expect(r.choices[0]?.finish_reason).toBe(null);
    expect(r.choices[0]?.message.content).toBe('partial');
    expect(r.usage).toEqual({ prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, completion_tokens_details: { reasoning_tokens: 0 } });
    expect(r.budget_forcing).toEqual({ thinking_tokens: 0, extensions: 0, truncated: false, segments: 0 });
  });

  it('keeps choices apart by index and sums usage with the prompt counted once', () => {
    const b = new ChatCompletionBuilder({ id: 'x', created: 1, model: 'm', reasoningFields: ['reasoning'] });
    const u1: Usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, reasoning_tokens: 3, answer_tokens: 2, cached_tokens: 4 };
    const u2: Usage = { prompt_tokens: 10, completion_tokens: 7, total_tokens: 17, reasoning_tokens: 4, answer_tokens: 3 };
    b.onEvent({ type: 'content', text: 'B', tokens: 1 }, 1);
    b.onEvent({ type: 'reasoning', text: 'a', tokens: 1 }, 0);
    b.onEvent({ type: 'content', text: 'A', tokens: 1 }, 0);
    b.onEvent({ type: 'finish', reason: 'length', usage: u2, budgetForcing: { thinking_tokens: 4, extensions: 0, truncated: true, segments: 2 } }, 1);
    b.onEvent({ type: 'finish', reason: 'stop', usage: u1, budgetForcing: { thinking_tokens: 3, extensions: 1, truncated: false, segments: 2 } }, 0);
    expect(b.result()).toEqual({
      id: 'x',
      object: 'chat.completion',
      created: 1,
      model: 'm',
      system_fingerprint: null,
      choices: [
        // n > 1: each choice also carries its own budget forcing.
        { index: 0, message: { role: 'assistant', content: 'A', reasoning: 'a' }, logprobs: null, finish_reason: 'stop', budget_forcing: { thinking_tokens: 3, extensions: 1, truncated: false, segments: 2 } },
        { index: 1, message: { role: 'assistant', content: 'B', reasoning: null }, logprobs: null, finish_reason: 'length', budget_forcing: { thinking_tokens: 4, extensions: 0, truncated: true, segments: 2 } },
      ],
      usage: {
        prompt_tokens: 10,
        completion_tokens: 12,
        total_tokens: 22,
        completion_tokens_details: { reasoning_tokens: 7 },
        prompt_tokens_details: { cached_tokens: 4 },
      },
      budget_forcing: { thinking_tokens: 7, extensions: 1, truncated: true, segments: 4 },
    });
  });
});
