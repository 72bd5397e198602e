/**
 * SIMULATOR: vLLM's SamplingParams on the scale-out wire, both ways (pure functions).
 *
 * - toSamplingParams: what /v1/chat/completions/render and /v1/completions/render put in a
 *   GenerateRequest's `sampling_params` (ChatCompletionRequest / CompletionRequest
 *   `.to_sampling_params`, vllm/entrypoints/openai/*, serialized: vllm/sampling_params.py),
 *   with vLLM's defaults for what the request leaves out (temperature 1.0, top_p 1.0, top_k 0,
 *   min_p 0, repetition_penalty 1.0: `_DEFAULT_SAMPLING_PARAMS`). `response_format` becomes
 *   `structured_outputs` (json_schema -> `{json}`, json_object -> `{json_object: true}`);
 *   only the constraint's own key is written, not StructuredOutputsParams' other fields.
 * - fromSamplingParams: a generate request's `sampling_params` -> the fields the simulator's
 *   completions generator reads (gen-body.ts), so /inference/v1/generate generates exactly what
 *   /v1/completions would. An absent max_tokens stays absent: the route defaults it to the
 *   context left, as vLLM's serve_tokens does.
 */
import { z } from 'zod';
import type { GenBody } from './gen-body.js';

/** The request fields the mapping reads (both APIs; `logprobs` is resolved by the caller). */
export interface SamplingRequest {
  n?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  min_p?: number | null;
  seed?: number | null;
  stop?: string | string[] | null;
  stop_token_ids?: number[] | null;
  min_tokens?: number | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  repetition_penalty?: number | null;
  ignore_eos?: boolean | null;
  skip_special_tokens?: boolean | null;
  spaces_between_special_tokens?: boolean | null;
  include_stop_str_in_output?: boolean | null;
  logit_bias?: Record<string, number> | null;
  allowed_token_ids?: number[] | null;
  bad_words?: string[] | null;
  response_format?: unknown;
  structured_outputs?: Record<string, unknown> | null;
  vllm_xargs?: Record<string, unknown> | null;
}

/** vLLM's SamplingParams as serialized (the fields the simulator writes). */
export interface SimSamplingParams {
  n: number;
  temperature: number;
  top_p: number;
  top_k: number;
  min_p: number;
  seed: number | null;
  stop: string[];
  stop_token_ids: number[];
  max_tokens: number;
  min_tokens: number;
  logprobs: number | null;
  presence_penalty: number;
  frequency_penalty: number;
  repetition_penalty: number;
  ignore_eos: boolean;
  skip_special_tokens: boolean;
  spaces_between_special_tokens: boolean;
  include_stop_str_in_output: boolean;
  logit_bias: Record<string, number> | null;
  allowed_token_ids: number[] | null;
  bad_words: string[];
  structured_outputs: Record<string, unknown> | null;
  detokenize: boolean;
  extra_args: Record<string, unknown> | null;
}

/** `response_format` -> StructuredOutputsParams fields (entrypoints/generate/base/protocol.py). */
export function structuredFromResponseFormat(rf: unknown): Record<string, unknown> | null {
  if (typeof rf !== 'object' || rf === null) return null;
  const f = rf as Record<string, unknown>;
  if (f.type === 'json_object') return { json_object: true };
  if (f.type === 'json_schema') {
    const js = f.json_schema;
    return { json: typeof js === 'object' && js !== null ? ((js as Record<string, unknown>).schema ?? null) : null };
  }
  if (f.type === 'structural_tag') return { structural_tag: JSON.stringify(f) };
  return null;
}

/** A request's sampling fields -> vLLM's SamplingParams (`maxTokens` as get_max_tokens resolved it). */
export function toSamplingParams(req: SamplingRequest, maxTokens: number, logprobs: number | null): SimSamplingParams {
  return {
    n: req.n ?? 1,
    temperature: req.temperature ?? 1.0,
    top_p: req.top_p ?? 1.0,
    top_k: req.top_k ?? 0,
    min_p: req.min_p ?? 0.0,
    seed: req.seed ?? null,
    stop: req.stop == null ? [] : typeof req.stop === 'string' ? [req.stop] : [...req.stop],
    stop_token_ids: [...(req.stop_token_ids ?? [])],
    max_tokens: maxTokens,
    min_tokens: req.min_tokens ?? 0,
    logprobs,
    presence_penalty: req.presence_penalty ?? 0.0,
    frequency_penalty: req.frequency_penalty ?? 0.0,
    repetition_penalty: req.repetition_penalty ?? 1.0,
    ignore_eos: req.ignore_eos ?? false,
    skip_special_tokens: req.skip_special_tokens ?? true,
    spaces_between_special_tokens: req.spaces_between_special_tokens ?? true,
    include_stop_str_in_output: req.include_stop_str_in_output ?? false,
    logit_bias: req.logit_bias ?? null,
    allowed_token_ids: req.allowed_token_ids ?? null,
    bad_words: req.bad_words ?? [],
    structured_outputs: req.structured_outputs ?? structuredFromResponseFormat(req.response_format),
    detokenize: true,
    extra_args: req.vllm_xargs ?? null,
  };
}

const unit = z.number().min(0).max(1);
const penalty = z.number().min(-2).max(2);

/**
 * A generate request's `sampling_params`: every field optional, the ranges SamplingParams'
 * `_verify_args` enforces (a 400 otherwise); fields the simulator does not model pass through.
 */
export const samplingParamsSchema = z
  .object({
    n: z.number().int().min(1).optional(),
    temperature: z.number().min(0).optional(),
    top_p: z.number().gt(0).max(1).optional(),
    top_k: z.number().int().min(-1).optional(),
    min_p: unit.optional(),
    seed: z.number().int().nullable().optional(),
    stop: z.union([z.string(), z.array(z.string())]).nullable().optional(),
    stop_token_ids: z.array(z.number().int()).nullable().optional(),
    max_tokens: z.number().int().min(1).nullable().optional(),
    min_tokens: z.number().int().min(0).optional(),
    logprobs: z.number().int().min(-1).nullable().optional(),
    presence_penalty: penalty.optional(),
    frequency_penalty: penalty.optional(),
    repetition_penalty: z.number().gt(0).optional(),
    ignore_eos: z.boolean().optional(),
    skip_special_tokens: z.boolean().optional(),
    spaces_between_special_tokens: z.boolean().optional(),
    include_stop_str_in_output: z.boolean().optional(),
    logit_bias: z.record(z.string(), z.number()).nullable().optional(),
    allowed_token_ids: z.array(z.number().int()).nullable().optional(),
    bad_words: z.array(z.string()).nullable().optional(),
    structured_outputs: z.record(z.string(), z.unknown()).nullable().optional(),
    detokenize: z.boolean().optional(),
    extra_args: z.record(z.string(), z.unknown()).nullable().optional(),
  })
  .loose();

export type GenerateSampling = z.infer<typeof samplingParamsSchema>;

/** A generate request's SamplingParams -> the completions generator's fields (see the header). */
export function fromSamplingParams(sp: GenerateSampling): GenBody {
  const body: GenBody = {
    n: sp.n ?? 1,
    temperature: sp.temperature ?? null,
    seed: sp.seed ?? null,
    stop: sp.stop ?? null,
    stop_token_ids: sp.stop_token_ids ?? null,
    min_tokens: sp.min_tokens ?? null,
    ignore_eos: sp.ignore_eos ?? null,
    skip_special_tokens: sp.skip_special_tokens ?? null,
    include_stop_str_in_output: sp.include_stop_str_in_output ?? null,
    logit_bias: sp.logit_bias ?? null,
    structured_outputs: sp.structured_outputs ?? null,
  };
  if (sp.max_tokens != null) body.max_tokens = sp.max_tokens;
  return body;
}
