/**
 * `instructions` and `input` -> chat messages, as vLLM 0.32 builds them
 * (vllm/entrypoints/openai/responses/utils.py `construct_input_messages`,
 * `_construct_message_from_response_item`, `should_continue_final_message`):
 *
 * - `instructions` (when non-empty) -> a first `system` message;
 * - a string `input` -> one `user` message;
 * - a message item (`{role, content}`, `type: "message"` optional) -> a chat message of that role;
 *   text parts (`input_text`, `output_text`) become chat `text` parts, as vLLM's chat renderer
 *   reads them (renderers/chat_utils.py TEXT_PART_TYPES); an assistant's content becomes its text;
 * - a `reasoning` item -> an assistant message's `reasoning` (its `content` text, else its summary
 *   text, as vLLM), merged into the assistant message before it when that has none;
 * - a `function_call` item -> a `tool_calls` entry of the assistant message before it (or a new
 *   one), id = its `call_id`; a `function_call_output` -> a `tool` message;
 * - an assistant message after a reasoning / function_call item fills that message's content
 *   when it has none (vLLM merges them into one chat turn);
 * - a final assistant message or reasoning item whose `status` is `in_progress` or `incomplete` is
 *   continued (chat's `continue_final_message`): vLLM's partial-message completion.
 *
 * - an `input_image` part with an `image_url` (an http(s) or data URL) -> the same part on the
 *   chat message: vLLM's chat renderer reads it (chat_utils.py MM_PARSER_MAP), and the request is
 *   then a media run (docs/multimodal.md).
 *
 * Refused with 400 naming the item: images by `file_id` (they need OpenAI's file store), files and
 * audio, `encrypted_content` (vLLM refuses it too), `item_reference`
 * (needs stored items) and the items of built-in tools thinkgate does not run.
 */
import { InvalidRequestError } from '../errors.js';

type ChatMessage = Record<string, unknown> & { role: string };

const MESSAGE_ROLES = new Set(['user', 'assistant', 'system', 'developer']);
const TEXT_PARTS = new Set(['input_text', 'output_text', 'text']);

/** The chat messages and whether the last one is to be continued (vLLM's partial completion). */
export interface ChatInput {
  messages: ChatMessage[];
  continueFinal: boolean;
}

export function toChatMessages(instructions: string | undefined, input: string | readonly Record<string, unknown>[]): ChatInput {
  const messages: ChatMessage[] = [];
  if (instructions !== undefined && instructions !== '') messages.push({ role: 'system', content: instructions });
  if (typeof input === 'string') {
    messages.push({ role: 'user', content: input });
    return { messages, continueFinal: false };
  }
  input.forEach((item, i) => {
    const msg = fromItem(item, i, messages[messages.length - 1]);
    if (msg !== null) messages.push(msg);
  });
  return { messages, continueFinal: continueFinal(input) };
}

/** A new chat message, or null when the item was merged into `prev` (the assistant turn before it). */
function fromItem(item: Record<string, unknown>, i: number, prev: ChatMessage | undefined): ChatMessage | null {
  const param = `input[${i}]`;
  const type = item.type;
  const assistant = prev?.role === 'assistant' ? prev : undefined;
  if (type === undefined || type === 'message') {
    if (typeof item.role !== 'string' || !MESSAGE_ROLES.has(item.role)) {
      if (type === undefined && typeof item.id === 'string') throw stateful(param);
      throw new InvalidRequestError("A message item needs a 'role' of 'user', 'assistant', 'system' or 'developer'.", { param: `${param}.role`, code: 'invalid_value' });
    }
    if (item.role === 'assistant') {
      const text = assistantText(item.content, `${param}.content`);
      if (assistant !== undefined && (assistant.content === undefined || assistant.content === null)) {
        assistant.content = text;
        return null;
      }
      return { role: 'assistant', content: text };
    }
    return { role: item.role, content: userContent(item.content, `${param}.content`) };
  }
  switch (type) {
    case 'reasoning': {
      if (item.encrypted_content !== undefined && item.encrypted_content !== null) {
        throw new InvalidRequestError('Encrypted content is not supported: thinkgate returns reasoning in clear (send the reasoning item as it came).', {
          param: `${param}.encrypted_content`,
          code: 'unsupported_content',
        });
      }
      const reasoning = reasoningText(item, param);
      if (assistant !== undefined && (assistant.reasoning === undefined || assistant.reasoning === null)) {
        assistant.reasoning = reasoning;
        return null;
      }
      return { role: 'assistant', reasoning };
    }
    case 'function_call': {
      for (const k of ['call_id', 'name', 'arguments'] as const) {
        if (typeof item[k] !== 'string') {
          throw new InvalidRequestError(`A 'function_call' item needs a string '${k}'.`, { param: `${param}.${k}`, code: 'invalid_type' });
        }
      }
      const call = { id: item.call_id, type: 'function', function: { name: item.name, arguments: item.arguments } };
      if (assistant !== undefined) {
        const calls = assistant.tool_calls;
        if (Array.isArray(calls)) calls.push(call);
        else assistant.tool_calls = [call];
        return null;
      }
      return { role: 'assistant', tool_calls: [call] };
    }
    case 'function_call_output': {
      if (typeof item.call_id !== 'string') {
        throw new InvalidRequestError("A 'function_call_output' item needs a string 'call_id'.", { param: `${param}.call_id`, code: 'invalid_type' });
      }
      return { role: 'tool', tool_call_id: item.call_id, content: toolOutput(item.output, `${param}.output`) };
    }
    case 'item_reference':
      throw stateful(param);
    default:
      throw new InvalidRequestError(
        `Input items of type '${String(type).slice(0, 60)}' are not supported: thinkgate takes message, reasoning, function_call and function_call_output items (built-in tools run on OpenAI's servers).`,
        { param: `${param}.type`, code: 'unsupported_content' },
      );
  }
}

function stateful(param: string): InvalidRequestError {
  return new InvalidRequestError('Item references need stored responses, and thinkgate stores none: send the items themselves.', {
    param,
    code: 'unsupported_content',
  });
}

/** A user / system / developer message's content: a string, or its parts as chat text parts. */
function userContent(content: unknown, param: string): string | Record<string, unknown>[] {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw new InvalidRequestError('A message item needs a string or an array of content parts.', { param, code: 'invalid_type' });
  return content.map((part: unknown, j) => imagePart(part, `${param}[${j}]`) ?? { type: 'text', text: partText(part, `${param}[${j}]`) });
}

/** An `input_image` part as the chat part vLLM reads, or undefined for any other part. */
function imagePart(part: unknown, param: string): Record<string, unknown> | undefined {
  const p = (typeof part === 'object' && part !== null ? part : {}) as Record<string, unknown>;
  if (p.type !== 'input_image') return undefined;
  if (typeof p.image_url !== 'string' || p.image_url === '') {
    throw new InvalidRequestError(
      p.file_id !== undefined ? 'Images by file_id need stored files, and thinkgate stores none: send an image_url (a URL or a data URL).' : "An 'input_image' part needs a string 'image_url'.",
      { param: p.file_id !== undefined ? `${param}.file_id` : `${param}.image_url`, code: p.file_id !== undefined ? 'unsupported_content_part' : 'invalid_type' },
    );
  }
  return { type: 'input_image', image_url: p.image_url, ...(typeof p.detail === 'string' ? { detail: p.detail } : {}) };
}

/** An assistant message's content, as one text (vLLM takes an output message's text). */
function assistantText(content: unknown, param: string): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw new InvalidRequestError('A message item needs a string or an array of content parts.', { param, code: 'invalid_type' });
  return content.map((part: unknown, j) => partText(part, `${param}[${j}]`, true)).join('');
}

function partText(part: unknown, param: string, refusalOk = false): string {
  const p = (typeof part === 'object' && part !== null ? part : {}) as Record<string, unknown>;
  if (TEXT_PARTS.has(p.type as string) && typeof p.text === 'string') return p.text;
  if (refusalOk && p.type === 'refusal' && typeof p.refusal === 'string') return p.refusal;
  if (TEXT_PARTS.has(p.type as string)) throw new InvalidRequestError(`A part of type '${String(p.type)}' needs a string 'text'.`, { param: `${param}.text`, code: 'invalid_type' });
  throw new InvalidRequestError(
    `Content parts of type '${String(p.type).slice(0, 40)}' are not supported: thinkgate drives generation with token ids, which cannot carry images, files or audio. Send text parts.`,
    { param, code: 'unsupported_content_part' },
  );
}

function reasoningText(item: Record<string, unknown>, param: string): string {
  // vLLM: the first content part's text, else the first summary part's text.
  for (const key of ['content', 'summary'] as const) {
    const parts = item[key];
    if (parts === undefined || parts === null) continue;
    if (!Array.isArray(parts)) throw new InvalidRequestError(`A reasoning item's '${key}' must be an array.`, { param: `${param}.${key}`, code: 'invalid_type' });
    parts.forEach((part: unknown, j) => {
      if (typeof (part as Record<string, unknown> | null)?.text !== 'string') {
        throw new InvalidRequestError(`A reasoning item's '${key}' parts need a string 'text'.`, { param: `${param}.${key}[${j}].text`, code: 'invalid_type' });
      }
    });
    if (parts.length > 0) return (parts[0] as { text: string }).text;
  }
  return '';
}

function toolOutput(output: unknown, param: string): string | Record<string, unknown>[] {
  if (typeof output === 'string') return output;
  if (!Array.isArray(output)) throw new InvalidRequestError("A 'function_call_output' item needs a string 'output' or text parts.", { param, code: 'invalid_type' });
  return output.map((part: unknown, j) => ({ type: 'text', text: partText(part, `${param}[${j}]`) }));
}

/** utils.py should_continue_final_message: the last item is a message or reasoning left in progress. */
function continueFinal(input: readonly Record<string, unknown>[]): boolean {
  const last = input[input.length - 1];
  if (last === undefined) return false;
  const type = last.type ?? 'message';
  if (type !== 'message' && type !== 'reasoning') return false;
  if (last.status !== 'in_progress' && last.status !== 'incomplete') return false;
  if (type === 'message' && last.role !== 'assistant') {
    // vLLM would continue any message; thinkgate continues an assistant turn (and counts its thinking).
    throw new InvalidRequestError('Only an assistant message (or reasoning item) can be continued: a final item left in progress must be the assistant\'s.', {
      param: `input[${input.length - 1}].status`,
      code: 'invalid_value',
    });
  }
  return true;
}
