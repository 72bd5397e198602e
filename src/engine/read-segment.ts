/**
 * Reads one upstream segment (one streamed /v1/completions call) token by token, keeping the
 * ForcingState exact, and yields reasoning/content/usage events. It returns how the segment
 * ended; run-budget-forcing.ts decides what comes next.
 *
 * Ids are the truth (docs/budget-forcing.md: the span is counted in the backend's own token ids); text follows
 * them. vLLM puts a stop token (EOS, or an id from `stop_token_ids`) in `token_ids` but not in
 * `text`, and sends `finish_reason` on the chunk that carries the last token.
 */
import type { CompletionEvent, FinishReason } from './backend.js';
import type { ForcingState } from './forcing-state.js';
import { END_OF_TURN_TEXTS, type ResolvedProfile } from '../profiles/profile.js';
import { SeqMatcher } from './seq-matcher.js';
import type { StopMatcher } from './stop-matcher.js';
import type { EngineEvent } from './types.js';
import { UpstreamError } from '../errors.js';

export type SegmentOutcome =
  /** Thinking phase: the model tried to close (end delimiter or EOS). Nothing of the close was kept. */
  | { kind: 'close-attempt'; via: 'end' | 'eos' }
  /** The upstream ended the segment. */
  | { kind: 'finished'; reason: Exclude<FinishReason, 'abort'> }
  /** A client stop string matched in the answer. */
  | { kind: 'stopped' };

export interface SegmentContext {
  state: ForcingState;
  profile: ResolvedProfile;
  stops: StopMatcher;
  segment: number;
}

export async function* readSegment(
  stream: AsyncIterable<CompletionEvent>,
  ctx: SegmentContext,
): AsyncGenerator<EngineEvent, SegmentOutcome> {
  const reader = new SegmentReader(ctx);
  let ended: SegmentOutcome | undefined;
  for await (const ev of stream) {
    if (ev.kind === 'usage') {
      if (ctx.segment === 1 && ev.cachedTokens !== undefined) ctx.state.cachedTokens = ev.cachedTokens;
      yield {
        type: 'usage',
        segment: ctx.segment,
        promptTokens: ev.promptTokens,
        completionTokens: ev.completionTokens,
        ...(ev.cachedTokens === undefined ? {} : { cachedTokens: ev.cachedTokens }),
      };
      continue;
    }
    const outcome = reader.onDelta(ev.tokenIds, ev.text, ev.finishReason, ev.stopReason);
    yield* reader.drain();
    if (outcome === undefined) continue;
    // The upstream is still generating: leaving the loop aborts it (the backend's finally).
    if (ev.finishReason === null) return outcome;
    // It ended by itself: keep reading for the trailing usage chunk.
    ended = outcome;
  }
  if (!ended) throw new UpstreamError('The upstream stream ended without a finish_reason.');
  return ended;
}

class SegmentReader {
  private readonly state: ForcingState;
  private readonly profile: ResolvedProfile;
  private readonly stops: StopMatcher;
  private readonly end: SeqMatcher;
  /** Ids held because they may be the start of the end delimiter. */
  private held: number[] = [];
  /** Text held with them (a chunk's text cannot be split by id without a tokenizer). */
  private heldText = '';
  private reasoningTokens = 0;
  private contentTokens = 0;
  private out: EngineEvent[] = [];

  constructor(ctx: SegmentContext) {
    this.state = ctx.state;
    this.profile = ctx.profile;
    this.stops = ctx.stops;
    this.end = new SeqMatcher(ctx.profile.endIds);
  }

  *drain(): Generator<EngineEvent> {
    if (this.out.length === 0) return;
    const evs = this.out;
    this.out = [];
    yield* evs;
  }

  onDelta(ids: readonly number[], text: string, finish: FinishReason | null, stopReason: number | string | null): SegmentOutcome | undefined {
    if (finish === 'abort') throw new UpstreamError('The upstream aborted the generation.');
    // On EOS or a stop_token_ids hit the last id is the stop token (its text is not in `text`).
    // An EOS that was also the max_tokens-th token comes with `length` and its text: see eosAt.
    const stopAt = finish === 'stop' && typeof stopReason !== 'string' && ids.length > 0 ? ids.length - 1 : -1;
    const eosAt = this.eosAt(ids, stopAt);
    if (eosAt !== -1 && eosAt !== stopAt) text = this.withoutEosText(text);
    let i = 0;
    if (this.state.phase === 'thinking') {
      for (; i < ids.length; i++) {
        const id = ids[i]!;
        if (i === eosAt) {
          this.releaseHeld();
          this.emitReasoning(this.heldText + text);
          this.heldText = '';
          const single = this.profile.endIds.length === 1 && id === this.profile.endIds[0];
          return { kind: 'close-attempt', via: single ? 'end' : 'eos' };
        }
        const r = this.end.push(id);
        if (r === -1) {
          this.held = [];
          const split = this.splitAtEnd(this.heldText + text);
          this.heldText = '';
          this.emitReasoning(split.before);
          if (this.state.canExtend()) return { kind: 'close-attempt', via: 'end' };
          this.state.insertDelimiter(this.profile.endIds, this.profile.profile.thinking_end);
          for (const d of this.state.takeDelimiters()) this.out.push(d);
          this.state.phase = 'answer';
          text = split.after;
          i++;
          break;
        }
        if (r === 1 && this.held.length === 0) {
          this.acceptThinkingId(id); // the common case: no delimiter in sight, no allocation
          continue;
        }
        this.held.push(id);
        if (r > 0) this.acceptThinking(this.held.splice(0, r));
      }
      if (this.state.phase === 'thinking') {
        if (this.held.length > 0) this.heldText += text;
        else this.emitReasoning(this.heldText + text);
        if (finish) return this.onThinkingFinish(finish);
        return undefined;
      }
    }
    // Answer phase (possibly from the middle of this delta).
    for (; i < ids.length; i++) {
      if (i === eosAt) {
        this.state.overhead++;
        break;
      }
      this.acceptAnswer(ids[i]!);
    }
    const r = this.stops.push(text);
    this.emitContent(r.text);
    if (r.stopped) return { kind: 'stopped' };
    if (finish || eosAt !== -1) {
      this.emitContent(this.stops.flush());
      return { kind: 'finished', reason: eosAt !== -1 ? 'stop' : (finish as 'stop' | 'length') };
    }
    return undefined;
  }

  /** Index of the id that ends the turn: vLLM's stop token, else the first end-of-turn id. */
  private eosAt(ids: readonly number[], stopAt: number): number {
    const eos = this.profile.eosIds;
    if (eos.length > 0) {
      for (let i = 0; i < ids.length; i++) if (eos.includes(ids[i]!)) return stopAt === -1 || i < stopAt ? i : stopAt;
    }
    return stopAt;
  }

  /** Text after an end-of-turn marker is not part of the turn. */
  private withoutEosText(text: string): string {
    let cut = text.length;
    for (const t of this.profile.profile.end_of_turn ?? END_OF_TURN_TEXTS) {
      const at = text.indexOf(t);
      if (at !== -1 && at < cut) cut = at;
    }
    return text.slice(0, cut);
  }

  private onThinkingFinish(finish: 'stop' | 'length'): SegmentOutcome {
    // Ended by length while a delimiter was half-seen: those ids were thinking after all.
    this.releaseHeld();
    this.emitReasoning(this.heldText);
    this.heldText = '';
    // 'stop' without a stop token here means a stop string; only EOS-like ends reach thinking.
    if (finish === 'stop') return { kind: 'close-attempt', via: 'eos' };
    return { kind: 'finished', reason: 'length' };
  }

  private releaseHeld(): void {
    const n = this.end.flush();
    if (n > 0) this.acceptThinking(this.held.splice(0, n));
    this.held = [];
  }

  private acceptThinking(ids: readonly number[]): void {
    for (const id of ids) this.acceptThinkingId(id);
  }

  private acceptThinkingId(id: number): void {
    const st = this.state;
    // max_tokens of a thinking segment is B - span, so this only trips on a misbehaving upstream.
    if (st.span >= st.thinkingLimit) throw new UpstreamError('The upstream generated more tokens than max_tokens allowed.');
    st.prompt.push(id);
    st.span++;
    this.reasoningTokens++;
  }

  private acceptAnswer(id: number): void {
    const st = this.state;
    if (st.answerRoom() <= 0) throw new UpstreamError('The upstream generated more tokens than max_tokens allowed.');
    st.prompt.push(id);
    st.answer++;
    this.contentTokens++;
  }

  private splitAtEnd(text: string): { before: string; after: string } {
    const delim = this.profile.profile.thinking_end;
    const at = text.indexOf(delim);
    if (at === -1) return { before: text, after: '' };
    return { before: text.slice(0, at), after: text.slice(at + delim.length) };
  }

  private emitReasoning(text: string): void {
    if (text.length === 0) return;
    this.out.push({ type: 'reasoning', text, tokens: this.reasoningTokens });
    this.reasoningTokens = 0;
  }

  private emitContent(text: string): void {
    if (text.length === 0) return;
    this.out.push({ type: 'content', text, tokens: this.contentTokens });
    this.contentTokens = 0;
  }
}
