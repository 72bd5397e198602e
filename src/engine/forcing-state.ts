/**
 * The mutable bookkeeping of one budget-forced generation: the growing token-exact prompt,
 * the thinking span, the answer, and the counters that end up in `budget_forcing` and `usage`.
 * Plain data plus arithmetic; the control flow lives in run-budget-forcing.ts.
 */
import type { BudgetForcingSummary, EngineEvent, EngineInput, Usage } from './types.js';

export type Phase = 'thinking' | 'answer';

const NONE: EngineEvent[] = [];

export class ForcingState {
  /** Original prompt + every id kept or inserted so far: the next segment's prompt (docs/budget-forcing.md). */
  readonly prompt: number[];
  readonly basePromptTokens: number;
  phase: Phase = 'thinking';
  /** Thinking span: generated thinking ids + inserted extension ids (docs/budget-forcing.md, "thinking span"). */
  span = 0;
  answer = 0;
  /** Delimiters, forced close, opening inserted by thinkgate, final EOS: completion, not span or answer. */
  overhead = 0;
  extensions = 0;
  truncated = false;
  segments = 0;
  /** The segment ceiling refused an extension or ended the run. */
  segmentLimitReached = false;
  cachedTokens: number | undefined;
  /** Inserted delimiters not yet reported (filled only with EngineInput.transcript). */
  private delimiters: EngineEvent[] = [];

  /** B = min(M, max_completion_tokens): the thinking span never exceeds it (docs/budget-forcing.md). */
  readonly thinkingLimit: number;
  /** max_completion_tokens bounds span + answer (docs/budget-forcing.md). */
  readonly completionLimit: number;

  constructor(private readonly input: EngineInput) {
    this.prompt = input.promptIds.slice();
    this.basePromptTokens = input.promptIds.length;
    const m = input.budget.maxThinkingTokens ?? Infinity;
    this.completionLimit = input.maxCompletionTokens ?? Infinity;
    this.thinkingLimit = Math.min(m, this.completionLimit);
  }

  /** Appends ids thinkgate inserted that are neither thinking nor answer (delimiters); `text` is their text. */
  insertDelimiter(ids: readonly number[], text: string): void {
    for (const id of ids) this.prompt.push(id);
    this.overhead += ids.length;
    if (this.input.transcript === true && ids.length > 0) this.delimiters.push({ type: 'delimiter', text, tokens: ids.length });
  }

  /** The delimiter events inserted since the last call (none unless EngineInput.transcript). */
  takeDelimiters(): EngineEvent[] {
    if (this.delimiters.length === 0) return NONE;
    const d = this.delimiters;
    this.delimiters = [];
    return d;
  }

  get belowMin(): boolean {
    return this.span < this.input.budget.minThinkingTokens;
  }

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
      this.belowMin &&
      this.extensions < b.maxExtensions &&
      b.extensionIds.length > 0 &&
      this.span + b.extensionIds.length <= this.thinkingLimit
    );
  }

  /** Segments the ceiling still allows (Infinity without one). */
  segmentsLeft(): number {
    return (this.input.maxSegments ?? Infinity) - this.segments;
  }

  /** Room the model has before the context is full. */
  contextRoom(): number {
    const max = this.input.maxModelLen;
    if (max !== undefined) return max - this.prompt.length;
    return this.input.fallbackMaxTokens ?? 32768;
  }

  answerRoom(): number {
    return this.completionLimit - this.span - this.answer;
  }

  summary(): BudgetForcingSummary {
    const s: BudgetForcingSummary = {
      thinking_tokens: this.span,
      extensions: this.extensions,
      truncated: this.truncated,
      segments: this.segments,
    };
    const clamped = this.input.budget.extensionsClampedTo;
    if (clamped !== undefined) s.extensions_clamped_to = clamped;
    if (this.segmentLimitReached) s.segment_limit_reached = true;
    return s;
  }

  usage(): Usage {
    const completion = this.span + this.answer + this.overhead;
    const u: Usage = {
      prompt_tokens: this.basePromptTokens,
      completion_tokens: completion,
      total_tokens: this.basePromptTokens + completion,
      reasoning_tokens: this.span,
      answer_tokens: this.answer,
    };
    if (this.cachedTokens !== undefined) u.cached_tokens = this.cachedTokens;
    return u;
  }
}
