/**
 * The `/v1/chat/completions` request body: a zod schema that validates every field thinkgate
 * or the OpenAI API knows, precisely, and KEEPS unknown keys (`.loose()`), because vLLM's
 * extras (top_k, min_p, repetition_penalty, ...) must reach the backend (spec 2).
 *
 * Ranges follow the OpenAI API reference and vLLM's ChatCompletionRequest
 * (vllm/entrypoints/openai/protocol.py). The thinkgate fields are spec section 2.
 */
import { z } from 'zod';
import { InvalidRequestError } from '../errors.js';
import { findTooDeep, MAX_JSON_DEPTH } from './json-depth.js';
import { formatParam, zodToInvalidRequest } from './request-error.js';

const int = () => z.number().int();
const nonNegativeInt = () => z.number().int().min(0);

/** Longest accepted `model` (fuzz-inputs.test.ts: a 1 MB id sent to /tokenize came back as a 502). */
export const MAX_MODEL_ID_LENGTH = 1024;
export const CHAT_ROLES = ['system', 'developer', 'user', 'assistant', 'tool', 'function'] as const;
export const REASONING_EFFORTS = ['none', 'minimal', 'low', 'medium', 'high'] as const;

/** A content part: text, image_url, input_audio, video_url, ... (vLLM accepts more than OpenAI). */
const contentPart = z
  .object({ type: z.string(), text: z.string().optional() })
  .loose()
  .refine((p) => p.type !== 'text' || typeof p.text === 'string', {
    message: "a part of type 'text' needs a string 'text'.",
    path: ['text'],
  });

const toolCall = z
  .object({
    id: z.string(),
    type: z.string().optional(),
    function: z.object({ name: z.string(), arguments: z.string() }).loose(),
  })
  .loose();

const message = z
  .object({
    role: z.enum(CHAT_ROLES),
    // Absent or null only makes sense for an assistant turn with tool_calls; the chat
    // template is the judge of that, as in vLLM.
    content: z
      .union([z.string(), z.array(contentPart), z.null()], {
        error: 'expected a string, an array of content parts, or null.',
      })
      .optional(),
    name: z.string().nullish(),
    tool_calls: z.array(toolCall).nullish(),
    tool_call_id: z.string().nullish(),
  })
  .loose();

const tool = z
  .object({
    type: z.string(),
    function: z.object({ name: z.string().min(1) }).loose().optional(),
  })
  .loose();

export const chatRequestSchema = z
  .object({
    // Bounded because the id travels in every upstream call (/tokenize, each segment) and comes
    // back in error messages; vLLM's served names are Hugging Face ids (< 100 chars) or paths.
    model: z.string().min(1).max(MAX_MODEL_ID_LENGTH),
    messages: z.array(message).min(1),
    stream: z.boolean().optional(),
    stream_options: z
      .object({ include_usage: z.boolean().nullish(), continuous_usage_stats: z.boolean().nullish() })
      .loose()
      .optional(),
    max_tokens: int().min(1).optional(),
    max_completion_tokens: int().min(1).optional(),
    temperature: z.number().min(0).max(2).optional(),
    top_p: z.number().gt(0).max(1).optional(),
    n: int().min(1).max(128).optional(),
    // OpenAI allows 4 stop strings; vLLM any number, so no upper bound here.
    stop: z
      .union([z.string().min(1), z.array(z.string().min(1))], {
        error: 'expected a non-empty string or an array of non-empty strings.',
      })
      .optional(),
    seed: int().optional(),
    presence_penalty: z.number().min(-2).max(2).optional(),
    frequency_penalty: z.number().min(-2).max(2).optional(),
    logit_bias: z.record(z.string(), z.number().min(-100).max(100)).optional(),
    user: z.string().optional(),
    logprobs: z.boolean().optional(),
    top_logprobs: int().min(0).max(20).optional(),
    reasoning_effort: z.enum(REASONING_EFFORTS).optional(),
    tools: z.array(tool).optional(),
    tool_choice: z
      .union([z.enum(['none', 'auto', 'required']), z.object({ type: z.string() }).loose()], {
        error: "expected 'none', 'auto', 'required' or an object naming a tool.",
      })
      .optional(),
    parallel_tool_calls: z.boolean().optional(),
    response_format: z.object({ type: z.string() }).loose().optional(),
    chat_template_kwargs: z.record(z.string(), z.unknown()).optional(),

    // thinkgate (spec 2): M and its aliases, m, E, the extension phrase.
    max_thinking_tokens: nonNegativeInt().optional(),
    thinking_token_budget: nonNegativeInt().optional(),
    thinking: z
      .object({ type: z.enum(['enabled', 'disabled']), budget_tokens: nonNegativeInt().nullish() })
      .loose()
      .optional(),
    min_thinking_tokens: nonNegativeInt().optional(),
    max_thinking_extensions: nonNegativeInt().optional(),
    thinking_extension: z.string().min(1).max(200).optional(),
  })
  .loose();

export type ChatRequest = z.output<typeof chatRequestSchema>;
export type ChatMessage = z.output<typeof message>;

/**
 * Validates a parsed JSON body. Throws InvalidRequestError (400) naming the first bad field;
 * a body nested deeper than MAX_JSON_DEPTH is refused first (json-depth.ts says why).
 * A top-level `null` counts as absent: the openai SDKs and many clients send explicit nulls
 * for unset options, and the OpenAI API accepts them.
 */
export function parseChatRequest(body: unknown): ChatRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidRequestError('The request body must be a JSON object.', { code: 'invalid_type' });
  }
  const tooDeep = findTooDeep(body);
  if (tooDeep !== null) {
    // Name the field the client sent (`x`; `messages[3]`, `tools[0]` for an element object),
    // not 65 levels of path.
    const field = typeof tooDeep[1] === 'number' && typeof tooDeep[2] === 'string' ? tooDeep.slice(0, 2) : tooDeep.slice(0, 1);
    throw new InvalidRequestError(`Invalid value for '${formatParam(field)}': nested more than ${MAX_JSON_DEPTH} levels deep.`, {
      param: formatParam(field),
      code: 'invalid_value',
    });
  }
  // fromEntries defines own properties, so a `__proto__` key stays a plain (unknown) key.
  const input = Object.fromEntries(Object.entries(body).filter(([, value]) => value !== null));
  const parsed = chatRequestSchema.safeParse(input, { reportInput: true });
  if (!parsed.success) throw zodToInvalidRequest(parsed.error);
  return parsed.data;
}
