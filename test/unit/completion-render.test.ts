/**
 * Engine events -> text_completion bodies and chunks: the transcript as one text, choice
 * indexes over a batch, and usage that counts each prompt once per prompt, not per sample.
 */
import { describe, expect, it } from 'vitest';
import type { EngineEvent, Usage } from '../../src/engine/types.js';
import { TextCompletionBuilder, TextCompletionChunks } from '../../src/openai/completion-render.js';

const usage = (prompt: number, completion: number, reasoning: number): Usage => ({
  prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, reasoning_tokens: reasoning, answer_tokens: completion - reasoning - 2,
});
const bf = (t: number) => ({ thinking_tokens: t, extensions: 0, truncated: true, segments: 2 });
const run = (prompt: number, t: number): EngineEvent[] => [
  { type: 'segment', index: 1, cause: 'initial', promptTokens: prompt },
  { type: 'delimiter', text: '<think>\n', tokens: 2 },
  { type: 'reasoning', text: 'hmm', tokens: t },
  { type: 'usage', segment: 1, promptTokens: prompt, completionTokens: t },
  { type: 'delimiter', text: '\n</think>\n\n', tokens: 3 },
  { type: 'content', text: '42', tokens: 1 },
  { type: 'finish', reason: 'stop', usage: usage(prompt, t + 6, t), budgetForcing: bf(t) },
];
const opts = { id: 'cmpl-1', created: 1, model: 'm' };

describe('text completion rendering', () => {
  it('joins thinking, delimiters and answer into text; one choice has no per-choice budget_forcing', () => {
    const b = new TextCompletionBuilder({ ...opts, choices: 1, n: 1 });
    for (const ev of run(10, 4)) b.onEvent(ev, 0);
    const r = b.result();
    expect(r.choices).toEqual([{ index: 0, text: '<think>\nhmm\n</think>\n\n42', logprobs: null, finish_reason: 'stop' }]);
    expect(r.usage).toEqual({ prompt_tokens: 10, completion_tokens: 10, total_tokens: 20, completion_tokens_details: { reasoning_tokens: 4 } });
    expect(r.budget_forcing).toEqual(bf(4));
  });

  it('a batch of 2 prompts x n = 2: usage counts each prompt once, completions all', () => {
    const b = new TextCompletionBuilder({ ...opts, choices: 4, n: 2 });
    const prompts = [10, 10, 7, 7];
    prompts.forEach((p, i) => run(p, i + 1).forEach((ev) => b.onEvent(ev, i)));
    const r = b.result();
    expect(r.choices.map((c) => [c.index, c.budget_forcing?.thinking_tokens])).toEqual([[0, 1], [1, 2], [2, 3], [3, 4]]);
    expect(r.usage.prompt_tokens).toBe(17);
    expect(r.usage.completion_tokens).toBe(1 + 2 + 3 + 4 + 4 * 6);
    expect(r.usage.total_tokens).toBe(17 + 34);
    expect(r.budget_forcing).toEqual({ thinking_tokens: 10, extensions: 0, truncated: true, segments: 8 });
  });

  it('streams the same text and ends with one usage chunk carrying the totals', () => {
    const chunks = new TextCompletionChunks({ ...opts, choices: 2, n: 1, includeUsage: true });
    const out = [...run(10, 4).flatMap((ev) => chunks.onEvent(ev, 0)), ...run(7, 5).flatMap((ev) => chunks.onEvent(ev, 1))];
    const textOf = (i: number) => out.flatMap((c) => c.choices).filter((c) => c.index === i).map((c) => c.text).join('');
    expect(textOf(0)).toBe('<think>\nhmm\n</think>\n\n42');
    expect(out.at(-1)!.choices).toEqual([]);
    expect(out.at(-1)!.usage).toMatchObject({ prompt_tokens: 17, completion_tokens: 21 });
    expect(out.filter((c) => c.usage !== null)).toHaveLength(1);
    expect(out.filter((c) => c.choices[0]?.finish_reason === 'stop').map((c) => c.choices[0]!.budget_forcing)).toEqual([bf(4), bf(5)]);
  });

  it('without include_usage the finish chunk carries budget_forcing and no usage field', () => {
    const chunks = new TextCompletionChunks({ ...opts, choices: 1, n: 1, includeUsage: false });
    const out = run(10, 4).flatMap((ev) => chunks.onEvent(ev, 0));
    expect(out.at(-1)).toMatchObject({ budget_forcing: bf(4), choices: [{ finish_reason: 'stop', text: '' }] });
    expect(out.every((c) => !('usage' in c))).toBe(true);
  });
});
