/**
 * The bookkeeping of one budget-forced generation: the growing token-exact prompt, the thinking
 * span, the answer, and the counters that end up in `budget_forcing` and `usage`. Its fields are
 * private and change only through the verbs below (think, answer, extend, close, truncate, ...),
 * so every change of the run's state is one named call; what to do when is decided in
 * forcing-rules.ts.
 */
import type { BudgetForcingSummary, EngineEvent, EngineInput, Usage } from './types.js';
import { UpstreamError } from '../errors.js';
import type { PrefillVerdict } from './prefill.js';

export type Phase = 'thinking' | 'answer';

/** How thinking is closed: the model's own end delimiter, or the profile's forced close (rule 1). */
export type CloseWith = 'end' | 'forced';

const NONE: EngineEvent[] = [];

/** Output room when the backend did not say max_model_len. */
const UNKNOWN_CONTEXT_ROOM = 32_768;

export class ForcingState {
  /** Original prompt + every id kept or inserted so far: the next segment's prompt (docs/budget-forcing.md). */
  private readonly ids: number[];
  private readonly basePromptTokens: number;
  private currentPhase: Phase = 'thinking';
  /** Thinking span: generated thinking ids + inserted extension ids (docs/budget-forcing.md, "thinking span"). */
  private spanTokens = 0;
  private answerTokens = 0;
  /** Delimiters, forced close, opening inserted by thinkgate, final EOS: completion, not span or answer. */
  private overhead = 0;
  private extensions = 0;
  private truncated = false;
  private segmentCount = 0;
  /** The segment ceiling refused an extension or ended the run. */
  private segmentLimitReached = false;
  private cachedTokens: number | undefined;
  /** Where an assistant prefill ended (continue_final_message), for the summary. */
  private prefill: PrefillVerdict | undefined;
  /** The client stop string that ended the answer, if one did. */
  private stopString: string | undefined;
  /** What thinkgate inserted and has not reported yet: the extension phrase, and delimiters with `transcript`. */
  private inserted: EngineEvent[] = [];

  /** Early exit: the span at which the next probe runs, and what the probes said. */
  private nextProbeAt = Infinity;
  private probeStats: { probes: number; tokens: number; answers: (string | null)[]; exitedAt: number | null; meanLogprobs?: (number | null)[] } | undefined;

  /** B = min(M, max_completion_tokens): the thinking span never exceeds it (docs/budget-forcing.md). */
  readonly thinkingLimit: number;
  /** max_completion_tokens bounds span + answer (docs/budget-forcing.md). */
  readonly completionLimit: number;
  /**
   * Answer and thinking segments carry different fields (EngineInput.answerSampling, e.g. a
   * grammar, or thinkingSampling, e.g. a reflection ban): the answer is generated in segments of
   * its own, never in the stream of a thinking segment.
   */
  readonly answerApart: boolean;

  constructor(private readonly input: EngineInput) {
    this.ids = input.promptIds.slice();
    this.basePromptTokens = input.promptIds.length;
    const m = input.budget.maxThinkingTokens ?? Infinity;
    this.completionLimit = input.maxCompletionTokens ?? Infinity;
    this.thinkingLimit = Math.min(m, this.completionLimit);
    const nonEmpty = (f: Readonly<Record<string, unknown>> | undefined): boolean => f !== undefined && Object.keys(f).length > 0;
    this.answerApart = nonEmpty(input.answerSampling) || nonEmpty(input.thinkingSampling);
    const ee = input.earlyExit;
    if (ee !== undefined) {
      // Never below the minimum: the first probe waits for m.
      this.nextProbeAt = Math.max(ee.intervalTokens, input.budget.minThinkingTokens);
      this.probeStats = { probes: 0, tokens: 0, answers: [], exitedAt: null, ...(ee.minConfidence !== undefined ? { meanLogprobs: [] } : {}) };
    }
  }

  get phase(): Phase {
    return this.currentPhase;
  }

  get span(): number {
    return this.spanTokens;
  }

  get segments(): number {
    return this.segmentCount;
  }

  get promptLength(): number {
    return this.ids.length;
  }

  /** The next segment's prompt, as a copy: the backend (or a test's recording) must not see later appends. */
  prompt(): number[] {
    return this.ids.slice();
  }

  // ---- verbs -------------------------------------------------------------------------------

  /** Opens thinking for a template that did not (docs/budget-forcing.md). */
  open(): void {
    const p = this.input.profile;
    this.insert(p.openIds, p.profile.open_text);
  }

  /** Keeps one generated thinking id. */
  think(id: number): void {
    // max_tokens of a thinking segment is B - span, so this only trips on a misbehaving upstream.
    if (this.spanTokens >= this.thinkingLimit) throw new UpstreamError('The upstream generated more tokens than max_tokens allowed.');
    this.ids.push(id);
    this.spanTokens++;
  }

  /** Keeps one generated answer id. */
  answer(id: number): void {
    if (this.answerRoom() <= 0) throw new UpstreamError('The upstream generated more tokens than max_tokens allowed.');
    this.ids.push(id);
    this.answerTokens++;
  }

  /** The model's end of turn after the answer: completion, neither span nor answer. */
  /** A client stop string ended the answer (reported on `finish`, as vLLM's `stop_reason`). */
  stopOn(stop: string): void {
    this.stopString = stop;
  }

  get stopSequence(): string | undefined {
    return this.stopString;
  }

  endTurn(): void {
    this.overhead++;
  }

  /** Rule 2: the close is dropped and the extension phrase appended; it is thinking and shown as such. */
  extend(): void {
    const b = this.input.budget;
    this.extensions++;
    for (const id of b.extensionIds) this.ids.push(id);
    this.spanTokens += b.extensionIds.length;
    this.inserted.push({ type: 'reasoning', text: b.extensionText, tokens: b.extensionIds.length });
  }

  /** Closes thinking with the model's end delimiter or the forced close; the answer follows. */
  close(how: CloseWith): void {
    const p = this.input.profile;
    if (how === 'end') this.insert(p.endIds, p.profile.thinking_end);
    else this.insert(p.forcedCloseIds, p.profile.forced_close);
    this.currentPhase = 'answer';
  }

  /** The chat template closed thinking itself: the run starts in the answer. */
  startInAnswer(): void {
    this.currentPhase = 'answer';
  }

  /** The prompt ends in the client's own assistant turn (engine/prefill.ts): reported, never counted. */
  notePrefill(verdict: PrefillVerdict): void {
    this.prefill = verdict;
  }

  /** Rule 1: the span reached B. */
  truncate(): void {
    this.truncated = true;
  }

  /** Early exit: the span where the current thinking segment must stop for a probe (Infinity: none). */
  get probeAt(): number {
    return this.nextProbeAt;
  }

  /** The span reached the probe point (and thinking is still open). */
  probeDue(): boolean {
    return this.currentPhase === 'thinking' && this.spanTokens >= this.nextProbeAt && this.thinkingRoom() > 0;
  }

  /**
   * A probe's answer: true when the last `agreements` answers agree (the caller closes
   * thinking); otherwise the next probe point is set.
   */
  noteProbe(answer: string | null, tokens: number, meanLogprob?: number): boolean {
    const ee = this.input.earlyExit!;
    const st = this.probeStats!;
    st.probes++;
    st.tokens += tokens;
    st.answers.push(answer);
    if (st.meanLogprobs !== undefined) st.meanLogprobs.push(meanLogprob ?? null);
    const last = st.answers.slice(-ee.agreements);
    const confident = ee.minConfidence === undefined || (meanLogprob !== undefined && meanLogprob >= ee.minConfidence);
    const agreed = confident && answer !== null && last.length === ee.agreements && last.every((a) => a === answer);
    if (agreed) st.exitedAt = this.spanTokens;
    else this.nextProbeAt = this.spanTokens + ee.intervalTokens;
    return agreed;
  }

  /** Counts a new upstream call; returns its 1-based index. */
  beginSegment(): number {
    return ++this.segmentCount;
  }

  /** The segment ceiling refused an extension or ended the run (issue 11 item 7). */
  hitSegmentLimit(): void {
    this.segmentLimitReached = true;
  }

  /** vLLM's cached prompt tokens; only the first segment's describe the original prompt. */
  noteCachedTokens(segment: number, cached: number | undefined): void {
    if (segment === 1 && cached !== undefined) this.cachedTokens = cached;
  }

  /** Inserted text not yet reported (the extension phrase; delimiters only with EngineInput.transcript). */
  takeInserted(): EngineEvent[] {
    if (this.inserted.length === 0) return NONE;
    const d = this.inserted;
    this.inserted = [];
    return d;
  }

  private insert(ids: readonly number[], text: string): void {
    for (const id of ids) this.ids.push(id);
    this.overhead += ids.length;
    if (this.input.transcript === true && ids.length > 0) this.inserted.push({ type: 'delimiter', text, tokens: ids.length });
  }

  // ---- questions ---------------------------------------------------------------------------

  /**
   * Rule 2: a close below m becomes an extension while E allows, the phrase fits in B, and the
   * segment ceiling leaves room for the extension's segment and one to answer in.
   */
  canExtend(): boolean {
    return this.extensionAllowed() && this.segmentsLeft() >= 2;
  }

  /** Rule 2 without the segment ceiling: what the budget alone allows. */
  extensionAllowed(): boolean {
    const b = this.input.budget;
    return (
      this.spanTokens < b.minThinkingTokens &&
      this.extensions < b.maxExtensions &&
      b.extensionIds.length > 0 &&
      this.spanTokens + b.extensionIds.length <= this.thinkingLimit
    );
  }

  /** Segments the ceiling still allows (Infinity without one). */
  segmentsLeft(): number {
    return (this.input.maxSegments ?? Infinity) - this.segmentCount;
  }

  /**
   * Room the model has before the context is full. Backends report max_model_len; without it
   * (a caller that builds inputs by hand) the output is bounded at 32,768 tokens.
   */
  contextRoom(): number {
    const max = this.input.maxModelLen;
    return max !== undefined ? max - this.ids.length : UNKNOWN_CONTEXT_ROOM;
  }

  thinkingRoom(): number {
    return this.thinkingLimit - this.spanTokens;
  }

  answerRoom(): number {
    return this.completionLimit - this.spanTokens - this.answerTokens;
  }

  summary(): BudgetForcingSummary {
    const s: BudgetForcingSummary = {
      thinking_tokens: this.spanTokens,
      extensions: this.extensions,
      truncated: this.truncated,
      segments: this.segmentCount,
    };
    const clamped = this.input.budget.extensionsClampedTo;
    if (clamped !== undefined) s.extensions_clamped_to = clamped;
    const { maxThinkingClampedTo: to, maxThinkingClampedBy: by } = this.input.budget;
    if (to !== undefined && by !== undefined) {
      s.max_thinking_tokens_clamped_to = to;
      s.max_thinking_tokens_clamped_by = by;
    }
    if (this.segmentLimitReached) s.segment_limit_reached = true;
    if (this.prefill !== undefined) s.prefill = { phase: this.prefill.phase, thinking_tokens: this.prefill.thinkingTokens };
    if (this.input.reflectionIdsBanned !== undefined) s.reflection_ids_banned = this.input.reflectionIdsBanned;
    const ps = this.probeStats;
    if (ps !== undefined) {
      s.early_exit = { probes: ps.probes, probe_tokens: ps.tokens, exited_at: ps.exitedAt, answers: [...ps.answers] };
      if (ps.meanLogprobs !== undefined) s.early_exit.mean_logprobs = [...ps.meanLogprobs];
    }
    return s;
  }

  usage(): Usage {
    const completion = this.spanTokens + this.answerTokens + this.overhead;
    const u: Usage = {
      prompt_tokens: this.basePromptTokens,
      completion_tokens: completion,
      total_tokens: this.basePromptTokens + completion,
      reasoning_tokens: this.spanTokens,
      answer_tokens: this.answerTokens,
      ...(this.probeStats === undefined ? {} : { probe_tokens: this.probeStats.tokens }),
    };
    if (this.cachedTokens !== undefined) u.cached_tokens = this.cachedTokens;
    return u;
  }
}
