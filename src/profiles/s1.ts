/**
 * The `s1` family (simplescaling/s1-32B, s1.1-*): Qwen2.5 ChatML markers
 * `<|im_start|>think` ... `<|im_start|>answer` (Muennighoff et al. 2025, arXiv 2501.19393,
 * and the simplescaling/s1 evaluation code).
 */
import type { BudgetPreset, Profile, ReasoningEffort } from './profile.js';

/**
 * The same absolute scale as think-tags (see THINK_TAGS_EFFORT for the reasoning): the s1 paper
 * evaluates budget forcing with thinking budgets of this order (hundreds to thousands of tokens).
 * Kept as its own data so a change for s1 never moves think-tags.
 */
export const S1_EFFORT: Readonly<Partial<Record<ReasoningEffort, BudgetPreset>>> = Object.freeze({
  none: Object.freeze({ max_thinking_tokens: 0 }),
  minimal: Object.freeze({ max_thinking_tokens: 512 }),
  low: Object.freeze({ max_thinking_tokens: 1024 }),
  medium: Object.freeze({ max_thinking_tokens: 4096 }),
  high: Object.freeze({ max_thinking_tokens: 16384, min_thinking_tokens: 2048 }),
  xhigh: Object.freeze({ max_thinking_tokens: 32768, min_thinking_tokens: 4096 }),
  max: Object.freeze({ max_thinking_tokens: 131072, min_thinking_tokens: 8192 }),
});

export const s1Profile: Profile = Object.freeze({
  name: 's1',
  thinking_start: '<|im_start|>think',
  thinking_end: '<|im_start|>answer',
  // s1 paper, section 3.1: at the limit, append the end-of-thinking delimiter and, optionally,
  // "Final Answer:" so that the model answers at once.
  forced_close: '\n<|im_start|>answer\nFinal Answer:',
  // The s1 code appends exactly `<|im_start|>think` to the prompt, no newline: the model writes it.
  open_text: '<|im_start|>think',
  extension: 'Wait',
  effort: S1_EFFORT,
});
