/**
 * llama-server's `/completion` stream -> the engine's CompletionEvents with vLLM's semantics
 * (src/engine/backend.ts). Pure and synchronous; the client owns I/O. One reader per stream.
 *
 * The two protocols differ, and this is where they are reconciled:
 * - llama-server sends one event per token and the finish in a separate, empty final event;
 *   vLLM sends `finish_reason` on the chunk that carries the last token. So the reader holds
 *   back one token event and merges the final into it.
 * - llama-server has no `stop_token_ids`. The reader watches the ids itself: at a stop id it
 *   ends the completion (finish `stop`, stopReason = the id, the id in tokenIds and its text
 *   dropped, as vLLM does) and tells the client to close the request, which makes llama-server
 *   cancel the generation.
 * - At EOS llama-server streams the EOS token (its text is empty unless --special) before the
 *   final `stop_type: "eos"`: that token ends the completion, its text dropped.
 * - Usage: prompt = `tokens_evaluated`, completion = `tokens_predicted`, cached =
 *   `timings.cache_n` (the prompt tokens served from the slot's cache; thinkgate asks for
 *   timings on every event, so a completion ended at a stop id still has it).
 * - A token that ends inside a multi-byte UTF-8 character is not streamed on its own: llama-server
 *   sends its text with the next token but NOT its id (server-context.cpp, process_token). The
 *   reader sees the gap in `tokens_predicted` and fails rather than return inexact ids (docs/budget-forcing.md).
 */
import { UpstreamError } from '../../errors.js';
import type { CompletionDelta, CompletionEvent, CompletionUsage, FinishReason } from '../../engine/backend.js';
import { errorInfoOf, VllmErrorBodySchema } from '../vllm/schemas.js';
import { mapStreamErrorEvent } from '../upstream-errors.js';
import type { ChunkReader } from '../stream-completion.js';
import { TextPerTokenBound } from '../vllm/chunk-reader.js';
import { LlamaCompletionChunkSchema, type LlamaCompletionChunk } from './schemas.js';

export const WITHHELD_IDS_MESSAGE =
  'llama-server withheld token ids (a token inside a multi-byte character is streamed without its id); thinkgate needs every id to stay token-exact.';

export class LlamaChunkReader implements ChunkReader {
  /** The completion is whole (a final event, or a stop id seen). */
  finished = false;
  /** Ended at a stop id: llama-server is still generating and the client must close the request. */
  stoppedAtId = false;
  private held: CompletionDelta | null = null;
  private ids = 0;
  private readonly textBound = new TextPerTokenBound('llama-server');
  private promptTokens = 0;
  private cachedTokens: number | undefined;
  private readonly stopIds: ReadonlySet<number>;

  /** Token ids received so far: the client's timers count only these as progress. */
  get tokens(): number {
    return this.ids;
  }

  /** llama-server generates on past a stop id thinkgate asked for: close the request. */
  get stopNow(): boolean {
    return this.stoppedAtId;
  }

  events(data: string): readonly CompletionEvent[] {
    return this.read(data);
  }

  /** Usage comes with the final event; nothing is pending at the end. */
  flush(): readonly CompletionEvent[] {
    return [];
  }

  constructor(stopTokenIds: readonly number[] = []) {
    this.stopIds = new Set(stopTokenIds);
  }

  /** One SSE data string -> zero or more events. Throws ThinkgateError subclasses. */
  read(data: string): CompletionEvent[] {
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
    this.textBound.add(chunk.tokens.length, chunk.content);
    this.note(chunk);
    return chunk.stop ? this.onFinal(chunk) : this.onToken(chunk);
  }

  private note(chunk: LlamaCompletionChunk): void {
    if (chunk.tokens_evaluated != null) this.promptTokens = chunk.tokens_evaluated;
    const cache = chunk.timings?.cache_n;
    if (cache != null) this.cachedTokens = cache;
  }

  private onToken(chunk: LlamaCompletionChunk): CompletionEvent[] {
    const ids = chunk.tokens;
    this.ids += ids.length;
    if (chunk.tokens_predicted != null && chunk.tokens_predicted > this.ids) throw new UpstreamError(WITHHELD_IDS_MESSAGE);
    const out: CompletionEvent[] = [];
    if (this.held !== null) out.push(this.held);
    this.held = null;
    const stopAt = ids.findIndex((id) => this.stopIds.has(id));
    if (stopAt !== -1) {
      // One token per event in practice; a stop id inside a longer event keeps what came before.
      this.ids -= ids.length - stopAt - 1;
      this.finished = true;
      this.stoppedAtId = true;
      const stopId = ids[stopAt]!;
      out.push({ kind: 'delta', text: stopAt === 0 ? '' : chunk.content, tokenIds: ids.slice(0, stopAt + 1), finishReason: 'stop', stopReason: stopId });
      out.push(this.usage(this.ids));
      return out;
    }
    this.held = { kind: 'delta', text: chunk.content, tokenIds: ids, finishReason: null, stopReason: null };
    return out;
  }

  private onFinal(chunk: LlamaCompletionChunk): CompletionEvent[] {
    this.finished = true;
    let finish: FinishReason;
    let stopReason: string | null = null;
    switch (chunk.stop_type) {
      case 'eos':
        finish = 'stop';
        // The held event is the EOS token: its id stays, its text goes (vLLM semantics).
        if (this.held !== null) this.held.text = '';
        break;
      case 'limit':
        finish = 'length';
        break;
      case 'word':
        finish = 'stop';
        stopReason = chunk.stopping_word ?? null;
        break;
      default:
        // 'none': cancelled on the server's side.
        finish = 'abort';
    }
    const last: CompletionDelta = this.held ?? { kind: 'delta', text: '', tokenIds: [], finishReason: null, stopReason: null };
    this.held = null;
    last.text += chunk.content;
    last.finishReason = finish;
    last.stopReason = stopReason;
    return [last, this.usage(chunk.tokens_predicted ?? this.ids)];
  }

  private usage(completionTokens: number): CompletionUsage {
    const u: CompletionUsage = { kind: 'usage', promptTokens: this.promptTokens, completionTokens };
    if (this.cachedTokens !== undefined) u.cachedTokens = this.cachedTokens;
    return u;
  }
}

function excerpt(s: string): string {
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}
