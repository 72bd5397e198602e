/**
 * SIMULATOR of vLLM 0.32's scale-out render routes (served with --enable-scale-out):
 * POST /v1/chat/completions/render and POST /v1/completions/render
 * (vllm/entrypoints/scale_out/render/serving.py, ServingRender). They validate and render a chat
 * or completions request without generating: the answer is the GenerateRequest
 * (token_in_token_out/protocol.py) that POST /inference/v1/generate then takes: the prompt's
 * ids with every image placeholder expanded, the media's features (multimodal.ts), and vLLM's
 * SamplingParams for the request (sampling-params.ts). Chat answers one object, completions a
 * list with one per prompt.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { InvalidRequestError } from '../errors.js';
import { chatSchema, renderChatBody } from './chat-route.js';
import { completionSchema, promptsOf } from './completions-route.js';
import type { SimContext } from './context.js';
import type { GenBody } from './gen-body.js';
import { paramsFromRequest } from './generation.js';
import { parseBody } from './http-io.js';
import { MAX_LOGPROBS } from './logprobs.js';
import type { MmFeatures } from './multimodal.js';
import { toSamplingParams, type SamplingRequest, type SimSamplingParams } from './sampling-params.js';
import { simStructuredText } from './structured.js';

const num = z.number().nullable().optional();

/** The sampling and scheduling fields both requests add to what the generation routes read. */
const renderFields = {
  top_p: num,
  top_k: z.number().int().nullable().optional(),
  min_p: num,
  presence_penalty: num,
  frequency_penalty: num,
  repetition_penalty: num,
  spaces_between_special_tokens: z.boolean().nullable().optional(),
  allowed_token_ids: z.array(z.number().int()).nullable().optional(),
  bad_words: z.array(z.string()).nullable().optional(),
  structured_outputs: z.record(z.string(), z.unknown()).nullable().optional(),
  vllm_xargs: z.record(z.string(), z.unknown()).nullable().optional(),
  // vLLM's validate_cache_salt: a non-empty string when given.
  cache_salt: z.string().min(1).max(1024).nullable().optional(),
  priority: z.number().int().nullable().optional(),
  use_beam_search: z.boolean().nullable().optional(),
};

const chatRenderSchema = chatSchema.extend({
  ...renderFields,
  logprobs: z.boolean().nullable().optional(),
  top_logprobs: z.number().int().min(0).nullable().optional(),
});

const completionsRenderSchema = completionSchema.extend(renderFields);

type RenderCommon = GenBody & SamplingRequest & { cache_salt?: string | null; priority?: number | null };

/** GenerateRequest (token_in_token_out/protocol.py) as the render routes serialize it. */
export interface SimGenerateRequest {
  request_id: string;
  token_ids: number[];
  features: MmFeatures | null;
  sampling_params: SimSamplingParams;
  model: string | null;
  stream: boolean;
  stream_options: unknown;
  cache_salt: string | null;
  priority: number;
  output_mode: 'tokens';
}

/** One GenerateRequest: vLLM's request checks (context length, min_tokens, n, the constraint) run first. */
function generateRequest(
  ctx: SimContext,
  prefix: 'chatcmpl' | 'cmpl',
  body: RenderCommon,
  ids: number[],
  features: MmFeatures | null,
  defaultMax: number | null,
  logprobs: number | null,
): SimGenerateRequest {
  if (body.use_beam_search === true) throw new InvalidRequestError('Beam search is not supported by the render endpoint');
  // Rendering is not generating: n > 1 is written down (the simulator's generate refuses it).
  const params = paramsFromRequest({ ...body, n: 1 }, ids.length, defaultMax, ctx.opts.maxModelLen);
  simStructuredText({ response_format: body.response_format, structured_outputs: body.structured_outputs });
  const stream = body.stream === true;
  return {
    // vLLM's random_uuid(): uuid4 hex.
    request_id: `${prefix}-${randomUUID().replaceAll('-', '')}`,
    token_ids: ids,
    features,
    sampling_params: toSamplingParams(body, params.maxTokens, logprobs),
    model: body.model ?? null,
    stream,
    stream_options: stream ? (body.stream_options ?? null) : null,
    cache_salt: body.cache_salt ?? null,
    priority: body.priority ?? 0,
    output_mode: 'tokens',
  };
}

/** POST /v1/chat/completions/render: the chat rendered as /v1/chat/completions would, not run. */
export function chatRenderBody(ctx: SimContext, raw: unknown): SimGenerateRequest {
  const body = parseBody(chatRenderSchema, raw);
  const spec = ctx.resolveModel(body.model);
  if (body.top_logprobs != null && body.top_logprobs > MAX_LOGPROBS) {
    throw new InvalidRequestError(`Requested top logprobs of ${body.top_logprobs}, which is greater than max allowed: ${MAX_LOGPROBS}`, {
      param: 'top_logprobs',
    });
  }
  const prompt = renderChatBody(ctx, spec, body);
  // ChatCompletionRequest.to_sampling_params: logprobs = top_logprobs when logprobs is on.
  const logprobs = body.logprobs === true ? (body.top_logprobs ?? 0) : null;
  return generateRequest(ctx, 'chatcmpl', body, prompt.ids, prompt.features, null, logprobs);
}

/** POST /v1/completions/render: one GenerateRequest per prompt (no media: features null). */
export function completionsRenderBody(ctx: SimContext, raw: unknown): SimGenerateRequest[] {
  const body = parseBody(completionsRenderSchema, raw);
  ctx.resolveModel(body.model);
  if (body.logprobs != null && body.logprobs > MAX_LOGPROBS) {
    throw new InvalidRequestError(`Requested sample logprobs of ${body.logprobs}, which is greater than max allowed: ${MAX_LOGPROBS}`, {
      param: 'logprobs',
    });
  }
  return promptsOf(body.prompt, ctx).map((ids) => {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= ctx.tok.vocabSize) {
        throw new InvalidRequestError(`Token id ${id} is out of vocabulary`, { param: 'prompt' });
      }
    }
    // CompletionRequest.max_tokens defaults to 16, as on /v1/completions.
    return generateRequest(ctx, 'cmpl', body, ids, null, 16, body.logprobs ?? null);
  });
}
