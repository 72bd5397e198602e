/**
 * The `think-tags` family: `<think> ... </think>`, as emitted by DeepSeek-R1 and its distills,
 * QwQ, Qwen3 and most open reasoning models (docs/budget-forcing.md). It is the profile of every model
 * that matches no `models` entry of the config.
 */
import type { BudgetPreset, Profile, ReasoningEffort } from './profile.js';

/**
 * `reasoning_effort` presets. OpenAI's low/medium/high are relative ("fewer/more reasoning
 * tokens"), so thinkgate pins them to absolute budgets on the scale operators already use with
 * vLLM's `thinking_token_budget` (1k to 32k):
 * - none: M = 0 skips thinking (docs/budget-forcing.md), the direct-answer mode Qwen3 calls "no think".
 * - minimal / low / medium: 512 / 1024 / 4096 max, no minimum: a cap, the model may stop earlier.
 * - high: 16384 max and a 2048 minimum. The s1 paper (section 3.1 and its budget-forcing results)
 *   shows that suppressing an early end with "Wait" raises accuracy, so "think hard" also means
 *   "do not stop after a few lines"; 2048 stays small next to the cap, so easy prompts pay little.
 * - xhigh: twice high (32768 / 4096), the next step on the same scale.
 * - max (vLLM 0.32 accepts it for DeepSeek V4): 131072, the longest context of today's open
 *   reasoning models, so in practice only max_completion_tokens and the context bound it, with
 *   an 8192 minimum. The engine never thinks past the context, whatever M says.
 * Operators override any level per profile or per model in the config.
 */
export const THINK_TAGS_EFFORT: Readonly<Partial<Record<ReasoningEffort, BudgetPreset>>> = Object.freeze({
  none: Object.freeze({ max_thinking_tokens: 0 }),
  minimal: Object.freeze({ max_thinking_tokens: 512 }),
  low: Object.freeze({ max_thinking_tokens: 1024 }),
  medium: Object.freeze({ max_thinking_tokens: 4096 }),
  high: Object.freeze({ max_thinking_tokens: 16384, min_thinking_tokens: 2048 }),
  xhigh: Object.freeze({ max_thinking_tokens: 32768, min_thinking_tokens: 4096 }),
  max: Object.freeze({ max_thinking_tokens: 131072, min_thinking_tokens: 8192 }),
});

export const thinkTagsProfile: Profile = Object.freeze({
  name: 'think-tags',
  thinking_start: '<think>',
  thinking_end: '</think>',
  // Close, then the blank line the R1/Qwen3 chat templates put between thinking and answer.
  forced_close: '\n</think>\n\n',
  // R1 and QwQ templates open thinking with `<think>\n`; thinkgate opens it the same way.
  open_text: '<think>\n',
  // s1 paper, section 3.1: "Wait" is the phrase that extends thinking.
  extension: 'Wait',
  effort: THINK_TAGS_EFFORT,
});
