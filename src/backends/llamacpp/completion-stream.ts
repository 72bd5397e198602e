/**
 * One llama-server `/completion` stream -> the engine's CompletionEvents: the shared streaming
 * loop (stream-completion.ts: timers, errors, cancellation) reads the events (chunk-reader.ts),
 * the ids llama-server withheld inside a multi-byte character are recovered through its
 * /tokenize (withheld-ids.ts), and the assembler gives them vLLM's semantics
 * (completion-assembler.ts). Returning early (a stop id, the max_tokens limit) closes the request:
 * llama-server cancels the generation.
 *
 * While a recovery runs, the loop is suspended at its yield, so its first-token and idle timers
 * are paused (the /tokenize call has its own request timeout) and nothing more is read or held:
 * at most one event waits.
 */
import type { CompletionEvent } from '../../engine/backend.js';
import { streamCompletionEvents, type StreamTarget } from '../stream-completion.js';
import { LlamaChunkReader, type LlamaEvent } from './chunk-reader.js';
import { LlamaCompletionAssembler, type LlamaTokens } from './completion-assembler.js';
import { recoverWithheld, type PieceSource } from './withheld-ids.js';

/**
 * Tokens asked for beyond max_tokens: a character open at the limit completes within 3 more
 * tokens (UTF-8 is at most 4 bytes, and every token but an empty one adds a byte), and only then
 * does llama-server send the ids inside it (chunk-reader.ts). The assembler never hands out more
 * than max_tokens ids and closes the request as soon as it knows how the limit ends.
 */
export const LLAMA_TAIL_TOKENS = 3;

export interface LlamaCompletionParams {
  maxTokens: number;
  stopTokenIds: readonly number[];
  pieces: PieceSource;
}

export async function* llamaCompletionEvents(
  target: StreamTarget,
  params: LlamaCompletionParams,
  signal: AbortSignal,
): AsyncGenerator<CompletionEvent, void, undefined> {
  yield* assembleLlamaEvents(streamCompletionEvents(target, new LlamaChunkReader(), signal), params, signal);
}

/** Reader events -> engine events, recovering withheld ids on the way. Returns as soon as the completion is over. */
export async function* assembleLlamaEvents(
  events: AsyncIterable<LlamaEvent>,
  params: LlamaCompletionParams,
  signal: AbortSignal,
): AsyncGenerator<CompletionEvent, void, undefined> {
  const assembler = new LlamaCompletionAssembler(params.stopTokenIds, params.maxTokens);
  for await (const ev of events) {
    let out: CompletionEvent[];
    if (ev.kind === 'final') {
      out = assembler.final(ev);
    } else {
      let tokens: LlamaTokens = { text: ev.text, ids: ev.ids, usage: ev.usage };
      // At the limit the next event only ends the completion: its ids are not needed.
      if (ev.withheld > 0 && !assembler.atLimit) tokens = { ...(await recoverWithheld(ev.text, ev.ids, ev.withheld, params.pieces, signal)), usage: ev.usage };
      out = assembler.token(tokens);
    }
    yield* out;
    if (assembler.done) return; // leaving the loop closes the request (stream-completion.ts)
  }
}
