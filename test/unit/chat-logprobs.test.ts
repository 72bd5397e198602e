/**
 * Chat logprobs rendering (src/openai/chat-logprobs.ts, chat-response.ts, chat-chunks.ts): the
 * shape of vLLM's chat endpoint, `{token, logprob, bytes, top_logprobs: [{token, logprob,
 * bytes}]}` (chat_completion/serving.py, _create_chat_logprobs), one list for the thinking and
 * the answer; per chunk in a stream; null without `logprobs: true` or with the thinking hidden.
 */
import { describe, expect, it } from 'vitest';
import type { BudgetForcingSummary, EngineEvent, TokenLogprob, Usage } from '../../src/engine/types.js';
import { ChatChunkRenderer } from '../../src/openai/chat-chunks.js';
import { ChatCompletionBuilder } from '../../src/openai/chat-response.js';
import { toChatLogprobContent } from '../../src/openai/chat-logprobs.js';

const usage: Usage = { prompt_tokens: 9, completion_tokens: 5, total_tokens: 14, reasoning_tokens: 2, answer_tokens: 2 };
const bf: BudgetForcingSummary = { thinking_tokens: 2, extensions: 0, truncated: false, segments: 1 };
const e = (token: string, logprob: number): TokenLogprob => ({ token, logprob, top: [{ token, logprob }, { token: '\u00e9', logprob: logprob - 1 }] });

const events: EngineEvent[] = [
  { type: 'segment', index: 1, cause: 'initial', promptTokens: 9 },
  { type: 'reasoning', text: 'Hm', tokens: 1, logprobs: [e('Hm', -0.1)] },
  { type: 'reasoning', text: 'm', tokens: 1, logprobs: [e('m', -0.2)] },
  { type: 'logprobs', logprobs: [e('</think>', -0.3)] },
  { type: 'content', text: '42', tokens: 2, logprobs: [e('\n\n', -0.4), e('42', -0.5)] },
  { type: 'logprobs', logprobs: [e('<|im_end|>', -0.6)] },
  { type: 'finish', reason: 'stop', usage, budgetForcing: bf },
];
const opts = { id: 'chatcmpl-1', created: 1, model: 'r1', reasoningFields: ['reasoning_content'] as const };

describe('chat logprobs', () => {
  it('renders vLLM\'s entry shape: bytes are the UTF-8 of the token, logprobs clamped at -9999', () => {
    expect(toChatLogprobContent([{ token: '\u00e9', logprob: -1e5, top: [{ token: '\ufffd', logprob: -2 }] }])).toEqual([
      { token: '\u00e9', logprob: -9999, bytes: [195, 169], top_logprobs: [{ token: '\ufffd', logprob: -2, bytes: [239, 191, 189] }] },
    ]);
  });

  it('non-stream: one list for thinking, delimiter, answer and end of turn, in order', () => {
    const b = new ChatCompletionBuilder({ ...opts, logprobs: true });
    for (const ev of events) b.onEvent(ev);
    const choice = b.result().choices[0]!;
    expect(choice.logprobs?.content?.map((c) => c.token)).toEqual(['Hm', 'm', '</think>', '\n\n', '42', '<|im_end|>']);
    expect(choice.logprobs?.content?.[4]).toEqual({
      token: '42', logprob: -0.5, bytes: [52, 50],
      top_logprobs: [{ token: '42', logprob: -0.5, bytes: [52, 50] }, { token: '\u00e9', logprob: -1.5, bytes: [195, 169] }],
    });
    expect(choice.message).toEqual({ role: 'assistant', content: '42', reasoning_content: 'Hmm' });
  });

  it('non-stream without logprobs: null', () => {
    const b = new ChatCompletionBuilder(opts);
    for (const ev of events) b.onEvent(ev);
    expect(b.result().choices[0]!.logprobs).toBeNull();
  });

  it('n > 1: each choice its own list', () => {
    const b = new ChatCompletionBuilder({ ...opts, logprobs: true });
    b.onEvent({ type: 'content', text: 'a', tokens: 1, logprobs: [e('a', -1)] }, 0);
    b.onEvent({ type: 'content', text: 'b', tokens: 1, logprobs: [e('b', -2)] }, 1);
    b.onEvent({ type: 'content', text: 'c', tokens: 1, logprobs: [e('c', -3)] }, 0);
    const r = b.result();
    expect(r.choices.map((c) => c.logprobs?.content?.map((x) => x.token))).toEqual([['a', 'c'], ['b']]);
  });

  it('stream: each chunk carries the entries of its tokens; textless ids get a chunk with an empty delta', () => {
    const r = new ChatChunkRenderer({ ...opts, logprobs: true, includeUsage: false });
    const chunks = events.flatMap((ev) => r.onEvent(ev));
    const rows = chunks.map((c) => [c.choices[0]?.delta, c.choices[0]?.logprobs?.content?.map((x) => x.token) ?? null]);
    expect(rows).toEqual([
      [{ role: 'assistant', content: '' }, null],
      [{ reasoning_content: 'Hm' }, ['Hm']],
      [{ reasoning_content: 'm' }, ['m']],
      [{}, ['</think>']],
      [{ content: '42' }, ['\n\n', '42']],
      [{}, ['<|im_end|>']],
      [{}, null],
    ]);
  });

  it('stream without logprobs: no logprobs chunks at all', () => {
    const r = new ChatChunkRenderer({ ...opts, includeUsage: false });
    const chunks = events.flatMap((ev) => r.onEvent(ev));
    expect(chunks.every((c) => c.choices[0]?.logprobs == null)).toBe(true);
    expect(chunks).toHaveLength(5);
  });

  it('hidden thinking hides the logprobs, as vLLM does without include_reasoning', () => {
    const hidden = { ...opts, reasoningFields: [] as const, logprobs: true };
    const b = new ChatCompletionBuilder(hidden);
    for (const ev of events) b.onEvent(ev);
    expect(b.result().choices[0]!.logprobs).toBeNull();
    const r = new ChatChunkRenderer({ ...hidden, includeUsage: false });
    expect(events.flatMap((ev) => r.onEvent(ev)).every((c) => c.choices[0]?.logprobs == null)).toBe(true);
  });
});
