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
 * This file is the async shell: the calls, the abort signal, the yields. What to ask and what
 * the answers mean is forcing-core.ts (no I/O); the decisions are forcing-rules.ts.
 * Pure: it talks to the world only through the Backend port and yields EngineEvents.
 */
import type { Backend, CompletionRequest } from './backend.js';
import { ForcingCore } from './forcing-core.js';
import type { EngineEvent, EngineInput } from './types.js';
import { AbortedError } from '../errors.js';

const SEGMENT_ENDED = new AbortedError('The segment ended.');

export async function* runBudgetForcing(
  input: EngineInput,
  backend: Backend,
  signal: AbortSignal,
): AsyncGenerator<EngineEvent, void> {
  // The events of each step are yielded with plain loops over core.take(), and the segment's
  // upstream loop is inline rather than a delegated generator: every async-generator layer and
  // every `yield*` over an array costs promises per event (issue 14, item 4: docs/performance.md).
  const core = new ForcingCore(input);
  for (const ev of core.take()) yield ev;
  while (core.running) {
    if (signal.aborted) throw new AbortedError();
    if (core.probing) {
      const { text, tokens, meanLogprob } = await probe(backend, core.beginProbe(), signal);
      core.probeDone(text, tokens, meanLogprob);
      for (const ev of core.take()) yield ev;
      continue;
    }
    const req = core.beginSegment();
    if (req === undefined) break;
    for (const ev of core.take()) yield ev; // the `segment` event
    // The yield above is a suspension point: the caller may have aborted meanwhile, and a
    // listener added to an aborted signal never fires.
    if (signal.aborted) throw new AbortedError();
    // One upstream call, fed to the core; the upstream is closed when the core is done with it.
    const ctrl = new AbortController();
    const onAbort = (): void => ctrl.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const ev of backend.streamCompletion(req, ctrl.signal)) {
        const done = core.feed(ev);
        for (const out of core.take()) yield out;
        if (done) break; // leaving the loop aborts the upstream (the backend's finally)
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      ctrl.abort(SEGMENT_ENDED); // closes the upstream if it still streams (a given reason: no DOMException per segment)
    }
    core.endSegment();
    for (const ev of core.take()) yield ev;
  }
  yield core.finish();
}

/** An early-exit probe: its text and generated token count, read whole (the client never sees it). */
async function probe(backend: Backend, req: CompletionRequest, signal: AbortSignal): Promise<{ text: string; tokens: number; meanLogprob?: number }> {
  const ctrl = new AbortController();
  const onAbort = (): void => ctrl.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  let text = '';
  let tokens = 0;
  let sum = 0;
  let entries = 0;
  try {
    for await (const ev of backend.streamCompletion(req, ctrl.signal)) {
      if (ev.kind === 'usage') continue;
      text += ev.text;
      tokens += ev.tokenIds.length;
      for (const lp of ev.logprobs ?? []) {
        sum += lp.logprob;
        entries++;
      }
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    ctrl.abort(SEGMENT_ENDED);
  }
  if (signal.aborted) throw new AbortedError();
  if (req.logprobs === undefined) return { text, tokens };
  // No entries (an empty probe): no confidence to report.
  return entries === 0 ? { text, tokens } : { text, tokens, meanLogprob: sum / entries };
}
