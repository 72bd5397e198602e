/**
 * Did the chat template already open thinking? Pure: token ids in, a verdict out.
 *
 * Chat templates differ in where they leave the model (docs/budget-forcing.md):
 * - DeepSeek-R1 and its distills, QwQ: the generation prompt ends `<think>\n`: thinking is 'open'.
 * - Qwen3 with `chat_template_kwargs: {enable_thinking: false}`: it ends
 *   `<think>\n\n</think>\n\n`: thinking is 'closed' (the model answers directly).
 * - Qwen3 by default, s1, and most others: no delimiter: 'absent' (the model or thinkgate opens it).
 *
 * Delimiters are compared as id sequences, never as text: one delimiter may be several ids (s1's
 * `<|im_start|>answer` is two; `</think>` is three in tokenizers where it is not a special token).
 */
import type { ResolvedProfile } from './profile.js';

export type ThinkingState = 'open' | 'closed' | 'absent';

/**
 * How many ids may follow the last delimiter for it to count as the template's own. Templates put
 * at most whitespace there (`\n`, `\n\n`, or two `\n` ids). The bound stays well below the five
 * ids of a ChatML turn switch (`<|im_end|>\n<|im_start|>assistant\n`), so a literal `<think>` at
 * the end of the user's message is not mistaken for an opened thinking block.
 */
export const MAX_TRAILING_IDS = 3;

/**
 * First index >= `from` where `needle` occurs in `haystack`, or -1. An empty needle never
 * matches (-1): a delimiter that tokenized to nothing must not be "found" everywhere.
 */
export function indexOfSeq(haystack: readonly number[], needle: readonly number[], from = 0): number {
  const n = needle.length;
  if (n === 0) return -1;
  const last = haystack.length - n;
  for (let i = Math.max(0, from); i <= last; i++) {
    if (matchesAt(haystack, needle, i)) return i;
  }
  return -1;
}

/**
 * Last index <= `from` (default: the last possible start) where `needle` occurs in `haystack`,
 * or -1. As Array.prototype.lastIndexOf, `from` bounds the start of the match. Empty needle: -1.
 */
export function lastIndexOfSeq(
  haystack: readonly number[],
  needle: readonly number[],
  from = haystack.length - needle.length,
): number {
  const n = needle.length;
  if (n === 0) return -1;
  for (let i = Math.min(from, haystack.length - n); i >= 0; i--) {
    if (matchesAt(haystack, needle, i)) return i;
  }
  return -1;
}

function matchesAt(haystack: readonly number[], needle: readonly number[], at: number): boolean {
  for (let j = 0; j < needle.length; j++) {
    if (haystack[at + j] !== needle[j]) return false;
  }
  return true;
}

/**
 * 'open' when the last delimiter in the prompt is the start delimiter, 'closed' when it is the end
 * delimiter, in both cases only when at most `maxTrailing` ids follow it; else 'absent'.
 * Thinking of earlier turns kept in the history is far from the end and so reads as 'absent'.
 */
export function detectThinkingState(
  promptIds: readonly number[],
  resolved: Pick<ResolvedProfile, 'startIds' | 'endIds'>,
  maxTrailing = MAX_TRAILING_IDS,
): ThinkingState {
  const { startIds, endIds } = resolved;
  // Only the tail can hold a delimiter followed by <= maxTrailing ids: long prompts cost nothing.
  const window = Math.max(0, maxTrailing) + Math.max(startIds.length, endIds.length);
  if (window === 0) return 'absent';
  const tail = promptIds.slice(-window);
  const start = lastIndexOfSeq(tail, startIds);
  const end = lastIndexOfSeq(tail, endIds);
  const startEnd = start < 0 ? -1 : start + startIds.length;
  const endEnd = end < 0 ? -1 : end + endIds.length;
  if (startEnd < 0 && endEnd < 0) return 'absent';
  // The delimiter that finishes last wins; on a tie (one delimiter's ids ending the other's),
  // the longer one, i.e. the one that started first.
  const endWins = endEnd > startEnd || (endEnd === startEnd && end <= start);
  const trailing = tail.length - (endWins ? endEnd : startEnd);
  if (trailing > maxTrailing) return 'absent';
  return endWins ? 'closed' : 'open';
}
