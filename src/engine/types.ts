/**
 * What goes into and comes out of the budget-forcing engine. Plain data only.
 * Semantics: docs/budget-forcing.md.
 */
import type { ResolvedProfile } from '../profiles/profile.js';
import type { TokenLogprob } from './backend.js';

export type { TokenLogprob, TopLogprob } from './backend.js';

export interface Budget {
  /** M: the thinking span never exceeds this. null = unbounded (only the totals bound it). */
  maxThinkingTokens: number | null;
  /** m: a close attempt below this is replaced by the extension phrase. 0 = no minimum. */
  minThinkingTokens: number;
  /** E: at most this many extensions per request. */
  maxExtensions: number;
  /** The extension phrase ("Wait") and its ids in the backend's tokenizer. */
  extensionText: string;
  extensionIds: number[];
  /** Set when the client's E was above the operator's ceiling and clamped to it (reported in the summary). */
  extensionsClampedTo?: number;
  /**
   * Set when M was lowered by the API key's policy (its cap, or what is left of its thinking
   * quota in degrade mode): the M that applied and why, reported in the summary.
   */
  maxThinkingClampedTo?: number;
  maxThinkingClampedBy?: ThinkingClampReason;
}

/** Why a key's policy lowered M (quota/governor.ts): its `max_thinking_tokens`, or what was left of its quota. */
export type ThinkingClampReason = 'key_cap' | 'thinking_quota';

export interface EngineInput {
  model: string;
  /** The chat prompt as rendered by the backend's own chat template. */
  promptIds: number[];
  /** The model's context length when known; bounds prompt + generation. */
  maxModelLen?: number;
  profile: ResolvedProfile;
  budget: Budget;
  /** max_completion_tokens / max_tokens: bounds thinking span + answer. null = context bound. */
  maxCompletionTokens: number | null;
  /** Client stop strings: the answer only (docs/budget-forcing.md). */
  stop: string[];
  /** Sampling fields and vLLM extras passed to every segment. */
  sampling: Record<string, unknown>;
  /**
   * Fields for ANSWER segments only (thinking segments end at the delimiter and carry none),
   * e.g. a tool choice's `structured_outputs` grammar (docs/api.md "Tool calls"), so a grammar
   * never constrains the thinking.
   */
  answerSampling?: Readonly<Record<string, unknown>>;
  /**
   * Fields for THINKING segments only (answer segments carry none), e.g. the `logit_bias` that
   * bans reflection words (`suppress_reflection`, runs/reflection.ts), so the answer is untouched.
   */
  thinkingSampling?: Readonly<Record<string, unknown>>;
  /** How many token ids `suppress_reflection` banned (reported in the summary). */
  reflectionIdsBanned?: number;
  /** Answer-convergence early exit (`thinking_early_exit`, docs/budget-forcing.md "Early exit"). */
  earlyExit?: EarlyExit;
  /**
   * Operator ceiling on this run's segments (upstream calls). An extension is taken only while
   * two segments remain (its own and one to answer in); at the ceiling the run ends with
   * `length`. Undefined = no ceiling.
   */
  maxSegments?: number;
  /** The gateway's request id; segment n's upstream call gets `${requestId}-${n}`. */
  requestId?: string;
  /**
   * Emit `delimiter` events for the ids thinkgate inserts (opening, end, forced close), so a
   * caller can rebuild the whole generated transcript: /v1/completions returns thinking,
   * delimiters and answer as one `text`, as the s1 harness expects. Off for chat, whose
   * reasoning_content and content leave the delimiters out.
   */
  transcript?: boolean;
  /**
   * The prompt ends inside the assistant's own turn (chat `continue_final_message`): the run
   * starts where that prefill ends, before, inside or after thinking (engine/prefill.ts), and
   * only new thinking counts toward the budget.
   */
  prefill?: boolean;
  /**
   * Chat's `top_logprobs` when the client asked for `logprobs`: every segment asks the backend
   * for per-token logprobs, and each generated id the run keeps carries its entry on the event
   * that reports it (docs/api.md, "Logprobs"). Absent = none.
   */
  logprobs?: number;
  /**
   * Ids one delta may merge from one upstream read (CompletionRequest.coalesceTokens; the
   * operator's `response.max_tokens_per_chunk`). Passed on every segment of a run without stop
   * strings; absent = a delta per upstream event.
   */
  coalesceTokens?: number;
}

/**
 * Answer-convergence early exit (Dynasor-CoT, arXiv 2412.20993): every `intervalTokens` of
 * thinking (never below m), a probe asks the model for its answer so far; when `agreements`
 * probes in a row give the same answer, thinking is closed (segment cause `converged`).
 */
export interface EarlyExit {
  intervalTokens: number;
  agreements: number;
  /** The probe's suffix after the thinking so far: the profile's forced close + answer prefix ids. */
  probeIds: number[];
  /** max_tokens of a probe. */
  probeMaxTokens: number;
  /** The probe's text -> its canonical answer (a grader's extract; null: none). */
  extract(text: string): string | null;
  /**
   * With it, probes ask for their tokens' logprobs, and agreement also needs the last probe's
   * mean token logprob at or above this (a logprob: <= 0).
   */
  minConfidence?: number;
}

/**
 * Why a segment (one upstream /v1/completions call) was started: the first; after an extension
 * phrase; after a forced close; the model's own text going on; the answer, after the model closed
 * thinking itself, when it has fields of its own (EngineInput.answerSampling); after early exit's
 * probes agreed and thinkgate appended the forced close.
 */
export type SegmentCause = 'initial' | 'extend' | 'close' | 'continue' | 'answer' | 'converged';

export interface BudgetForcingSummary {
  thinking_tokens: number;
  extensions: number;
  truncated: boolean;
  segments: number;
  /** The E that applied when the request asked for more than the operator's ceiling. */
  extensions_clamped_to?: number;
  /** The M that applied when the API key's policy lowered it, and why (docs/api.md, "Named keys"). */
  max_thinking_tokens_clamped_to?: number;
  max_thinking_tokens_clamped_by?: ThinkingClampReason;
  /** True when the segment ceiling refused an extension or ended the run. */
  segment_limit_reached?: boolean;
  /** With `suppress_reflection`: the reflection token ids banned on thinking segments. */
  reflection_ids_banned?: number;
  /** With `aggregate: majority` (runs/majority-vote.ts): how the n samples voted. */
  vote?: VoteSummary;
  /** With `thinking_early_exit`: the probes run, their generated tokens (not in usage), and the span at exit (null: none). */
  early_exit?: { probes: number; probe_tokens: number; exited_at: number | null; answers: (string | null)[]; mean_logprobs?: (number | null)[] };
  /**
   * Only with an assistant prefill: where it left the model, and its own thinking ids, which
   * are the client's and not in `thinking_tokens` (docs/budget-forcing.md, "Prefills").
   */
  prefill?: { phase: 'before_thinking' | 'thinking' | 'answer'; thinking_tokens: number };
}

/** A majority vote over n samples (runs/majority-vote.ts): plain data for the summary. */
export interface VoteSummary {
  /** The grader that extracted each sample's answer (sweep/graders.ts). */
  grader: string;
  /** Each sample's canonical answer (null: none found), in sample order. */
  answers: (string | null)[];
  /** Votes per answer. */
  counts: Record<string, number>;
  /** The winner's votes over the number of samples. */
  agreement: number;
  /** Which sample is returned (0-based, in sample order). */
  winner: number;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  reasoning_tokens: number;
  answer_tokens: number;
  /** vLLM's cached prompt tokens for the original prompt (first segment), when reported. */
  cached_tokens?: number;
  /** Early exit's probes: tokens they generated (side calls, in no other count). With `thinking_early_exit` only. */
  probe_tokens?: number;
}

export type EngineFinishReason = 'stop' | 'length';

export type EngineEvent =
  | { type: 'segment'; index: number; cause: SegmentCause; promptTokens: number }
  /** `logprobs`: the entries of generated ids kept since the last event (with EngineInput.logprobs). */
  | { type: 'reasoning'; text: string; tokens: number; logprobs?: TokenLogprob[] }
  | { type: 'content'; text: string; tokens: number; logprobs?: TokenLogprob[] }
  /**
   * Entries of kept generated ids that no text event carried: the model's own end delimiter and
   * end of turn (generated, so vLLM's chat reports them too), or ids whose text lags them.
   */
  | { type: 'logprobs'; logprobs: TokenLogprob[] }
  /** Ids thinkgate inserted (with `transcript` only): neither thinking nor answer. */
  | { type: 'delimiter'; text: string; tokens: number }
  | { type: 'usage'; segment: number; promptTokens: number; completionTokens: number; cachedTokens?: number }
  /** `stopSequence`: the client stop string that ended the answer, when one did (vLLM's `stop_reason`). */
  | { type: 'finish'; reason: EngineFinishReason; usage: Usage; budgetForcing: BudgetForcingSummary; stopSequence?: string };

/** An engine event of run (choice) `index`: what runs/merge-choices.ts yields for n runs. */
export interface IndexedEvent {
  index: number;
  ev: EngineEvent;
}
