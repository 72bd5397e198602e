/**
 * Budget forcing (s1: Simple test-time scaling, Muennighoff et al. 2025, section 3.1) as a
 * state machine over streamed segments. Semantics: docs/budget-forcing.md.
 *
 * - Max: a thinking segment asks for exactly B - span tokens (B = min(M, max_completion_tokens)),
 *   so vLLM stops at the budget by itself; thinkgate then appends the profile's forced close
 *   and lets the model answer (rule 1). M = 0 closes thinking before the first token (rule 3).
 * - Min: when the model closes thinking (end delimiter or EOS) below m, the close is dropped and
 *   the extension phrase ("Wait") appended, up to E times (rule 2). A single-id end delimiter is
 *   passed as `stop_token_ids` so vLLM stops right there instead of being aborted.
 * - Every segment's prompt is the previous prompt + the kept ids + the inserted ids (rule 7), on
 *   the one backend this run was given (rule 8).
 *
 * Pure: it talks to the world only through the Backend port and yields EngineEvents.
 */
import type { Backend, CompletionRequest } from './backend.js';
import { ForcingState } from './forcing-state.js';
import { readSegment, type SegmentOutcome } from './read-segment.js';
import { StopMatcher } from './stop-matcher.js';
import type { EngineEvent, EngineFinishReason, EngineInput, SegmentCause } from './types.js';
import { detectThinkingState } from '../profiles/detect.js';
import { AbortedError } from '../errors.js';

type Next = { cause: SegmentCause } | { finish: EngineFinishReason };

const SEGMENT_ENDED = new AbortedError('The segment ended.');

export async function* runBudgetForcing(
  input: EngineInput,
  backend: Backend,
  signal: AbortSignal,
): AsyncGenerator<EngineEvent, void> {
  const state = new ForcingState(input);
  const stops = new StopMatcher(input.stop);
  const profile = input.profile;
  let next: Next = openThinking(state, input);
  yield* state.takeDelimiters();

  while ('cause' in next) {
    if (signal.aborted) throw new AbortedError();
    const req = planSegment(state, input);
    if (req.maxTokens <= 0) {
      next = { finish: 'length' };
      break;
    }
    if (state.segmentsLeft() <= 0) {
      // The operator's ceiling (issue 11 item 7: 742 segments per choice for a huge m and E).
      state.segmentLimitReached = true;
      next = { finish: 'length' };
      break;
    }
    state.segments++;
    if (input.requestId !== undefined) req.requestId = `${input.requestId}-${state.segments}`;
    yield { type: 'segment', index: state.segments, cause: next.cause, promptTokens: state.prompt.length };

    // The yield above is a suspension point: the caller may have aborted meanwhile, and a
    // listener added to an aborted signal never fires.
    if (signal.aborted) throw new AbortedError();
    const ctrl = new AbortController();
    const onAbort = (): void => ctrl.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    let outcome: SegmentOutcome;
    try {
      const stream = backend.streamCompletion(req, ctrl.signal);
      outcome = yield* readSegment(stream, { state, profile, stops, segment: state.segments });
    } finally {
      signal.removeEventListener('abort', onAbort);
      ctrl.abort(SEGMENT_ENDED); // closes the upstream if it still streams (a given reason: no DOMException per segment)
    }
    const extensionsBefore = state.extensions;
    next = decide(state, input, outcome);
    if (state.extensions > extensionsBefore) {
      // The phrase is part of the thinking span and of the transcript (rules 2 and 9).
      yield { type: 'reasoning', text: input.budget.extensionText, tokens: input.budget.extensionIds.length };
    }
    yield* state.takeDelimiters();
  }

  yield { type: 'finish', reason: next.finish, usage: state.usage(), budgetForcing: state.summary() };
}

/** Before the first segment: make sure thinking is open (docs/budget-forcing.md), or skip it (rule 3). */
function openThinking(state: ForcingState, input: EngineInput): Next {
  const p = input.profile;
  const detected = detectThinkingState(input.promptIds, p);
  if (detected === 'closed') {
    // The chat template closed thinking itself (e.g. Qwen3 with enable_thinking: false).
    state.phase = 'answer';
    return { cause: 'initial' };
  }
  if (detected === 'absent') state.insertDelimiter(p.openIds, p.profile.open_text);
  if (state.thinkingLimit <= 0) {
    // M = 0: thinking is closed at once and the model answers.
    state.insertDelimiter(p.forcedCloseIds, p.profile.forced_close);
    state.phase = 'answer';
  }
  return { cause: 'initial' };
}

function planSegment(state: ForcingState, input: EngineInput): CompletionRequest {
  // A copy: the backend (or a test's recording of it) must not see later appends.
  const base = { model: input.model, promptIds: state.prompt.slice(), sampling: input.sampling };
  const ctx = state.contextRoom();
  if (state.phase === 'thinking') {
    const req: CompletionRequest = { ...base, maxTokens: Math.min(state.thinkingLimit - state.span, ctx) };
    const endIds = input.profile.endIds;
    if (state.canExtend() && endIds.length === 1) req.stopTokenIds = [endIds[0]!];
    return req;
  }
  const req: CompletionRequest = { ...base, maxTokens: Math.min(state.answerRoom(), ctx) };
  if (input.stop.length > 0) req.stop = input.stop;
  return req;
}

function decide(state: ForcingState, input: EngineInput, outcome: SegmentOutcome): Next {
  const p = input.profile;
  switch (outcome.kind) {
    case 'stopped':
      return { finish: 'stop' };
    case 'close-attempt':
      if (!state.canExtend() && state.extensionAllowed()) state.segmentLimitReached = true;
      if (state.canExtend()) {
        state.extensions++;
        for (const id of input.budget.extensionIds) state.prompt.push(id);
        state.span += input.budget.extensionIds.length;
        return state.span >= state.thinkingLimit ? closeAtLimit(state, input) : { cause: 'extend' };
      }
      state.phase = 'answer';
      if (outcome.via === 'end') {
        // vLLM stopped on the end id (stop_token_ids): keep it and let the model answer.
        state.insertDelimiter(p.endIds, p.profile.thinking_end);
        return { cause: 'continue' };
      }
      // EOS inside thinking: close it the way the max rule does so the model still answers.
      state.insertDelimiter(p.forcedCloseIds, p.profile.forced_close);
      return { cause: 'close' };
    case 'finished':
      if (state.phase === 'thinking') {
        if (outcome.reason === 'length' && state.span >= state.thinkingLimit) return closeAtLimit(state, input);
        return { finish: outcome.reason };
      }
      if (outcome.reason === 'length' && state.answerRoom() > 0 && state.contextRoom() > 0) {
        // The thinking segment's max_tokens cut the answer short; go on in a new segment.
        return { cause: 'continue' };
      }
      return { finish: outcome.reason };
  }
}

/** Rule 1: the span reached B. Close thinking if the answer has room, else end with length. */
function closeAtLimit(state: ForcingState, input: EngineInput): Next {
  state.truncated = true;
  if (state.answerRoom() <= 0) return { finish: 'length' };
  state.insertDelimiter(input.profile.forcedCloseIds, input.profile.profile.forced_close);
  state.phase = 'answer';
  return { cause: 'close' };
}
