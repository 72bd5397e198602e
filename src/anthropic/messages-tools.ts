/**
 * Tools on /v1/messages, mapped as vLLM 0.32 maps them to chat (vllm/entrypoints/anthropic/serving.py
 * `_convert_tools`, `_convert_tool_choice`, `_convert_tool_use_block`, `_convert_user_tool_result`),
 * so that chat's tool semantics (src/tools/: parsed from the answer only, required/named as a
 * grammar on the answer) apply unchanged:
 *
 * - `tools[i] {name, description, input_schema}` -> `{type: "function", function: {name,
 *   description, parameters: input_schema}}`; with tools and no tool_choice, `auto`.
 * - `tool_choice {type: auto | any | none | tool, name, disable_parallel_tool_use}` -> `auto`,
 *   `required`, `none`, a named function; `parallel_tool_calls = !disable_parallel_tool_use`.
 * - history: an assistant's `tool_use` block -> a chat `tool_calls` entry (arguments = the input
 *   as JSON); a user's `tool_result` block -> a `tool` message with its text, placed where vLLM
 *   places it (before the rest of that user turn).
 */
import { z } from 'zod';
import { InvalidRequestError } from '../errors.js';

/** Longest tool name (Anthropic's limit is 64 characters; vLLM sets none: keep the gateway bounded). */
const MAX_TOOL_NAME = 256;

const toolSchema = z
  .object({
    name: z.string().min(1).max(MAX_TOOL_NAME),
    description: z.string().optional(),
    input_schema: z.record(z.string(), z.unknown()),
    strict: z.boolean().optional(),
  })
  .loose();

export const toolsShape = {
  tools: z.array(toolSchema).max(1024).optional(),
  tool_choice: z
    .object({
      type: z.enum(['auto', 'any', 'none', 'tool']),
      name: z.string().min(1).max(MAX_TOOL_NAME).optional(),
      disable_parallel_tool_use: z.boolean().optional(),
    })
    .loose()
    .refine((c) => c.type !== 'tool' || c.name !== undefined, { error: "tool_choice.name is required when type is 'tool'.", path: ['name'] })
    .optional(),
};

const shapeSchema = z.object(toolsShape);
type ToolFields = z.output<typeof shapeSchema>;

/** The chat fields for the request's tools and tool_choice (empty when it has neither). */
export function chatToolFields(req: ToolFields): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const choice = req.tool_choice;
  if (choice !== undefined) {
    out.parallel_tool_calls = choice.disable_parallel_tool_use !== true;
    out.tool_choice =
      choice.type === 'auto'
        ? 'auto'
        : choice.type === 'any'
          ? 'required'
          : choice.type === 'none'
            ? 'none'
            : { type: 'function', function: { name: choice.name } };
  }
  if (req.tools !== undefined) {
    out.tools = req.tools.map((t) => ({
      type: 'function',
      function: {
        name: t.name,
        ...(t.description === undefined ? {} : { description: t.description }),
        parameters: { type: 'object', ...t.input_schema },
        ...(t.strict === undefined ? {} : { strict: t.strict }),
      },
    }));
    out.tool_choice ??= 'auto';
  }
  return out;
}

/** A history `tool_use` block -> a chat tool call. */
export function toolUseCall(b: Record<string, unknown>, param: string): Record<string, unknown> {
  if (typeof b.id !== 'string' || typeof b.name !== 'string') {
    throw new InvalidRequestError("a 'tool_use' block needs a string 'id' and 'name'.", { param, code: 'invalid_type' });
  }
  const input = b.input ?? {};
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new InvalidRequestError("a 'tool_use' block's 'input' must be an object.", { param: `${param}.input`, code: 'invalid_type' });
  }
  return { id: b.id, type: 'function', function: { name: b.name, arguments: JSON.stringify(input) } };
}

/** A user's `tool_result` block -> the `tool` message vLLM makes of it (text parts joined by newlines). */
export function toolResultMessage(b: Record<string, unknown>, param: string): { role: 'tool'; tool_call_id: string; content: string } {
  if (typeof b.tool_use_id !== 'string') {
    throw new InvalidRequestError("a 'tool_result' block needs a string 'tool_use_id'.", { param, code: 'invalid_type' });
  }
  const c = b.content;
  let text = '';
  if (typeof c === 'string') text = c;
  else if (Array.isArray(c)) {
    const parts: string[] = [];
    c.forEach((item: unknown, k) => {
      const part = item as { type?: unknown; text?: unknown } | null;
      if (part !== null && typeof part === 'object' && part.type === 'text' && typeof part.text === 'string') parts.push(part.text);
      else {
        throw new InvalidRequestError('only text parts are supported in a tool_result: thinkgate drives generation with token ids, which cannot carry images.', {
          param: `${param}.content[${k}]`,
          code: 'unsupported_content',
        });
      }
    });
    text = parts.join('\n');
  } else if (c !== undefined && c !== null) {
    throw new InvalidRequestError("a 'tool_result' block's content must be a string or text parts.", { param: `${param}.content`, code: 'invalid_type' });
  }
  return { role: 'tool', tool_call_id: b.tool_use_id, content: text };
}
