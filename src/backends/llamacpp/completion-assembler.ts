/**
 * llama-server's token events (chunk-reader.ts, withheld ids already recovered) -> the engine's
 * CompletionEvents with vLLM's semantics (src/engine/backend.ts). Pure and synchronous.
 *
 * The two protocols differ, and this is where they are reconciled:
 * - llama-server sends one event per token and the finish in a separate final event; vLLM sends
 *   `finish_reason` on the chunk that carries the last token. So one token event is held back
 *   and gets its finish from what comes next.
 * - llama-server has no `stop_token_ids`. The ids are watched here: at a stop id the completion
 *   ends (finish `stop`, stopReason = the id, the id in tokenIds and its text dropped, as vLLM
 *   does) and the request is closed, which makes llama-server cancel the generation.
 * - At EOS llama-server streams the EOS token (its text is empty unless --special) before the
 *   final `stop_type: "eos"`: that token ends the completion, its text dropped.
 * - max_tokens: thinkgate asks llama-server for a few tokens more (completion-stream.ts,
 *   LLAMA_TAIL_TOKENS), so that a character open at the limit still completes and its ids come
 *   (chunk-reader.ts). The limit is applied here, as vLLM applies it (v1/core/sched/utils.py,
 *   check_stop: EOS and stop ids first, then the length): a token at the limit is held until the
 *   next event says whether it was the EOS (the final `eos`) or generation went on (`length`,
 *   and the request is closed). Ids recovered past the limit are cut off, and with them the text
 *   of an open character (vLLM's detokenizer does not emit it either).
 * - Usage: prompt = `tokens_evaluated`, completion = the ids handed to the engine, cached =
 *   `timings.cache_n`.
 */
import { UpstreamError } from '../../errors.js';
import type { CompletionDelta, CompletionEvent, CompletionUsage, FinishReason } from '../../engine/backend.js';
import type { LlamaFinalEvent, LlamaUsageBits } from './chunk-reader.js';
import { textOfCompleteCharacters } from './utf8.js';

/** A token event whose ids are all there; `pieces` (one per id) when they were recovered. */
export interface LlamaTokens {
  text: string;
  ids: number[];
  /** Bytes of `text` before the first id's piece, and each id's piece: to cut the text at an id. */
  lead?: Uint8Array;
  pieces?: Uint8Array[];
  usage: LlamaUsageBits;
}

export class LlamaCompletionAssembler {
  /** The completion is over for the engine. Before the final event: close the request. */
  done = false;
  private held: CompletionDelta | null = null;
  /** Ids handed out or held. */
  private count = 0;
  private readonly stopIds: ReadonlySet<number>;

  constructor(
    stopTokenIds: readonly number[],
    private readonly maxTokens: number,
  ) {
    this.stopIds = new Set(stopTokenIds);
  }

  /** A token is held at max_tokens: whatever comes next only says how the completion ended. */
  get atLimit(): boolean {
    return this.held !== null && this.count >= this.maxTokens;
  }

  token(t: LlamaTokens): CompletionEvent[] {
    if (this.done) return [];
    const out: CompletionEvent[] = [];
    if (this.held !== null) {
      // The held token was the max_tokens-th and generation went on past it: the limit ends it.
      if (this.count >= this.maxTokens) return this.end(out, 'length', null, t.usage);
      out.push(this.held);
      this.held = null;
    }
    const room = this.maxTokens - this.count;
    const stopAt = t.ids.findIndex((id, i) => i < room && this.stopIds.has(id));
    if (stopAt !== -1) {
      // One token per event in practice; a stop id inside a recovered group keeps what came before it.
      this.count += stopAt + 1;
      this.held = { kind: 'delta', text: stopAt === 0 ? '' : textBefore(t, stopAt), tokenIds: t.ids.slice(0, stopAt + 1), finishReason: null, stopReason: null };
      return this.end(out, 'stop', t.ids[stopAt]!, t.usage);
    }
    if (t.ids.length > room) {
      // Only a recovered group crosses the limit (llama-server sends one id per event): keep `room` ids.
      this.count += room;
      this.held = { kind: 'delta', text: textBefore(t, room), tokenIds: t.ids.slice(0, room), finishReason: null, stopReason: null };
      return this.end(out, 'length', null, t.usage);
    }
    this.count += t.ids.length;
    this.held = { kind: 'delta', text: t.text, tokenIds: t.ids, finishReason: null, stopReason: null };
    return out;
  }

  final(f: LlamaFinalEvent): CompletionEvent[] {
    if (this.done) return [];
    if (f.withheld > 0) {
      // Ids past max_tokens: generation went on after the held token, so the limit ended it.
      if (this.atLimit) return this.end([], 'length', null, f.usage);
      // The final event came while a character was open (llama-server's own limit, its context
      // end, an EOS after half a character): those ids and their bytes were never sent.
      throw new UpstreamError(`llama-server ended the completion inside a multi-byte character: ${f.withheld} token id(s) were never sent; thinkgate needs every id to stay token-exact.`);
    }
    switch (f.stopType) {
      case 'eos':
        // The held event is the EOS token: its id stays, its text goes (vLLM semantics).
        if (this.held !== null) this.held.text = '';
        return this.end([], 'stop', null, f.usage);
      case 'limit':
        // llama-server's own limit (the context is full) or the tail past max_tokens ran out.
        return this.end([], 'length', null, f.usage);
      case 'word':
        return this.end([], 'stop', f.stoppingWord ?? null, f.usage);
      default:
        // 'none': cancelled on the server's side.
        return this.end([], 'abort', null, f.usage);
    }
  }

  /** Puts the finish on the held token (or an empty delta) and adds the usage. */
  private end(out: CompletionEvent[], finish: FinishReason, stopReason: number | string | null, usage: LlamaUsageBits): CompletionEvent[] {
    this.done = true;
    const last: CompletionDelta = this.held ?? { kind: 'delta', text: '', tokenIds: [], finishReason: null, stopReason: null };
    this.held = null;
    last.finishReason = finish;
    last.stopReason = stopReason;
    const u: CompletionUsage = { kind: 'usage', promptTokens: usage.promptTokens, completionTokens: this.count };
    if (usage.cachedTokens !== undefined) u.cachedTokens = usage.cachedTokens;
    out.push(last, u);
    return out;
  }
}

/** The text of a token event's first `n` ids: exact when the pieces are known, else all of it (one id per event). */
function textBefore(t: LlamaTokens, n: number): string {
  if (t.pieces === undefined || t.lead === undefined) return t.text;
  let size = t.lead.length;
  for (let i = 0; i < n; i++) size += t.pieces[i]!.length;
  const bytes = new Uint8Array(size);
  bytes.set(t.lead);
  let at = t.lead.length;
  for (let i = 0; i < n; i++) {
    bytes.set(t.pieces[i]!, at);
    at += t.pieces[i]!.length;
  }
  return textOfCompleteCharacters(bytes);
}
