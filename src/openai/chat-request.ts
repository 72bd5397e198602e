/**
 * The `/v1/chat/completions` request body: a zod schema that validates every field thinkgate
 * or the OpenAI API knows, precisely, and KEEPS unknown keys (`.loose()`), because vLLM's
 * extras (top_k, min_p, repetition_penalty, ...) must reach the backend (docs/api.md).
 *
 * Ranges follow the OpenAI API reference and vLLM's ChatCompletionRequest
 * (vllm/entrypoints/openai/protocol.py). The thinkgate fields are in docs/api.md.
 */
import { z } from 'zod';
import { parseRequestBody } from './parse-request.js';
import { budgetFieldsShape } from './budget-fields.js';
import { samplingFieldsShape, streamFieldsShape } from './common-fields.js';
import { checkTemplateControls, templateControlsShape } from './template-controls.js';
import { InvalidRequestError } from '../errors.js';
import { checkContentParts } from './content-parts.js';
import { checkRefusedFields } from './sampling.js';
import { GRADER_NAMES } from '../sweep/graders.js';

const int = () => z.number().int();

/** Longest accepted `model` (fuzz-inputs.test.ts: a 1 MB id sent to /tokenize came back as a 502). */
export const MAX_MODEL_ID_LENGTH = 1024;
export const CHAT_ROLES = ['system', 'developer', 'user', 'assistant', 'tool', 'function'] as const;
export { REASONING_EFFORTS } from './budget-fields.js';

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

/** vLLM's ChatCompletionToolsParam: `type: "function"` and a FunctionDefinition (name, parameters: dict | None). */
const tool = z
  .object({
    type: z.literal('function'),
    function: z
      .object({ name: z.string().min(1), parameters: z.record(z.string(), z.unknown()).nullish() })
      .loose(),
  })
  .loose();

export const chatRequestSchema = z
  .object({
    // Bounded because the id travels in every upstream call (/tokenize, each segment) and comes
    // back in error messages; vLLM's served names are Hugging Face ids (< 100 chars) or paths.
    model: z.string().min(1).max(MAX_MODEL_ID_LENGTH),
    messages: z.array(message).min(1),
    ...streamFieldsShape,
    max_tokens: int().min(1).optional(),
    max_completion_tokens: int().min(1).optional(),
    ...samplingFieldsShape,
    // vLLM's ChatCompletionRequest: a bool and 0..max_logprobs (20 by default; -1, "the whole
    // vocabulary", needs --max-logprobs -1 and is refused here: a bounded answer per token).
    logprobs: z.boolean().optional(),
    top_logprobs: int().min(0).max(20).optional(),
    tools: z.array(tool).optional(),
    tool_choice: z
      .union([z.enum(['none', 'auto', 'required']), z.object({ type: z.string() }).loose()], {
        error: "expected 'none', 'auto', 'required' or an object naming a tool.",
      })
      .optional(),
    parallel_tool_calls: z.boolean().optional(),
    response_format: z.object({ type: z.string() }).loose().optional(),
    chat_template_kwargs: z.record(z.string(), z.unknown()).optional(),
    // Template controls of vLLM's ChatCompletionRequest (chat_completion/protocol.py, "extra
    // params"): they shape the prompt through /tokenize (docs/api.md, "Prefill and template
    // controls"); checked against each other in template-controls.ts.
    ...templateControlsShape,
    // vLLM's extra (chat_completion/protocol.py): false hides the thinking text, the thinking itself still runs.
    include_reasoning: z.boolean().optional(),
    // thinkgate: served self-consistency over the n samples (runs/majority-vote.ts).
    aggregate: z
      .union([z.literal('majority'), z.object({ method: z.literal('majority'), grader: z.enum(GRADER_NAMES).optional() }).strict()], {
        error: `expected "majority" or {method: "majority", grader: one of ${GRADER_NAMES.join(', ')}}.`,
      })
      .optional(),

    // thinkgate (docs/api.md): reasoning_effort, M and its aliases, m, E, the extension phrase.
    ...budgetFieldsShape,
  })
  .loose();

export type ChatRequest = z.output<typeof chatRequestSchema>;
export type ChatMessage = z.output<typeof message>;

/**
 * Validates a parsed JSON body (parse-request.ts: object check, depth limit, nulls as absent),
 * then the field table's refusals (field-table.ts) and the content-part rule
 * (content-parts.ts). Throws InvalidRequestError (400) naming the first bad field.
 */
export function parseChatRequest(body: unknown): ChatRequest {
  const req = parseRequestBody(chatRequestSchema, body);
  checkRefusedFields(req, 'chat');
  checkContentParts(req.messages);
  checkTemplateControls(req);
  if ((req as Record<string, unknown>).prompt_logprobs !== undefined) {
    // vLLM's chat returns the prompt's logprobs (non-stream only). thinkgate's prompt is rendered
    // by /tokenize and every segment re-sends it with the thinking so far: not rendered, so refused.
    throw new InvalidRequestError('`prompt_logprobs` is not supported by thinkgate on /v1/chat/completions.', { param: 'prompt_logprobs' });
  }
  if ((req as Record<string, unknown>).logprob_token_ids !== undefined) {
    // vLLM's fixed label set: every listed id at every position, beside the top-k. Passed on it
    // would make vLLM send more alternatives than top_logprobs, and thinkgate does not render them.
    throw new InvalidRequestError('`logprob_token_ids` is not supported by thinkgate.', { param: 'logprob_token_ids' });
  }
  // vLLM's check_logprobs (chat_completion/protocol.py), word for word.
  if (req.top_logprobs !== undefined && req.top_logprobs > 0 && req.logprobs !== true) {
    throw new InvalidRequestError('when using `top_logprobs`, `logprobs` must be set to true.', { param: 'top_logprobs' });
  }
  if (req.aggregate !== undefined) {
    // A vote needs samples; the winner's logprobs would be one sample's among n (not rendered).
    if ((req.n ?? 1) < 2) throw new InvalidRequestError('`aggregate` votes over the samples: set `n` to 2 or more.', { param: 'aggregate' });
    if (req.logprobs === true) throw new InvalidRequestError('`logprobs` cannot be combined with `aggregate`.', { param: 'logprobs' });
  }
  return req;
}

/** The grader of `aggregate` (default boxed: a `\boxed{}` answer, as the s1 evaluations use), or undefined without one. */
export function aggregateGrader(req: ChatRequest): (typeof GRADER_NAMES)[number] | undefined {
  if (req.aggregate === undefined) return undefined;
  return req.aggregate === 'majority' ? 'boxed' : (req.aggregate.grader ?? 'boxed');
}

/** The `top_logprobs` every segment asks for, or undefined when the client wants no logprobs. */
export function chatLogprobs(req: ChatRequest): number | undefined {
  return req.logprobs === true ? (req.top_logprobs ?? 0) : undefined;
}
