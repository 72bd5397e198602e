/**
 * What /v1/responses answers, in the Responses API's shapes (openai SDK's `Response`; vLLM's
 * responses/protocol.py ResponsesResponse.from_request and utils.py build_response_output_items
 * build the same): shared by the non-stream builder and the stream renderer so both say the same.
 */
import type { BudgetForcingSummary, EngineFinishReason, Usage } from '../engine/types.js';
import type { ToolPlan } from '../tools/tool-plan.js';
import type { ResponsesRequest } from './responses-request.js';

export interface ReasoningItem {
  type: 'reasoning';
  id: string;
  /** No summarizer runs (as on vLLM): the thinking itself is in `content`. */
  summary: [];
  content: { type: 'reasoning_text'; text: string }[];
  status: 'in_progress' | 'completed';
}

export interface OutputText {
  type: 'output_text';
  text: string;
  annotations: [];
  logprobs: [];
}

export interface MessageItem {
  type: 'message';
  id: string;
  role: 'assistant';
  status: 'in_progress' | 'completed';
  content: OutputText[];
}

export interface FunctionCallItem {
  type: 'function_call';
  id: string;
  /** The call's id (vLLM's `chatcmpl-tool-<hex>`): the client's function_call_output names it. */
  call_id: string;
  name: string;
  arguments: string;
  status: 'in_progress' | 'completed';
}

export type OutputItem = ReasoningItem | MessageItem | FunctionCallItem;

export interface ResponsesUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number; cache_write_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export type ResponseStatus = 'in_progress' | 'completed' | 'incomplete';

/** What the route knows before generation: ids, the request's echo, the tool plan. */
export interface ResponseMeta {
  id: string;
  createdAt: number;
  model: string;
  /** The request fields the response object repeats (ResponsesResponse.from_request). */
  echo: Record<string, unknown>;
  /** vLLM's `include_reasoning` (default true): false sends no reasoning item. */
  includeReasoning: boolean;
  /** The request's tool semantics (src/tools/tool-plan.ts, from the chat request). */
  tools: ToolPlan;
  /** A fresh output item id: `rs`, `msg`, `fc` prefixes as OpenAI's. */
  newItemId: (kind: 'rs' | 'msg' | 'fc') => string;
  /** A fresh tool-call id (`chatcmpl-tool-<hex>`, as vLLM's call_id). */
  newToolCallId: () => string;
}

/**
 * The request's fields as the response object repeats them (vLLM's from_request; OpenAI's
 * defaults where the client sent nothing). `temperature` and `top_p` are the request's: thinkgate
 * does not know the model's generation-config defaults (null: they applied).
 */
export function echoOf(req: ResponsesRequest): Record<string, unknown> {
  const text = req.text ?? {};
  return {
    instructions: req.instructions ?? null,
    metadata: req.metadata ?? {},
    parallel_tool_calls: req.parallel_tool_calls ?? true,
    temperature: (req as { temperature?: number }).temperature ?? null,
    top_p: (req as { top_p?: number }).top_p ?? null,
    // protocol.py check_tool_usage: without tools, the choice is "none".
    tool_choice: req.tools === undefined || req.tools.length === 0 ? 'none' : (req.tool_choice ?? 'auto'),
    tools: req.tools ?? [],
    background: false,
    max_output_tokens: req.max_output_tokens ?? null,
    max_tool_calls: req.max_tool_calls ?? null,
    previous_response_id: null,
    prompt: null,
    reasoning: req.reasoning ?? null,
    service_tier: req.service_tier ?? 'auto',
    text: { format: text.format ?? { type: 'text' }, verbosity: text.verbosity ?? 'medium' },
    top_logprobs: req.top_logprobs ?? 0,
    truncation: req.truncation ?? 'disabled',
    user: req.user ?? null,
    presence_penalty: (req as { presence_penalty?: number }).presence_penalty ?? null,
    frequency_penalty: (req as { frequency_penalty?: number }).frequency_penalty ?? null,
  };
}

export interface ResponseEnd {
  status: ResponseStatus;
  output: OutputItem[];
  usage: ResponsesUsage | null;
  budgetForcing?: BudgetForcingSummary;
}

/** The `response` object, in the field order of OpenAI's. */
export function responseObject(meta: ResponseMeta, end: ResponseEnd): Record<string, unknown> {
  return {
    id: meta.id,
    object: 'response',
    created_at: meta.createdAt,
    status: end.status,
    error: null,
    // vLLM: `length` is the only incomplete reason it reports (max_output_tokens).
    incomplete_details: end.status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
    model: meta.model,
    output: end.output,
    ...meta.echo,
    usage: end.usage,
    ...(end.budgetForcing === undefined ? {} : { budget_forcing: end.budgetForcing }),
  };
}

/** The engine's finish -> the response status (vLLM: `length` is incomplete, anything else completed). */
export function statusOf(reason: EngineFinishReason): ResponseStatus {
  return reason === 'length' ? 'incomplete' : 'completed';
}

/**
 * Engine usage -> the Responses `usage` (vLLM's ResponseUsage): output tokens are thinking +
 * answer, as chat's completion_tokens; cached tokens are vLLM's figure, 0 when it reports none
 * (vLLM's Responses says 0 then too); thinkgate writes no cache entries of its own.
 */
export function responsesUsage(u: Usage): ResponsesUsage {
  return {
    input_tokens: u.prompt_tokens,
    input_tokens_details: { cached_tokens: u.cached_tokens ?? 0, cache_write_tokens: 0 },
    output_tokens: u.completion_tokens,
    output_tokens_details: { reasoning_tokens: u.reasoning_tokens },
    total_tokens: u.total_tokens,
  };
}

export function reasoningItem(id: string, text: string, status: ReasoningItem['status']): ReasoningItem {
  return { type: 'reasoning', id, summary: [], content: [{ type: 'reasoning_text', text }], status };
}

export function outputText(text: string): OutputText {
  return { type: 'output_text', text, annotations: [], logprobs: [] };
}
