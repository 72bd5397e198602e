/**
 * What goes into and comes out of the budget-forcing engine. Plain data only.
 * Semantics: docs/budget-forcing.md.
 */
import type { ResolvedProfile } from '../profiles/profile.js';

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
}

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
}

/** Why a segment (one upstream /v1/completions call) was started. */
export type SegmentCause = 'initial' | 'extend' | 'close' | 'continue';

export interface BudgetForcingSummary {
  thinking_tokens: number;
  extensions: number;
  truncated: boolean;
  segments: number;
  /** The E that applied when the request asked for more than the operator's ceiling. */
  extensions_clamped_to?: number;
  /** True when the segment ceiling refused an extension or ended the run. */
  segment_limit_reached?: boolean;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  reasoning_tokens: number;
  answer_tokens: number;
  /** vLLM's cached prompt tokens for the original prompt (first segment), when reported. */
  cached_tokens?: number;
}

export type EngineFinishReason = 'stop' | 'length';

export type EngineEvent =
  | { type: 'segment'; index: number; cause: SegmentCause; promptTokens: number }
  | { type: 'reasoning'; text: string; tokens: number }
  | { type: 'content'; text: string; tokens: number }
  /** Ids thinkgate inserted (with `transcript` only): neither thinking nor answer. */
  | { type: 'delimiter'; text: string; tokens: number }
  | { type: 'usage'; segment: number; promptTokens: number; completionTokens: number; cachedTokens?: number }
  | { type: 'finish'; reason: EngineFinishReason; usage: Usage; budgetForcing: BudgetForcingSummary };

/** An engine event of run (choice) `index`: what runs/merge-choices.ts yields for n runs. */
export interface IndexedEvent {
  index: number;
  ev: EngineEvent;
}
