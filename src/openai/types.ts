/**
 * The OpenAI chat wire shapes thinkgate sends back: `chat.completion` (non-stream) and
 * `chat.completion.chunk` (stream), as openai-node 6 reads them, plus the two thinkgate
 * additions fixed by docs/api.md: `reasoning_content` / `reasoning` on the message
 * (vLLM's reasoning-parser fields) and the top-level `budget_forcing` summary.
 */
import type { ChatLogprobs } from './chat-logprobs.js';
import type { BudgetForcingSummary, EngineFinishReason } from '../engine/types.js';
import type { ToolCallDelta, ToolCallOut } from '../tools/types.js';

/** The names under which thinking text is sent; which ones is configurable (docs/api.md). */
export type ReasoningField = 'reasoning_content' | 'reasoning';

/** `tool_calls` when the answer was parsed into calls (docs/api.md "Tool calls"). */
export type ChatFinishReason = EngineFinishReason | 'tool_calls';

export interface ChatCompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  completion_tokens_details: { reasoning_tokens: number };
  /** Only when the backend reported cached prompt tokens (vLLM --enable-prompt-tokens-details). */
  prompt_tokens_details?: { cached_tokens: number };
  /** thinkgate: early exit's probe tokens, with `thinking_early_exit` only (not in completion_tokens). */
  probe_tokens?: number;
}

export interface ChatCompletionMessage {
  role: 'assistant';
  /**
   * The answer. Without tools never null (docs/api.md), `''` at worst; with tool calls, the
   * text outside them, null when blank (as vLLM).
   */
  content: string | null;
  /** Parsed tool calls (docs/api.md "Tool calls"); absent when none, as vLLM. */
  tool_calls?: ToolCallOut[];
  /** Thinking text; null when the model produced none (as vLLM's reasoning parser does). */
  reasoning_content?: string | null;
  reasoning?: string | null;
}

export interface ChatCompletionChoice {
  index: number;
  message: ChatCompletionMessage;
  /** With `logprobs: true`: one entry per generated id kept (openai/chat-logprobs.ts). */
  logprobs: ChatLogprobs | null;
  finish_reason: ChatFinishReason | null;
  /** With n > 1: this choice's own budget forcing (the top-level one sums the choices). */
  budget_forcing?: BudgetForcingSummary;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  system_fingerprint: null;
  choices: ChatCompletionChoice[];
  usage: ChatCompletionUsage;
  budget_forcing: BudgetForcingSummary;
}

export interface ChatCompletionChunkDelta {
  role?: 'assistant';
  content?: string;
  reasoning_content?: string;
  reasoning?: string;
  tool_calls?: ToolCallDelta[];
}

export interface ChatCompletionChunkChoice {
  index: number;
  delta: ChatCompletionChunkDelta;
  /** With `logprobs: true`: the entries of this chunk's ids. */
  logprobs: ChatLogprobs | null;
  finish_reason: ChatFinishReason | null;
  /** With n > 1, on each choice's finish chunk: that choice's own budget forcing. */
  budget_forcing?: BudgetForcingSummary;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  system_fingerprint: null;
  choices: ChatCompletionChunkChoice[];
  /**
   * With `stream_options.include_usage`: null on every chunk but the last, which has
   * `choices: []` and the totals (OpenAI API reference, "stream_options"). Absent otherwise.
   */
  usage?: ChatCompletionUsage | null;
  /** On the final usage chunk, or on the finish chunk when usage is not requested. */
  budget_forcing?: BudgetForcingSummary;
}

/**
 * `/v1/completions` (`text_completion`): `text` is the whole generated transcript (thinking,
 * the delimiters thinkgate or the model wrote, the answer) so that prompt + text is what the
 * model saw, as the s1 harness expects. Usage and budget_forcing as in chat.
 */
export interface TextCompletionChoice {
  index: number;
  text: string;
  logprobs: null;
  finish_reason: ChatFinishReason | null;
  /** With several choices (a prompt batch, or n > 1): this choice's own budget forcing. */
  budget_forcing?: BudgetForcingSummary;
}

export interface TextCompletion {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  system_fingerprint: null;
  choices: TextCompletionChoice[];
  usage: ChatCompletionUsage;
  budget_forcing: BudgetForcingSummary;
}

/** A streamed piece: `usage` (null until the last chunk) and `budget_forcing` as in chat chunks. */
export interface TextCompletionChunk extends Omit<TextCompletion, 'usage' | 'budget_forcing'> {
  usage?: ChatCompletionUsage | null;
  budget_forcing?: BudgetForcingSummary;
}
