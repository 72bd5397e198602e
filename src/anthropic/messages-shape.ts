/**
 * What /v1/messages answers, in Anthropic's shapes (its API reference; vLLM's
 * entrypoints/anthropic/protocol.py and serving.py build the same from a chat completion):
 * shared by the non-stream builder and the stream renderer so both say the same.
 */
import { randomBytes } from 'node:crypto';
import type { BudgetForcingSummary, EngineFinishReason, Usage } from '../engine/types.js';
import type { ToolPlan } from '../tools/tool-plan.js';

export type StopReason = 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use';

export interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  /** Prompt tokens vLLM served from its prefix cache, when it reports them. */
  cache_read_input_tokens?: number;
}

export type ContentBlock =
  | { type: 'thinking'; thinking: string; signature: string }
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> };

export interface AnthropicMessage {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: ContentBlock[];
  stop_reason: StopReason | null;
  stop_sequence: string | null;
  usage: AnthropicUsage;
  /** thinkgate's own, as on chat (docs/api.md). */
  budget_forcing?: BudgetForcingSummary;
}

export interface MessageMeta {
  id: string;
  model: string;
  /** The request's tool semantics (src/tools/tool-plan.ts, from the chat request); absent = no tools. */
  tools?: ToolPlan;
  /** A fresh tool-call id (as vLLM, the chat id `chatcmpl-tool-<hex>` passes through). */
  newToolCallId?: () => string;
}

/**
 * The engine's finish -> `stop_reason` and `stop_sequence`, as vLLM maps a chat finish
 * (`_to_anthropic_stop_reason`): `length` is max_tokens, whatever else happened; complete tool
 * calls are tool_use; a matched stop string is stop_sequence.
 */
export function stopReasonOf(
  reason: EngineFinishReason,
  stopSequence: string | undefined,
  toolUsed = false,
): { stop_reason: StopReason; stop_sequence: string | null } {
  if (reason === 'length') return { stop_reason: 'max_tokens', stop_sequence: null };
  if (toolUsed) return { stop_reason: 'tool_use', stop_sequence: null };
  if (stopSequence !== undefined) return { stop_reason: 'stop_sequence', stop_sequence: stopSequence };
  return { stop_reason: 'end_turn', stop_sequence: null };
}

/** A call's JSON arguments -> a tool_use block's `input` (an object; the parsers hand over JSON). */
export function toolInput(args: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(args);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : { value: v };
  } catch {
    // Cannot happen for calls the parsers accept (they check the JSON); keep the text rather than lose it.
    return { raw: args };
  }
}

/**
 * Anthropic counts input as uncached + cache reads (vLLM's `_build_anthropic_usage`):
 * input_tokens = prompt tokens - cached ones, which go to cache_read_input_tokens.
 */
export function anthropicUsage(u: Pick<Usage, 'prompt_tokens' | 'completion_tokens' | 'cached_tokens'>): AnthropicUsage {
  if (u.cached_tokens === undefined) return { input_tokens: u.prompt_tokens, output_tokens: u.completion_tokens };
  return {
    input_tokens: Math.max(0, u.prompt_tokens - u.cached_tokens),
    output_tokens: u.completion_tokens,
    cache_read_input_tokens: u.cached_tokens,
  };
}

/**
 * The `signature` of a thinking block. Anthropic signs thinking so that it can verify a block sent
 * back unaltered; vLLM answers a random hex string and verifies nothing, and so does thinkgate:
 * clients (the Anthropic SDK, agent loops) need the field to round-trip a block, and a block
 * sent back is rendered through the chat template whatever its signature says.
 */
export function thinkingSignature(): string {
  return randomBytes(16).toString('hex');
}
