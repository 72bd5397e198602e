/**
 * `stream_options.continuous_usage_stats` (with `include_usage`): every chunk of a choice carries
 * that choice's usage so far, as vLLM 0.32 does (chat_completion/serving.py and
 * completion/serving.py, `include_continuous_usage`): the prompt's tokens, the completion tokens
 * generated so far for this choice, their sum, and (chat, with a reasoning parser) the reasoning
 * tokens so far. The role chunk comes before any token (completion 0), the finish chunk carries
 * the choice's final numbers, and the last `choices: []` chunk still carries the request's totals.
 *
 * Mid-stream, "so far" is the thinking tokens (inserted phrases included, as in the span) and
 * answer tokens streamed so far; the few ids between thinking and answer (the end delimiter or
 * forced close, the end of turn) are counted from the finish chunk on, where the numbers are the
 * engine's exact usage (docs/api.md).
 */
import type { EngineEvent, Usage } from '../engine/types.js';
import type { ChatCompletionUsage } from './types.js';

interface Counts {
  completion: number;
  reasoning: number;
}

export class RunningUsage {
  private readonly counts: Counts[] = [];

  /** `promptTokens(i)`: the prompt length of choice i (for a batch, of its own prompt). */
  constructor(private readonly promptTokens: (index: number) => number) {}

  /** Counts one event of choice `index` (call before rendering its chunk). */
  note(ev: EngineEvent, index: number): void {
    if (ev.type !== 'reasoning' && ev.type !== 'content' && ev.type !== 'delimiter') return;
    const c = (this.counts[index] ??= { completion: 0, reasoning: 0 });
    c.completion += ev.tokens;
    if (ev.type === 'reasoning') c.reasoning += ev.tokens;
  }

  /** Choice `index`'s usage so far; `final` (its finish event's usage) wins when given. */
  usage(index: number, final?: Usage): ChatCompletionUsage {
    const prompt = final?.prompt_tokens ?? this.promptTokens(index);
    const c = this.counts[index];
    const completion = final?.completion_tokens ?? c?.completion ?? 0;
    const reasoning = final?.reasoning_tokens ?? c?.reasoning ?? 0;
    return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, completion_tokens_details: { reasoning_tokens: reasoning } };
  }

  /** Before any token of choice `index` (the role chunk). */
  start(index: number): ChatCompletionUsage {
    const prompt = this.promptTokens(index);
    return { prompt_tokens: prompt, completion_tokens: 0, total_tokens: prompt, completion_tokens_details: { reasoning_tokens: 0 } };
  }
}
