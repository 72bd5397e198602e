/**
 * The one place that decides what a close attempt or a spent budget means: extend, close,
 * truncate, go on, or finish (docs/budget-forcing.md, rules 1-3; s1, Muennighoff et al. 2025,
 * section 3.1). The segment reader calls it the moment the model tries to close thinking, in the
 * stream or at the end of a segment alike, and when a segment ends; it changes the state only
 * through ForcingState's verbs.
 */
import type { ForcingState } from './forcing-state.js';
import type { EngineFinishReason, SegmentCause } from './types.js';
import { detectThinkingState } from '../profiles/detect.js';
import { detectPrefill } from './prefill.js';
import type { ResolvedProfile } from '../profiles/profile.js';

/** What comes after a segment: another one (and why), or the end of the run. */
export type Next = { cause: SegmentCause } | { finish: EngineFinishReason } | { probe: true };

const INITIAL: Next = { cause: 'initial' };
const EXTEND: Next = { cause: 'extend' };
const CLOSE: Next = { cause: 'close' };
/** The model's own text goes on: in the same segment when it is still streaming, else in a new one. */
export const CONTINUE: Next = { cause: 'continue' };
/**
 * The model closed thinking itself and its answer has fields of its own (a grammar): the rest of
 * this stream is left, and the answer starts in a segment that carries them.
 */
export const ANSWER: Next = { cause: 'answer' };
export const STOP: Next = { finish: 'stop' };
/** Early exit: the span reached a probe point; ask the model for its answer so far. */
export const PROBE: Next = { probe: true };
const CONVERGED: Next = { cause: 'converged' };
const LENGTH: Next = { finish: 'length' };

/** Before the first segment: make sure thinking is open (docs/budget-forcing.md), or skip it (rule 3). */
export function startRun(state: ForcingState, promptIds: readonly number[], profile: ResolvedProfile, prefill = false): Next {
  if (prefill) return startPrefill(state, promptIds, profile);
  const detected = detectThinkingState(promptIds, profile);
  if (detected === 'closed') {
    // The chat template closed thinking itself (e.g. Qwen3 with enable_thinking: false).
    state.startInAnswer();
    return INITIAL;
  }
  if (detected === 'absent') state.open();
  // M = 0: thinking is closed at once and the model answers.
  if (state.thinkingLimit <= 0) state.close('forced');
  return INITIAL;
}

/**
 * An assistant prefill (continue_final_message): the run starts where it ends. Its own thinking
 * is the client's and counts toward neither M nor m: the span, and so the budget, is the NEW
 * thinking only (docs/budget-forcing.md, "Prefills"). Inside thinking nothing is inserted; after
 * it the run is an answer; before it thinking is opened as for any prompt.
 */
function startPrefill(state: ForcingState, promptIds: readonly number[], profile: ResolvedProfile): Next {
  const verdict = detectPrefill(promptIds, profile);
  state.notePrefill(verdict);
  if (verdict.phase === 'answer') {
    state.startInAnswer();
    return INITIAL;
  }
  if (verdict.phase === 'before_thinking') state.open();
  if (state.thinkingLimit <= 0) state.close('forced');
  return INITIAL;
}

/**
 * The model tried to close thinking: its end delimiter (in the stream, or the stop token vLLM
 * stopped on) or an end of turn. Below m the close becomes an extension while E, B and the segment
 * ceiling allow (rule 2); else the model's own delimiter is kept (CONTINUE: the answer follows in
 * the same stream when there is one; ANSWER: in a segment of its own, when it has its own
 * fields), or an end of turn gets the forced close so that the model still answers.
 */
export function onCloseAttempt(state: ForcingState, via: 'end' | 'eos'): Next {
  if (state.canExtend()) {
    state.extend();
    return state.thinkingRoom() <= 0 ? closeAtLimit(state) : EXTEND;
  }
  if (state.extensionAllowed()) state.hitSegmentLimit();
  if (via === 'end') {
    state.close('end');
    return state.answerApart ? ANSWER : CONTINUE;
  }
  state.close('forced');
  return CLOSE;
}

/** The upstream ended the segment by itself (vLLM's finish_reason), with no close attempt before. */
export function onSegmentEnd(state: ForcingState, reason: 'stop' | 'length'): Next {
  if (state.phase === 'thinking') {
    // Only an EOS-like end stops a thinking segment (it never gets stop strings).
    if (reason === 'stop') return onCloseAttempt(state, 'eos');
    // Early exit: the segment was cut at the probe point.
    // A probe is always followed by a segment, so it needs two left under the ceiling.
    if (state.probeDue() && state.contextRoom() > 0 && state.segmentsLeft() > 1) return PROBE;
    return state.thinkingRoom() <= 0 ? closeAtLimit(state) : LENGTH;
  }
  // The thinking segment's max_tokens cut the answer short; go on in a new segment.
  if (reason === 'length' && state.answerRoom() > 0 && state.contextRoom() > 0) return CONTINUE;
  return reason === 'stop' ? STOP : LENGTH;
}

/**
 * Early exit: a probe's answer. Agreement closes thinking with the forced close (the model then
 * answers in a `converged` segment); otherwise thinking goes on to the next probe point.
 */
export function onProbe(state: ForcingState, answer: string | null, tokens: number, meanLogprob?: number): Next {
  if (!state.noteProbe(answer, tokens, meanLogprob)) return CONTINUE;
  if (state.answerRoom() <= 0) return LENGTH;
  state.close('forced');
  return CONVERGED;
}

/** Before a segment: the run ends with length when it has no room, or at the operator's ceiling. */
export function refuseSegment(state: ForcingState, maxTokens: number): Next | undefined {
  if (maxTokens <= 0) return LENGTH;
  if (state.segmentsLeft() > 0) return undefined;
  // Issue 11 item 7: 742 segments per choice for a huge m and E.
  state.hitSegmentLimit();
  return LENGTH;
}

/** Rule 1: the span reached B. Close thinking if the answer has room, else end with length. */
function closeAtLimit(state: ForcingState): Next {
  state.truncate();
  if (state.answerRoom() <= 0) return LENGTH;
  state.close('forced');
  return CLOSE;
}
