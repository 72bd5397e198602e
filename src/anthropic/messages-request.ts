/**
 * `POST /v1/messages` (Anthropic's Messages API) as vLLM serves it: the request is validated, then
 * translated into the chat request vLLM would build from it (vllm/entrypoints/anthropic/serving.py,
 * `to_chat_completion_request`), and that chat request runs through the same engine, budgets and
 * limits as /v1/chat/completions (docs/api.md, "Anthropic Messages").
 *
 * The mapping, field by field, as vLLM 0.32 does it:
 * - `system` (string or text blocks) -> a first `system` message; blocks joined without separator.
 * - `messages[i].content` blocks: `text` -> text, `thinking` -> the assistant message's `reasoning`
 *   (the chat template decides whether earlier thinking is shown to the model), `redacted_thinking`
 *   -> dropped (opaque by design).
 * - `max_tokens` -> max_completion_tokens: it bounds thinking + answer, as Anthropic's does.
 * - `thinking: {type: "enabled", budget_tokens}` -> M, enforced to the token (Anthropic and vLLM
 *   treat it as a target); `{type: "disabled"}` -> no thinking; `{type: "adaptive"}` pins nothing
 *   beyond `output_config.effort`, which picks the profile's `reasoning_effort` preset.
 * - `stop_sequences` -> stop (the answer only), `temperature`, `top_p`, `top_k` -> sampling.
 * - thinkgate's own `min_thinking_tokens`, `max_thinking_extensions`, `thinking_extension` ride
 *   along as extra fields, as on chat.
 *
 * - `tools`, `tool_choice`, `tool_use` and `tool_result` blocks: as vLLM maps them
 *   (messages-tools.ts); calls come back as `tool_use` blocks, parsed from the answer only.
 * - `output_config.format: {type: "json_schema", schema}` -> chat's response_format
 *   `{type: "json_schema", json_schema: {name: "json_schema", schema}}` (serving.py
 *   `_handle_output_config`), so the answer's text block obeys the schema; the grammar holds on
 *   the answer only, never on the thinking (docs/api.md, "Structured outputs"). A format without
 *   a schema changes nothing, as on vLLM.
 *
 * - `image` blocks -> chat `image_url` parts (a base64 source as a data URL, a url source as its
 *   URL), the turn's text blocks then text parts beside them, as vLLM's `_convert_block` builds
 *   them; the request is then a media run (docs/multimodal.md).
 *
 * Refused with 400 naming the field, until thinkgate drives them (never silently dropped):
 * documents, tool references and tool additions/removals.
 */
import { z } from 'zod';
import { InvalidRequestError } from '../errors.js';
import type { ChatRequest } from '../openai/chat-request.js';
import { MAX_MODEL_ID_LENGTH } from '../openai/chat-request.js';
import { MAX_STOP_CHARS, MAX_STOP_STRINGS } from '../openai/common-fields.js';
import { parseRequestBody } from '../openai/parse-request.js';
import { chatToolFields, toolResultMessage, toolsShape, toolUseCall } from './messages-tools.js';

const int = () => z.number().int();

/** Block types vLLM's protocol knows (AnthropicContentBlock.type). */
const BLOCK_TYPES = [
  'text',
  'image',
  'document',
  'tool_use',
  'tool_result',
  'tool_reference',
  'thinking',
  'redacted_thinking',
  'tool_addition',
  'tool_removal',
] as const;

const block = z
  .object({
    type: z.enum(BLOCK_TYPES),
    text: z.string().optional(),
    thinking: z.string().optional(),
    signature: z.string().optional(),
    data: z.string().optional(),
  })
  .loose();

const content = z.union([z.string(), z.array(block)], { error: 'expected a string or an array of content blocks.' });

const message = z.object({ role: z.enum(['user', 'assistant', 'system']), content }).loose();

/** Anthropic's effort levels (vLLM's AnthropicEffort): each is a reasoning_effort of the same name (profiles/profile.ts). */
const ANTHROPIC_EFFORTS = ['low', 'medium', 'high', 'xhigh', 'max'] as const;

const thinking = z.discriminatedUnion(
  'type',
  [
    // Anthropic and vLLM ask for at least 1,024; thinkgate enforces any budget exactly, so a
    // smaller one (an evaluator's sweep starts at 0) is honoured rather than refused.
    z.object({ type: z.literal('enabled'), budget_tokens: int().min(0), display: z.string().optional() }).loose(),
    z.object({ type: z.literal('disabled') }).loose(),
    z.object({ type: z.literal('adaptive'), display: z.string().optional() }).loose(),
  ],
  { error: "expected {type: 'enabled', budget_tokens}, {type: 'disabled'} or {type: 'adaptive'}." },
);

export const messagesRequestSchema = z
  .object({
    model: z.string().min(1).max(MAX_MODEL_ID_LENGTH),
    // At least one user or assistant turn: system text alone leaves the template nothing to answer.
    messages: z
      .array(message)
      .min(1)
      .refine((ms) => ms.some((m) => m.role !== 'system'), { error: 'at least one message must have the role user or assistant.' }),
    max_tokens: int().min(1),
    system: z.union([z.string(), z.array(block)]).optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
    stop_sequences: z
      .array(z.string().min(1))
      .max(MAX_STOP_STRINGS)
      .refine((v) => v.reduce((n, s) => n + s.length, 0) <= MAX_STOP_CHARS, { error: `at most ${MAX_STOP_CHARS} characters of stop sequences in all.` })
      .optional(),
    stream: z.boolean().optional(),
    temperature: z.number().min(0).max(2).optional(),
    top_p: z.number().gt(0).max(1).optional(),
    top_k: int().min(-1).optional(),
    thinking: thinking.optional(),
    output_config: z
      .object({
        effort: z.enum(ANTHROPIC_EFFORTS).optional(),
        // vLLM's AnthropicJsonOutputFormat: only json_schema, the schema optional.
        format: z.object({ type: z.literal('json_schema').optional(), schema: z.record(z.string(), z.unknown()).nullable().optional() }).loose().nullable().optional(),
      })
      .loose()
      .optional(),
    ...toolsShape,
    chat_template_kwargs: z.record(z.string(), z.unknown()).optional(),
    // thinkgate (docs/api.md): m, E, the extension phrase.
    min_thinking_tokens: int().min(0).optional(),
    max_thinking_extensions: int().min(0).optional(),
    thinking_extension: z.string().min(1).max(200).optional(),
  })
  .loose();

export type MessagesRequest = z.output<typeof messagesRequestSchema>;
type Block = z.output<typeof block>;

/** Validates a parsed JSON body; throws InvalidRequestError (400) naming the first bad field. */
export function parseMessagesRequest(body: unknown): MessagesRequest {
  return parseRequestBody(messagesRequestSchema, body);
}

/** Fields of the Anthropic request that are not chat fields and must not reach a segment. */
const ANTHROPIC_ONLY = new Set([
  'messages',
  'system',
  'max_tokens',
  'metadata',
  'stop_sequences',
  'thinking',
  'output_config',
  'tools',
  'tool_choice',
  'stream',
]);

/** The chat request vLLM builds from `req` (see the header), for the engine. */
export function toChatRequest(req: MessagesRequest): ChatRequest {
  refuseUndriven(req);
  const messages: ChatRequest['messages'] = [];
  const system = systemText(req.system);
  if (system !== '') messages.push({ role: 'system', content: system });
  req.messages.forEach((m, i) => {
    if (m.role === 'system') {
      const text = typeof m.content === 'string' ? m.content : joinText(m.content);
      if (text !== '') messages.push({ role: 'system', content: text });
      return;
    }
    if (typeof m.content === 'string') {
      messages.push({ role: m.role, content: m.content });
      return;
    }
    messages.push(...convertBlocks(m.role, m.content, i));
  });

  // Every other field the client sent (vLLM extras such as cache_salt, chat_template_kwargs,
  // and thinkgate's m/E/phrase) goes on as chat would take it.
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(req)) if (!ANTHROPIC_ONLY.has(k) && k !== '__proto__') extra[k] = v;

  const chat: Record<string, unknown> = {
    ...extra,
    model: req.model,
    messages,
    max_completion_tokens: req.max_tokens,
    stream: req.stream === true,
    ...(req.stream === true ? { stream_options: { include_usage: true } } : {}),
    ...(req.stop_sequences !== undefined ? { stop: req.stop_sequences } : {}),
    ...chatToolFields(req),
  };
  const effort = req.output_config?.effort;
  if (effort !== undefined) chat.reasoning_effort = effort;
  const schema = req.output_config?.format?.schema;
  if (schema !== undefined && schema !== null && Object.keys(schema).length > 0) {
    chat.response_format = { type: 'json_schema', json_schema: { name: 'json_schema', schema } };
  }
  if (req.thinking?.type === 'enabled') chat.max_thinking_tokens = req.thinking.budget_tokens;
  if (req.thinking?.type === 'disabled') chat.thinking = { type: 'disabled' };
  return chat as ChatRequest;
}

function refuseUndriven(req: MessagesRequest): void {
  if (Array.isArray(req.system)) {
    req.system.forEach((b, j) => {
      if (b.type !== 'text') throw unsupportedBlock(b, `system[${j}]`);
    });
  }
}

function systemText(system: MessagesRequest['system']): string {
  if (system === undefined) return '';
  return typeof system === 'string' ? system : joinText(system);
}

function joinText(blocks: readonly Block[]): string {
  return blocks
    .filter((b) => b.type === 'text' && typeof b.text === 'string')
    .map((b) => b.text!)
    .join('');
}

/**
 * One Anthropic turn -> chat messages: `tool` messages for its tool results (first, as vLLM
 * appends them while it walks the blocks), then the turn itself, unless it is a user turn with
 * nothing but tool results (vLLM leaves such a turn out).
 */
function convertBlocks(role: 'user' | 'assistant', blocks: readonly Block[], i: number): ChatRequest['messages'] {
  const text: string[] = [];
  const reasoning: string[] = [];
  const calls: Record<string, unknown>[] = [];
  const out: ChatRequest['messages'] = [];
  // Text and images in the turn's order: the content when the turn has an image (vLLM's content_parts).
  const parts: Record<string, unknown>[] = [];
  let hasImage = false;
  let hasText = false;
  blocks.forEach((b, j) => {
    const param = `messages[${i}].content[${j}]`;
    switch (b.type) {
      case 'tool_use':
        if (role !== 'assistant') throw new InvalidRequestError("a 'tool_use' block belongs to an assistant turn.", { param, code: 'invalid_value' });
        calls.push(toolUseCall(b, param));
        return;
      case 'tool_result':
        if (role !== 'user') throw new InvalidRequestError("a 'tool_result' block belongs to a user turn.", { param, code: 'invalid_value' });
        out.push(toolResultMessage(b, param) as ChatRequest['messages'][number]);
        return;
      case 'text':
        if (typeof b.text !== 'string') {
          throw new InvalidRequestError("a block of type 'text' needs a string 'text'.", { param: `messages[${i}].content[${j}].text`, code: 'invalid_type' });
        }
        text.push(b.text);
        // vLLM skips empty text blocks (`block.type == "text" and block.text`).
        if (b.text !== '') parts.push({ type: 'text', text: b.text });
        hasText = true;
        return;
      case 'image':
        parts.push({ type: 'image_url', image_url: { url: imageUrl(b.source, `${param}.source`) } });
        hasImage = true;
        return;
      case 'thinking':
        // vLLM keeps thinking on any turn, and its renderer hands the template only an
        // assistant's: on other turns it is accepted and has no effect, as there.
        if (typeof b.thinking === 'string' && role === 'assistant') reasoning.push(b.thinking);
        return;
      case 'redacted_thinking':
        return; // opaque by design; vLLM accepts and skips it too
      default:
        throw unsupportedBlock(b, `messages[${i}].content[${j}]`);
    }
  });
  // vLLM puts earlier thinking in the assistant message's `reasoning`, which its chat renderer
  // (vllm/renderers/chat_utils.py) hands the template as both `reasoning` and `reasoning_content`;
  // text blocks join into one string.
  if (role === 'user' && !hasText && !hasImage && out.length > 0) return out;
  const content = hasImage ? parts : calls.length > 0 && !hasText ? null : text.join('');
  const msg: ChatRequest['messages'][number] = { role, content } as ChatRequest['messages'][number];
  if (reasoning.length > 0) (msg as Record<string, unknown>).reasoning = reasoning.join('');
  if (calls.length > 0) (msg as Record<string, unknown>).tool_calls = calls;
  out.push(msg);
  return out;
}

/**
 * An image block's source as a chat image URL (vLLM's `_convert_image_source_to_url`): `url`
 * as is; `base64` (vLLM's default for a source without a type) as a data URL.
 */
function imageUrl(source: unknown, param: string): string {
  const s = (typeof source === 'object' && source !== null ? source : undefined) as Record<string, unknown> | undefined;
  if (s === undefined) throw new InvalidRequestError("an 'image' block needs a 'source' object.", { param, code: 'invalid_type' });
  if (s.type === 'url') {
    if (typeof s.url !== 'string' || s.url === '') throw new InvalidRequestError("a 'url' image source needs a string 'url'.", { param: `${param}.url`, code: 'invalid_type' });
    return s.url;
  }
  if (s.type !== undefined && s.type !== 'base64') {
    throw new InvalidRequestError(`image sources of type '${String(s.type).slice(0, 40)}' are not supported: send 'base64' or 'url'.`, { param: `${param}.type`, code: 'invalid_value' });
  }
  if (typeof s.data !== 'string' || s.data === '') throw new InvalidRequestError("a 'base64' image source needs a string 'data'.", { param: `${param}.data`, code: 'invalid_type' });
  const mediaType = s.media_type ?? 'image/jpeg';
  if (typeof mediaType !== 'string' || !/^[\w.+-]+\/[\w.+-]+$/.test(mediaType)) {
    throw new InvalidRequestError("'media_type' must be a MIME type such as image/png.", { param: `${param}.media_type`, code: 'invalid_value' });
  }
  return `data:${mediaType};base64,${s.data}`;
}

function unsupportedBlock(b: Block, param: string): InvalidRequestError {
  const reason =
    b.type === 'document'
      ? 'thinkgate does not read documents.'
      : b.type === 'image'
        ? 'images are taken in user and assistant turns only.'
        : 'tool references and tool additions/removals are not supported.';
  return new InvalidRequestError(`Content blocks of type '${b.type}' are not supported here: ${reason}`, { param, code: 'unsupported_content' });
}
