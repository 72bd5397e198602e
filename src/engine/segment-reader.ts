/**
 * Reads one upstream segment (one streamed /v1/completions call) delta by delta, keeping the
 * ForcingState exact and queueing reasoning/content events. Sans I/O: it is fed deltas and says
 * when the segment is over for the engine (forcing-core.ts). A close attempt is handed to
 * forcing-rules.ts the moment it is seen.
 *
 * Ids are the truth (docs/budget-forcing.md: the span is counted in the backend's own token ids); text follows
 * them. vLLM puts a stop token (EOS, or an id from `stop_token_ids`) in `token_ids` but not in
 * `text`, and sends `finish_reason` on the chunk that carries the last token.
 *
 * Logprobs (when asked for) follow the ids: an id's entry is reported iff the run keeps the id as
 * generated output, as vLLM's chat endpoint reports every generated id
 * (chat_completion/serving.py, _create_chat_logprobs over output.token_ids): thinking, the
 * model's own end delimiter when kept, the answer, the end of turn. Ids the run drops (a close
 * replaced by the extension phrase, an EOS replaced by the forced close, anything after the
 * engine stops reading) have none; ids thinkgate inserts are prompt and have none either.
 */
import type { CompletionDelta, TokenLogprob } from './backend.js';
import type { ForcingState } from './forcing-state.js';
import { ANSWER, CONTINUE, onCloseAttempt, onSegmentEnd, STOP, type Next } from './forcing-rules.js';
import type { Outbox } from './outbox.js';
import { SeqMatcher } from './seq-matcher.js';
import type { StopMatcher } from './stop-matcher.js';
import { END_OF_TURN_TEXTS, type ResolvedProfile } from '../profiles/profile.js';
import { UpstreamError } from '../errors.js';

type Finish = 'stop' | 'length' | null;

export class SegmentReader {
  private readonly end: SeqMatcher;
  /** Ids held because they may be the start of the end delimiter. */
  private held: number[] = [];
  /** Text held with them (a chunk's text cannot be split by id without a tokenizer). */
  private heldText = '';
  /** The held ids' logprob entries (with logprobs only), in step with `held`. */
  private heldLp: TokenLogprob[] = [];
  /** Entries of kept ids not reported yet: they ride on the next text event, or a `logprobs` event. */
  private pendingLp: TokenLogprob[] = [];
  /** The current delta's entries (undefined without logprobs). */
  private lp: readonly TokenLogprob[] | undefined;
  private reasoningTokens = 0;
  private contentTokens = 0;

  constructor(
    private readonly state: ForcingState,
    private readonly profile: ResolvedProfile,
    private readonly stops: StopMatcher,
    private readonly out: Outbox,
  ) {
    this.end = new SeqMatcher(profile.endIds);
  }

  /** Reads one delta. Returns what comes next once the segment is over for the engine, else undefined. */
  feed(d: CompletionDelta): Next | undefined {
    this.lp = d.logprobs;
    const next = this.read(d);
    // The segment is over for the engine: what is kept and not yet reported is reported now,
    // before anything thinkgate inserts after it.
    if (next !== undefined) this.flushLogprobs();
    return next;
  }

  private read(d: CompletionDelta): Next | undefined {
    const finish = d.finishReason;
    if (finish === 'abort') throw new UpstreamError('The upstream aborted the generation.');
    // On EOS or a stop_token_ids hit the last id is the stop token (its text is not in `text`).
    // An EOS that was also the max_tokens-th token comes with `length` and its text: see eosAt.
    const stopAt = finish === 'stop' && typeof d.stopReason !== 'string' && d.tokenIds.length > 0 ? d.tokenIds.length - 1 : -1;
    const eosAt = this.eosAt(d.tokenIds, stopAt);
    const text = eosAt !== -1 && eosAt !== stopAt ? this.withoutEosText(d.text) : d.text;
    if (this.state.phase === 'answer') return this.answer(d.tokenIds, 0, text, eosAt, finish);
    return this.thinking(d.tokenIds, text, eosAt, finish);
  }

  /** Thinking: keep ids up to a close attempt, which the rules decide on at once. */
  private thinking(ids: readonly number[], text: string, eosAt: number, finish: Finish): Next | undefined {
    const close = this.keepThinking(ids, eosAt);
    if (close === -1) return this.goOnThinking(text, finish);
    if (close === eosAt) return this.closedByStopToken(ids[close]!, close, text);
    return this.closedInStream(ids, close, text, eosAt, finish);
  }

  /** No close in this delta: its text is thinking (held while a delimiter may be starting). */
  private goOnThinking(text: string, finish: Finish): Next | undefined {
    this.holdOrEmit(text);
    if (finish === null) return undefined;
    // Ended while a delimiter was half-seen: those ids were thinking after all.
    this.releaseHeld('');
    return onSegmentEnd(this.state, finish);
  }

  /** vLLM ended on a stop token: a single-id end delimiter passed as stop_token_ids, or an end of turn. */
  private closedByStopToken(id: number, at: number, text: string): Next {
    this.releaseHeld(text);
    const single = this.profile.endIds.length === 1 && id === this.profile.endIds[0];
    const next = onCloseAttempt(this.state, single ? 'end' : 'eos');
    // Kept only when it is the model's own close (an EOS gets the forced close instead).
    if (next === CONTINUE || next === ANSWER) this.keepLp(at);
    return next;
  }

  /** The end delimiter completed at ids[close] with the stream going on: nothing of it is thinking. */
  private closedInStream(ids: readonly number[], close: number, text: string, eosAt: number, finish: Finish): Next | undefined {
    const { before, after } = this.splitAtEnd(this.heldText + text);
    this.held = [];
    this.heldText = '';
    const delimLp = this.heldLp;
    this.heldLp = [];
    this.emitReasoning(before);
    const next = onCloseAttempt(this.state, 'end');
    if (next !== CONTINUE && next !== ANSWER) return next; // extended (or closed at M): the rest of this stream is dropped
    // The model's own close was kept: its ids are generated output; the rest of this delta is the answer.
    this.flushLogprobs();
    if (this.lp !== undefined) {
      for (const e of delimLp) this.pendingLp.push(e);
      this.keepLp(close);
    }
    this.out.pushAll(this.state.takeInserted());
    // The answer has its own fields (a grammar): what this stream generates after the close is
    // not it; the answer segment generates it under them.
    if (next === ANSWER) return next;
    return this.answer(ids, close + 1, after, eosAt, finish);
  }

  /** Keeps thinking ids up to a close attempt: returns its index (end delimiter's last id, or eosAt), or -1. */
  private keepThinking(ids: readonly number[], eosAt: number): number {
    for (let i = 0; i < ids.length; i++) {
      if (i === eosAt) return i;
      const id = ids[i]!;
      const r = this.end.push(id);
      if (r === -1) return i;
      if (r === 1 && this.held.length === 0) {
        this.think(id); // the common case: no delimiter in sight, no allocation
        this.keepLp(i);
        continue;
      }
      this.held.push(id);
      if (this.lp !== undefined) this.heldLp.push(this.entry(i));
      for (const h of this.held.splice(0, r)) this.think(h);
      this.keepHeldLp(r);
    }
    return -1;
  }

  /** Answer: keep ids up to the end of turn, apply stop strings to the text. */
  private answer(ids: readonly number[], from: number, text: string, eosAt: number, finish: Finish): Next | undefined {
    const last = eosAt === -1 ? ids.length : eosAt;
    for (let i = from; i < last; i++) {
      this.state.answer(ids[i]!);
      this.contentTokens++;
      this.keepLp(i);
    }
    if (eosAt !== -1) {
      this.state.endTurn();
      this.keepLp(eosAt); // generated: vLLM's chat reports the end of turn's logprob too
    }
    const r = this.stops.push(text);
    this.emitContent(r.text);
    if (r.stopped) {
      this.state.stopOn(r.matched!);
      return STOP;
    }
    if (finish === null && eosAt === -1) return undefined;
    this.emitContent(this.stops.flush());
    return onSegmentEnd(this.state, eosAt !== -1 ? 'stop' : finish!);
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

  /** Text of a delta that stays thinking: held while ids are held, else shown. */
  private holdOrEmit(text: string): void {
    if (this.held.length > 0) {
      this.heldText += text;
      return;
    }
    this.emitReasoning(this.heldText + text);
    this.heldText = '';
  }

  /** The held ids (a delimiter's prefix that never completed) are thinking; shows their text and `text`. */
  private releaseHeld(text: string): void {
    const n = this.end.flush();
    for (const h of this.held.splice(0, n)) this.think(h);
    this.keepHeldLp(n);
    this.held = [];
    this.heldLp = [];
    this.emitReasoning(this.heldText + text);
    this.heldText = '';
  }

  private think(id: number): void {
    this.state.think(id);
    this.reasoningTokens++;
  }

  private splitAtEnd(text: string): { before: string; after: string } {
    const delim = this.profile.profile.thinking_end;
    const at = text.indexOf(delim);
    if (at === -1) return { before: text, after: '' };
    return { before: text.slice(0, at), after: text.slice(at + delim.length) };
  }

  private emitReasoning(text: string): void {
    if (text.length === 0) return;
    const logprobs = this.takeLp();
    this.out.push(logprobs === undefined ? { type: 'reasoning', text, tokens: this.reasoningTokens } : { type: 'reasoning', text, tokens: this.reasoningTokens, logprobs });
    this.reasoningTokens = 0;
  }

  private emitContent(text: string): void {
    if (text.length === 0) return;
    const logprobs = this.takeLp();
    this.out.push(logprobs === undefined ? { type: 'content', text, tokens: this.contentTokens } : { type: 'content', text, tokens: this.contentTokens, logprobs });
    this.contentTokens = 0;
  }

  // ---- logprobs (only with EngineInput.logprobs; each a no-op without) -----------------------

  /** The entry of the current delta's id at `i`; the backend checked the alignment. */
  private entry(i: number): TokenLogprob {
    const e = this.lp![i];
    if (e === undefined) throw new UpstreamError('The upstream sent fewer logprobs than token ids.');
    return e;
  }

  /** The id at `i` of the current delta is kept as generated output. */
  private keepLp(i: number): void {
    if (this.lp !== undefined) this.pendingLp.push(this.entry(i));
  }

  /** The first `n` held ids became thinking. */
  private keepHeldLp(n: number): void {
    if (this.lp === undefined || n === 0) return;
    for (const e of this.heldLp.splice(0, n)) this.pendingLp.push(e);
  }

  private takeLp(): TokenLogprob[] | undefined {
    if (this.pendingLp.length === 0) return undefined;
    const lp = this.pendingLp;
    this.pendingLp = [];
    return lp;
  }

  /** Reports kept entries no text event took (a delimiter, an end of turn, text still held). */
  private flushLogprobs(): void {
    const logprobs = this.takeLp();
    if (logprobs !== undefined) this.out.push({ type: 'logprobs', logprobs });
  }
}
