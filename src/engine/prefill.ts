/**
 * Where an assistant prefill ends (issue 13, item 6; docs/budget-forcing.md, "Prefills"). Pure:
 * prompt ids in, a verdict out.
 *
 * With `continue_final_message` the chat template leaves the final assistant message open and
 * the model continues it, so the prompt's tail is the client's own start of the turn. It can end
 * before thinking, inside it, or after it; what decides is the last thinking delimiter of that
 * turn, whatever follows it (unlike detectThinkingState, which allows only the template's few
 * trailing ids):
 * - Qwen3's template renders a final assistant turn as `<think>\n{reasoning}\n</think>\n\n{content}`
 *   (an empty block when there is no reasoning), so a prefill `partial answer` ends in the answer;
 * - a prefill whose content opens thinking (`<think>\nsome thoughts`) ends inside it;
 * - no delimiter in the turn: thinking has not started.
 *
 * The turn is what follows the last end-of-turn id (the profile's single-id `end_of_turn`
 * markers, e.g. `<|im_end|>`); a delimiter of an earlier turn does not count. Without one in the
 * prompt the whole prompt is searched.
 */
import { lastIndexOfSeq } from '../profiles/detect.js';
import type { ResolvedProfile } from '../profiles/profile.js';

/** Where the prefill leaves the model: reported as budget_forcing.prefill.phase. */
export type PrefillPhase = 'before_thinking' | 'thinking' | 'answer';

export interface PrefillVerdict {
  phase: PrefillPhase;
  /** The prefill's own thinking ids (between its start delimiter and its end or the prompt's end); never counted toward M or m. */
  thinkingTokens: number;
}

export function detectPrefill(
  promptIds: readonly number[],
  resolved: Pick<ResolvedProfile, 'startIds' | 'endIds' | 'eosIds'>,
): PrefillVerdict {
  const turnStart = lastEndOfTurn(promptIds, resolved.eosIds) + 1;
  const turn = promptIds.slice(turnStart);
  const { startIds, endIds } = resolved;
  const s = lastIndexOfSeq(turn, startIds);
  const e = lastIndexOfSeq(turn, endIds);
  const startEnd = s < 0 ? -1 : s + startIds.length;
  const endEnd = e < 0 ? -1 : e + endIds.length;
  if (startEnd < 0 && endEnd < 0) return { phase: 'before_thinking', thinkingTokens: 0 };
  // As detectThinkingState: the delimiter that finishes last wins; on a tie the longer one.
  const endWins = endEnd > startEnd || (endEnd === startEnd && e <= s);
  if (endWins) {
    // Thinking the prefill closed itself: counted only when its opening is in the same turn.
    const thinking = s >= 0 && startEnd <= e ? e - startEnd : 0;
    return { phase: 'answer', thinkingTokens: thinking };
  }
  return { phase: 'thinking', thinkingTokens: turn.length - startEnd };
}

function lastEndOfTurn(ids: readonly number[], eosIds: readonly number[]): number {
  if (eosIds.length === 0) return -1;
  const eos = new Set(eosIds);
  for (let i = ids.length - 1; i >= 0; i--) if (eos.has(ids[i]!)) return i;
  return -1;
}
