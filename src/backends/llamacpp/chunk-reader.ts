/**
 * llama-server's `/completion` stream, read event by event into what it says: tokens (text and
 * ids) and the final event. Pure and synchronous; one reader per stream. What the events mean in
 * vLLM's terms (finish reasons, stop ids, EOS, max_tokens) is completion-assembler.ts's job, and
 * the ids llama-server leaves out are recovered by withheld-ids.ts, in between
 * (completion-stream.ts runs the three).
 *
 * The ids llama-server leaves out: a token whose text ends inside a multi-byte UTF-8 character is
 * not streamed at all. llama-server keeps generating and sends the text once the character is
 * whole, with only the id of the token that completed it (tools/server/server-context.cpp,
 * process_token: `incomplete = validate_utf8(generated_text) < size` skips send_partial_response;
 * the next complete token sends `generated_text.substr(n_sent_text)` with `tokens = {its id}`).
 * Its `tokens_predicted` counts every token generated, so the gap is the number of ids withheld;
 * each token event says how many came before it unseen (`withheld`), their bytes at the start of
 * its text. A 4-byte emoji in byte-fallback tokens (SentencePiece) is 3 withheld ids, and the 4th
 * sent with the whole emoji.
 *
 * Usage bits (`tokens_evaluated`, the slot cache's `timings.cache_n`: thinkgate asks for timings
 * on every event) ride on each event, so a completion ended early still has them.
 */
import { UpstreamError } from '../../errors.js';
import { errorInfoOf, VllmErrorBodySchema } from '../vllm/schemas.js';
import { mapStreamErrorEvent } from '../upstream-errors.js';
import type { ChunkReader } from '../stream-completion.js';
import { TextPerTokenBound } from '../vllm/chunk-reader.js';
import { LlamaCompletionChunkSchema, type LlamaCompletionChunk } from './schemas.js';

/**
 * The most ids one event may say were withheld before it. A UTF-8 character is at most 4 bytes,
 * so a real gap is at most 3 (one byte per token) plus a few tokens that decode to nothing; more
 * is a server that lies about its count, refused before anything is held or asked for.
 */
export const MAX_WITHHELD_IDS = 8;

export interface LlamaUsageBits {
  /** `tokens_evaluated`: the prompt as the slot evaluated it. */
  promptTokens: number;
  /** `timings.cache_n`: prompt tokens served from the slot's cache, once reported. */
  cachedTokens?: number;
}

/** A streamed token event: its text and ids, and how many ids llama-server withheld before them. */
export interface LlamaTokenEvent {
  kind: 'token';
  text: string;
  ids: number[];
  /** Ids generated before `ids` and never sent; their bytes begin `text` (withheld-ids.ts recovers them). */
  withheld: number;
  usage: LlamaUsageBits;
}

/** The final event (`stop: true`); in stream mode its text and ids are empty (a non-stream-shaped final's come as a token event first). */
export interface LlamaFinalEvent {
  kind: 'final';
  /** `eos` | `limit` | `word` | `none` (cancelled) ... */
  stopType: string | null;
  stoppingWord: string | null;
  /** Ids counted by `tokens_predicted` that no event carried: their text is lost. */
  withheld: number;
  usage: LlamaUsageBits;
}

export type LlamaEvent = LlamaTokenEvent | LlamaFinalEvent;

export class LlamaChunkReader implements ChunkReader<LlamaEvent> {
  /** The final event came: the completion is whole. */
  finished = false;
  /** Ends are the assembler's call (completion-stream.ts closes the request then). */
  readonly stopNow = false;
  /** Ids generated so far, sent or withheld (the stream's progress for the timers). */
  private ids = 0;
  private readonly textBound = new TextPerTokenBound('llama-server');
  private usage: LlamaUsageBits = { promptTokens: 0 };

  get tokens(): number {
    return this.ids;
  }

  events(data: string): readonly LlamaEvent[] {
    return this.read(data);
  }

  /** Everything comes with the final event; nothing is pending at the end. */
  flush(): readonly LlamaEvent[] {
    return [];
  }

  /** One SSE data string -> zero or more events. Throws ThinkgateError subclasses. */
  read(data: string): LlamaEvent[] {
    if (data.length === 0 || this.finished) return [];
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      // Stable messages; the event (model output) goes to the redacted debug log as `detail`.
      throw new UpstreamError('llama-server sent malformed JSON in the stream.', { detail: excerpt(data) });
    }
    if (typeof json === 'object' && json !== null && 'error' in json) {
      const parsed = VllmErrorBodySchema.safeParse(json);
      if (parsed.success) throw mapStreamErrorEvent(errorInfoOf(parsed.data));
      throw new UpstreamError('llama-server failed during generation.', { detail: excerpt(data) });
    }
    const parsed = LlamaCompletionChunkSchema.safeParse(json);
    if (!parsed.success) {
      throw new UpstreamError('llama-server sent an unexpected stream event.', {
        detail: `${parsed.error.issues[0]?.message ?? 'invalid'}: ${excerpt(data)}`,
      });
    }
    const chunk = parsed.data;
    this.note(chunk);
    const out: LlamaEvent[] = [];
    // An event with neither ids nor text (the "request started" signal) says nothing.
    if (chunk.tokens.length > 0 || chunk.content.length > 0) out.push(this.token(chunk));
    if (chunk.stop) {
      this.finished = true;
      out.push({
        kind: 'final',
        stopType: chunk.stop_type ?? null,
        stoppingWord: chunk.stopping_word ?? null,
        withheld: this.gap(chunk.tokens_predicted, 0),
        usage: { ...this.usage },
      });
    }
    return out;
  }

  private token(chunk: LlamaCompletionChunk): LlamaTokenEvent {
    // Only an event with an id can end a gap: its id is the one that completed the character.
    const withheld = chunk.tokens.length > 0 ? this.gap(chunk.tokens_predicted, chunk.tokens.length) : 0;
    if (withheld > MAX_WITHHELD_IDS) {
      throw new UpstreamError(`llama-server counted ${withheld} token ids it did not send before one it sent; thinkgate recovers at most ${MAX_WITHHELD_IDS} (one multi-byte character).`);
    }
    this.ids += withheld + chunk.tokens.length;
    this.textBound.add(withheld + chunk.tokens.length, chunk.content);
    return { kind: 'token', text: chunk.content, ids: chunk.tokens, withheld, usage: { ...this.usage } };
  }

  /** How many ids `tokens_predicted` counts beyond the ids seen so far and `sent` now. */
  private gap(predicted: number | null | undefined, sent: number): number {
    if (predicted == null) return 0;
    return Math.max(0, predicted - this.ids - sent);
  }

  private note(chunk: LlamaCompletionChunk): void {
    if (chunk.tokens_evaluated != null) this.usage.promptTokens = chunk.tokens_evaluated;
    const cache = chunk.timings?.cache_n;
    if (cache != null) this.usage.cachedTokens = cache;
  }
}

function excerpt(s: string): string {
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}
