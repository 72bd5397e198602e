/**
 * zod schemas for what vLLM's OpenAI server sends back. Loose: vLLM adds fields between
 * releases (system_fingerprint, metrics, kv_transfer_params, ...); we check only what we read.
 *
 * Sources (vllm-project/vllm):
 * - vllm/entrypoints/openai/protocol.py (<= 0.11), later split into
 *   entrypoints/openai/completion/protocol.py and entrypoints/serve/engine/protocol.py:
 *   CompletionStreamResponse, CompletionResponseStreamChoice, UsageInfo,
 *   PromptTokenUsageInfo, ModelCard / ModelList, ErrorResponse / ErrorInfo.
 * - entrypoints/openai/serving_tokenization.py: TokenizeResponse `{count, max_model_len, tokens}`.
 */
import { z } from 'zod';

const tokenId = z.number().int().nonnegative();

/** UsageInfo. `completion_tokens` is `int | None` in vLLM; `prompt_tokens_details` needs --enable-prompt-tokens-details. */
export const VllmUsageSchema = z
  .object({
    prompt_tokens: z.number().int().nonnegative(),
    completion_tokens: z.number().int().nonnegative().nullish(),
    total_tokens: z.number().int().nonnegative().optional(),
    prompt_tokens_details: z
      .object({ cached_tokens: z.number().int().nonnegative().nullish() })
      .loose()
      .nullish(),
  })
  .loose();
export type VllmUsage = z.infer<typeof VllmUsageSchema>;

/**
 * CompletionResponseStreamChoice. `token_ids` is only present with `return_token_ids: true`
 * (vLLM >= 0.10.2); it is optional here so that the client can tell "old vLLM" apart from
 * "malformed chunk" and say so. `prompt_token_ids` rides on the first chunk only.
 */
export const VllmStreamChoiceSchema = z
  .object({
    index: z.number().int().nonnegative(),
    text: z.string(),
    finish_reason: z.string().nullish(),
    // vLLM: "the stop string or token id that caused the completion to stop, None if ... EOS".
    stop_reason: z.union([z.number().int(), z.string()]).nullish(),
    token_ids: z.array(tokenId).nullish(),
    prompt_token_ids: z.array(tokenId).nullish(),
    logprobs: z.unknown().optional(),
  })
  .loose();
export type VllmStreamChoice = z.infer<typeof VllmStreamChoiceSchema>;

/**
 * CompletionStreamResponse. The trailing usage chunk has `choices: []` and `usage`; with
 * `continuous_usage_stats` (thinkgate does not ask for it) every delta chunk carries a running `usage` too.
 */
export const VllmCompletionChunkSchema = z
  .object({
    id: z.string().optional(),
    object: z.string().optional(),
    created: z.number().optional(),
    model: z.string().optional(),
    choices: z.array(VllmStreamChoiceSchema),
    usage: VllmUsageSchema.nullish(),
  })
  .loose();
export type VllmCompletionChunk = z.infer<typeof VllmCompletionChunkSchema>;

/** ErrorInfo. `code` is the HTTP status as an int in vLLM; strings are accepted for proxies. */
const VllmErrorInfoSchema = z
  .object({
    message: z.string(),
    type: z.string().nullish(),
    param: z.string().nullish(),
    code: z.union([z.number(), z.string()]).nullish(),
  })
  .loose();
export type VllmErrorInfo = z.infer<typeof VllmErrorInfoSchema>;

/**
 * ErrorResponse in both shapes: `{error: {message, type, param, code}}` (vLLM >= 0.10.x, and
 * mid-stream `data: {"error": ...}` events in every version) and the older flat
 * `{object: "error", message, type, param, code}`.
 */
export const VllmErrorBodySchema = z.union([
  z.object({ error: VllmErrorInfoSchema }).loose(),
  VllmErrorInfoSchema.extend({ object: z.literal('error') }),
]);
export type VllmErrorBody = z.infer<typeof VllmErrorBodySchema>;

/** The ErrorInfo inside either shape. */
export function errorInfoOf(body: VllmErrorBody): VllmErrorInfo {
  return 'error' in body && typeof body.error === 'object' && body.error !== null
    ? (body.error as VllmErrorInfo)
    : (body as VllmErrorInfo);
}

/** TokenizeResponse (POST /tokenize, chat or completion form). */
export const VllmTokenizeResponseSchema = z
  .object({
    count: z.number().int().nonnegative().optional(),
    max_model_len: z.number().int().positive().nullish(),
    tokens: z.array(tokenId),
  })
  .loose();
export type VllmTokenizeResponse = z.infer<typeof VllmTokenizeResponseSchema>;

/** ModelCard. `root` is the HF path for base models and the base model id for LoRA adapters. */
export const VllmModelCardSchema = z
  .object({
    id: z.string(),
    object: z.string().optional(),
    created: z.number().int().nullish(),
    owned_by: z.string().nullish(),
    root: z.string().nullish(),
    parent: z.string().nullish(),
    max_model_len: z.number().int().positive().nullish(),
  })
  .loose();
export type VllmModelCard = z.infer<typeof VllmModelCardSchema>;

export const VllmModelListSchema = z
  .object({ object: z.string().optional(), data: z.array(VllmModelCardSchema) })
  .loose();
export type VllmModelList = z.infer<typeof VllmModelListSchema>;

/**
 * The request body of POST /v1/completions as thinkgate sends it (CompletionRequest in
 * vLLM's protocol). A type, not a schema: we build it, vLLM validates it.
 */
export interface VllmCompletionRequestBody {
  [k: string]: unknown;
  model: string;
  prompt: number[];
  max_tokens: number;
  stream: true;
  stream_options: { include_usage: true };
  return_token_ids: true;
  skip_special_tokens: false;
  n: 1;
  echo: false;
  stop_token_ids?: number[];
  stop?: string[];
  /** Per-token logprobs with this many alternatives (chat's top_logprobs). */
  logprobs?: number;
}
