/**
 * `POST /v1/responses` (OpenAI's Responses API) as vLLM 0.32 serves it, stateless: the request is
 * validated, then translated into the chat request vLLM would build from it
 * (vllm/entrypoints/openai/responses/protocol.py ResponsesRequest, serving.py, utils.py), and that
 * chat request runs through the same engine, budgets and limits as /v1/chat/completions
 * (docs/api.md, "POST /v1/responses").
 *
 * Every field has one fate (RESPONSES_FIELDS below, also the docs' table):
 * - mapped: `input` and `instructions` (responses-input.ts), `max_output_tokens` ->
 *   max_completion_tokens (bounds thinking + answer, as vLLM's max_tokens), `reasoning.effort` ->
 *   chat's reasoning_effort (the profile's preset), `text.format` -> chat's response_format (the
 *   answer only), `tools` / `tool_choice` / `parallel_tool_calls` (responses-tools.ts),
 *   `include_reasoning` (vLLM's extra: no reasoning item), `stream`;
 * - chat: vLLM's extras that ResponsesRequest shares with chat (sampling, `stop`, `seed`,
 *   `chat_template_kwargs`, `structured_outputs`, ...) and thinkgate's budget fields go to the chat
 *   request as they are, where chat's field table applies (its refusals included);
 * - echoed: accepted and returned on the response object, with no effect on generation, as on
 *   vLLM (`metadata`, `user`, `service_tier`, `max_tool_calls`, `top_logprobs` without
 *   `include` logprobs, caching hints);
 * - refused with 400 naming the field: what needs stored state (`previous_response_id`,
 *   `conversation`, `background: true`, stored prompts) or things thinkgate does not run.
 *   `store` is accepted at either value: like vLLM by default (VLLM_ENABLE_RESPONSES_API_STORE
 *   off), thinkgate stores nothing, and `store: true` is the API's default that the clients send.
 *
 * A chat or completions field that vLLM's ResponsesRequest does not have (`n`, `messages`,
 * `response_format`, `reasoning_effort`, ...) is refused naming the Responses spelling when there
 * is one: vLLM ignores such fields, and passing them on would give them chat's meaning. Fields
 * in no table go on as chat takes them (vLLM's newer extras; vLLM ignores unknown ones).
 */
import { z } from 'zod';
import { InvalidRequestError } from '../errors.js';
import type { ChatRequest } from '../openai/chat-request.js';
import { MAX_MODEL_ID_LENGTH } from '../openai/chat-request.js';
import { FIELD_TABLE } from '../openai/field-table.js';
import { parseRequestBody } from '../openai/parse-request.js';
import { REASONING_EFFORTS } from '../profiles/profile.js';
import { toChatMessages } from './responses-input.js';
import { chatToolFields, toolsShape } from './responses-tools.js';

const int = () => z.number().int();

/** OpenAI's text.format name rule (a-z, A-Z, 0-9, underscores and dashes, at most 64). */
const FORMAT_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

const textFormat = z.discriminatedUnion(
  'type',
  [
    z.object({ type: z.literal('text') }).loose(),
    z.object({ type: z.literal('json_object') }).loose(),
    z
      .object({
        type: z.literal('json_schema'),
        name: z.string().regex(FORMAT_NAME, { error: 'a name of a-z, A-Z, 0-9, underscores and dashes, at most 64 characters.' }),
        schema: z.record(z.string(), z.unknown()),
        description: z.string().nullish(),
        strict: z.boolean().nullish(),
      })
      .loose(),
  ],
  { error: "expected {type: 'text'}, {type: 'json_object'} or {type: 'json_schema', name, schema}." },
);

const INCLUDABLE = [
  'reasoning.encrypted_content',
  'message.output_text.logprobs',
  'file_search_call.results',
  'web_search_call.results',
  'web_search_call.action.sources',
  'message.input_image.image_url',
  'computer_call_output.output.image_url',
  'code_interpreter_call.outputs',
] as const;

export const responsesRequestSchema = z
  .object({
    model: z.string().min(1).max(MAX_MODEL_ID_LENGTH),
    // vLLM would render an empty list as a prompt of `instructions` alone; thinkgate asks for one item.
    input: z.union([z.string(), z.array(z.record(z.string(), z.unknown())).min(1)], { error: 'expected a string or a non-empty array of input items.' }),
    instructions: z.string().optional(),
    max_output_tokens: int().min(1).optional(),
    reasoning: z
      .strictObject({
        effort: z.enum(REASONING_EFFORTS).nullish(),
        // No summarizer runs (vLLM's neither): the reasoning item's `summary` stays [] and its
        // `content` holds the thinking itself.
        summary: z.enum(['auto', 'concise', 'detailed']).nullish(),
        generate_summary: z.enum(['auto', 'concise', 'detailed']).nullish(),
      })
      .optional(),
    text: z
      .strictObject({
        format: textFormat.nullish(),
        // OpenAI's default; another verbosity is a model behaviour thinkgate cannot pin.
        verbosity: z.literal('medium', { error: "only 'medium' (the default): thinkgate cannot pin a model's verbosity." }).nullish(),
      })
      .optional(),
    ...toolsShape,
    stream: z.boolean().optional(),
    stream_options: z.strictObject({ include_obfuscation: z.boolean().nullish() }).optional(),
    include: z.array(z.enum(INCLUDABLE)).max(16).optional(),
    include_reasoning: z.boolean().optional(),
    // Echoed only (the body limit bounds them): OpenAI's 16 keys, no length rule of thinkgate's own.
    metadata: z.record(z.string(), z.string()).refine((m) => Object.keys(m).length <= 16, { error: 'at most 16 keys.' }).optional(),
    user: z.string().optional(),
    service_tier: z.enum(['auto', 'default', 'flex', 'scale', 'priority']).optional(),
    store: z.boolean().optional(),
    background: z.literal(false, { error: 'background responses need stored state, which thinkgate does not keep: omit it or send false.' }).optional(),
    truncation: z.literal('disabled', { error: "only 'disabled': thinkgate's prompt grows segment by segment, and truncating it would cut a different prefix each time." }).optional(),
    max_tool_calls: int().min(0).optional(),
    top_logprobs: int().min(0).max(20).optional(),
    prompt_cache_key: z.string().optional(),
    prompt_cache_retention: z.enum(['in_memory', '24h']).optional(),
    safety_identifier: z.string().optional(),
    enable_response_messages: z.literal(false, { error: 'raw prompt and output messages are not rendered by thinkgate.' }).optional(),
    // thinkgate (docs/api.md): m, E, the extension phrase; M as on chat.
    max_thinking_tokens: int().min(0).optional(),
    thinking_token_budget: int().min(0).optional(),
    min_thinking_tokens: int().min(0).optional(),
    max_thinking_extensions: int().min(0).optional(),
    thinking_extension: z.string().min(1).max(200).optional(),
  })
  .loose();

export type ResponsesRequest = z.output<typeof responsesRequestSchema>;

/** thinkgate's own budget fields (docs/api.md): validated here, then read by chat as on chat. */
const BUDGET_FIELDS = new Set(['max_thinking_tokens', 'thinking_token_budget', 'min_thinking_tokens', 'max_thinking_extensions', 'thinking_extension']);

/** Responses fields that need state or services thinkgate does not have: 400 when set (not null). */
const REFUSED: Readonly<Record<string, string>> = {
  previous_response_id: 'thinkgate stores no responses (stateless, as vLLM by default): send the whole conversation in `input`',
  conversation: 'thinkgate stores no conversations: send the whole conversation in `input`',
  prompt: 'stored prompt templates live on OpenAI\'s servers (vLLM refuses them too)',
  previous_input_messages: 'vLLM\'s harmony history for gpt-oss is not rendered by thinkgate: send the items in `input`',
  context_management: 'server-side context compaction needs stored state',
  background_options: 'background responses need stored state',
  prompt_cache_options: 'prompt caching options are OpenAI\'s; vLLM\'s prefix cache needs none (see `cache_salt`)',
  access_programs: 'an OpenAI platform feature thinkgate does not run',
  image: 'image generation is not run by thinkgate',
  moderation: 'moderation is not run by thinkgate',
};

/**
 * Fields of the Responses request that thinkgate maps or echoes itself; anything else a chat
 * field table knows must be one vLLM's ResponsesRequest shares with chat.
 */
const RESPONSES_OWN = new Set([
  ...Object.keys(responsesRequestSchema.shape),
  ...Object.keys(REFUSED),
]);

/** vLLM 0.32 ResponsesRequest fields that mean the same as on chat: they go to the chat request as is. */
const SHARED_WITH_CHAT = new Set([
  'temperature',
  'top_p',
  'top_k',
  'min_p',
  'presence_penalty',
  'frequency_penalty',
  'repetition_penalty',
  'logit_bias',
  'seed',
  'stop',
  'stop_token_ids',
  'ignore_eos',
  'skip_special_tokens',
  'include_stop_str_in_output',
  'structured_outputs',
  'chat_template_kwargs',
  'media_io_kwargs',
  'mm_processor_kwargs',
  'mm_payload',
  'return_mm_kwargs',
  'cache_salt',
  'priority',
  'session_id',
  'request_id',
  'watermarking',
  'vllm_xargs',
  'kv_transfer_params',
  'ec_transfer_params',
]);

/** Chat / completions fields with a Responses spelling: the refusal names it. */
const RESPONSES_SPELLING: Readonly<Record<string, string>> = {
  messages: 'input',
  max_tokens: 'max_output_tokens',
  max_completion_tokens: 'max_output_tokens',
  response_format: 'text.format',
  reasoning_effort: 'reasoning.effort',
  thinking: 'reasoning.effort or max_thinking_tokens',
  logprobs: "include: ['message.output_text.logprobs']",
  continue_final_message: "a final assistant item with status 'incomplete'",
};

/** Validates a parsed JSON body; throws InvalidRequestError (400) naming the first bad field. */
export function parseResponsesRequest(body: unknown): ResponsesRequest {
  const req = parseRequestBody(responsesRequestSchema, body);
  for (const key of Object.keys(req)) {
    const value = (req as Record<string, unknown>)[key];
    if (value === undefined) continue;
    const why = REFUSED[key];
    if (why !== undefined) {
      throw new InvalidRequestError(`'${key}' is not supported by thinkgate: ${why}.`, { param: key, code: 'unsupported_parameter' });
    }
    if (RESPONSES_OWN.has(key) || SHARED_WITH_CHAT.has(key)) continue;
    if (FIELD_TABLE.chat[key] !== undefined || FIELD_TABLE.completions[key] !== undefined) {
      const spelling = RESPONSES_SPELLING[key];
      throw new InvalidRequestError(
        `'${key}' is not a field of /v1/responses (vLLM's ResponsesRequest has none)${spelling === undefined ? '' : `: send ${spelling}`}.`,
        { param: key, code: 'unsupported_parameter' },
      );
    }
  }
  if (req.include?.includes('message.output_text.logprobs')) {
    throw new InvalidRequestError("'message.output_text.logprobs' is not supported on /v1/responses yet (chat's `logprobs` is).", { param: 'include', code: 'unsupported_parameter' });
  }
  if (req.text?.format != null && req.structured_outputs !== undefined) {
    // vLLM's words (protocol.py extract_structured_outputs).
    throw new InvalidRequestError('Cannot specify both structured_outputs and text.format', { param: 'structured_outputs', code: 'invalid_value' });
  }
  return req;
}

/** The fields that reach chat as they are (SHARED_WITH_CHAT, thinkgate's, and unknown ones). */
function passThrough(req: ResponsesRequest): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(req)) {
    if (v === undefined || k === '__proto__') continue;
    if (RESPONSES_OWN.has(k) && !BUDGET_FIELDS.has(k)) continue;
    out[k] = v;
  }
  return out;
}

/** The chat request vLLM builds from `req` (see the header), for the engine. */
export function toChatRequest(req: ResponsesRequest): ChatRequest {
  const { messages, continueFinal } = toChatMessages(req.instructions, req.input);
  const chat: Record<string, unknown> = {
    ...passThrough(req),
    model: req.model,
    messages,
    stream: req.stream === true,
    ...(req.stream === true ? { stream_options: { include_usage: true } } : {}),
    ...(req.max_output_tokens !== undefined ? { max_completion_tokens: req.max_output_tokens } : {}),
    ...chatToolFields(req),
  };
  if (continueFinal) {
    chat.continue_final_message = true;
    chat.add_generation_prompt = false;
  }
  const effort = req.reasoning?.effort;
  if (effort != null) chat.reasoning_effort = effort;
  const format = req.text?.format;
  if (format?.type === 'json_object') chat.response_format = { type: 'json_object' };
  if (format?.type === 'json_schema') {
    const { name, schema, description, strict } = format;
    chat.response_format = {
      type: 'json_schema',
      json_schema: { name, schema, ...(description == null ? {} : { description }), ...(strict == null ? {} : { strict }) },
    };
  }
  return chat as ChatRequest;
}

/** A chat-side 400 that names a chat field, renamed to the Responses field the client sent. */
export function responsesParam(param: string | null): string | null {
  if (param === null) return null;
  if (param === 'messages' || param.startsWith('messages[')) return 'input';
  if (param === 'max_completion_tokens') return 'max_output_tokens';
  if (param.startsWith('response_format')) return 'text.format';
  if (param === 'reasoning_effort') return 'reasoning.effort';
  if (param.startsWith('tool_choice')) return 'tool_choice';
  return param;
}
