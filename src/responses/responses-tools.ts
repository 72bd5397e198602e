/**
 * Tools on /v1/responses, mapped to chat as vLLM 0.32 maps them
 * (vllm/entrypoints/openai/responses/utils.py `convert_tool_responses_to_completions_format`,
 * protocol.py `check_tool_usage`), so that chat's tool semantics (src/tools/: calls parsed from
 * the answer only, required / named as a grammar on the answer) apply unchanged:
 *
 * - a function tool `{type: "function", name, description, parameters, strict}` -> chat's
 *   `{type: "function", function: {name, description, parameters, strict}}`;
 * - `tool_choice` `"auto"` / `"none"` / `"required"` -> the same chat value; `{type: "function",
 *   name}` -> chat's named choice; without tools, `auto` and `none` mean no tools (vLLM sets
 *   `none`), `required` and a named choice are refused, as vLLM refuses them.
 *
 * Refused with 400 naming the field: built-in tools (web_search, file_search, code_interpreter,
 * computer_use, image_generation, mcp, shell, ...), which run on OpenAI's servers (or, on vLLM,
 * only for gpt-oss with a tool server): thinkgate runs none of them. Custom (free-text) and
 * namespace tools, and `allowed_tools` choices, are not mapped yet.
 */
import { z } from 'zod';
import { InvalidRequestError } from '../errors.js';

/** Longest tool name (OpenAI's limit is 64 characters; vLLM sets none: keep the gateway bounded). */
const MAX_TOOL_NAME = 256;

const functionTool = z
  .object({
    type: z.literal('function'),
    name: z.string().min(1).max(MAX_TOOL_NAME),
    description: z.string().nullish(),
    parameters: z.record(z.string(), z.unknown()).nullish(),
    strict: z.boolean().nullish(),
  })
  .loose();

/** Any tool: its type decides (checked in chatToolFields, which names the refused ones). */
const anyTool = z.object({ type: z.string().min(1).max(128) }).loose();

export const toolsShape = {
  tools: z.array(anyTool).max(1024).optional(),
  tool_choice: z
    .union([z.enum(['none', 'auto', 'required']), z.object({ type: z.string().min(1).max(128), name: z.string().max(MAX_TOOL_NAME).optional() }).loose()], {
      error: "expected 'none', 'auto', 'required' or {type: 'function', name}.",
    })
    .optional(),
  parallel_tool_calls: z.boolean().optional(),
};

const shapeSchema = z.object(toolsShape);
type ToolFields = z.output<typeof shapeSchema>;

/** The chat fields for the request's tools, tool_choice and parallel_tool_calls. */
export function chatToolFields(req: ToolFields): Record<string, unknown> {
  const tools = (req.tools ?? []).map((t, i) => chatTool(t, i));
  const out: Record<string, unknown> = {};
  if (req.parallel_tool_calls !== undefined) out.parallel_tool_calls = req.parallel_tool_calls;
  const choice = req.tool_choice ?? 'auto';
  if (tools.length === 0) {
    // protocol.py check_tool_usage: no tools and auto/none is "none"; anything else is refused.
    if (choice === 'auto' || choice === 'none') return out;
    if (choice === 'required') {
      throw new InvalidRequestError("Tool choice 'required' must be specified with 'tools' parameter.", { param: 'tool_choice' });
    }
  }
  if (typeof choice === 'string') {
    if (tools.length > 0) out.tool_choice = choice;
  } else {
    out.tool_choice = namedChoice(choice, tools.length > 0);
  }
  if (tools.length > 0) out.tools = tools;
  return out;
}

function chatTool(t: z.output<typeof anyTool>, i: number): Record<string, unknown> {
  if (t.type !== 'function') {
    throw new InvalidRequestError(
      `Tools of type '${t.type.slice(0, 60)}' are not supported: ${t.type === 'custom' || t.type === 'namespace' ? 'thinkgate maps function tools only, for now' : "built-in tools run on OpenAI's servers, and thinkgate runs none of them"}. Send function tools.`,
      { param: `tools[${i}].type`, code: 'unsupported_tool' },
    );
  }
  const parsed = functionTool.safeParse(t);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.map(String).join('.');
    throw new InvalidRequestError(`Invalid function tool: '${field}' ${issue.message}`, { param: `tools[${i}]${field === '' ? '' : `.${field}`}`, code: 'invalid_value' });
  }
  const f = parsed.data;
  return {
    type: 'function',
    function: {
      name: f.name,
      ...(f.description == null ? {} : { description: f.description }),
      // vLLM passes the parameters as they are (None stays None): the chat template decides.
      parameters: f.parameters ?? null,
      ...(f.strict == null ? {} : { strict: f.strict }),
    },
  };
}

function namedChoice(choice: { type: string; name?: string | undefined }, haveTools: boolean): Record<string, unknown> {
  if (choice.type !== 'function') {
    throw new InvalidRequestError(
      `tool_choice of type '${choice.type.slice(0, 60)}' is not supported: thinkgate runs function tools only ('none', 'auto', 'required' or {type: 'function', name}).`,
      { param: 'tool_choice', code: 'unsupported_tool' },
    );
  }
  if (!haveTools || choice.name === undefined || choice.name === '') {
    // vLLM's words (protocol.py check_tool_usage).
    throw new InvalidRequestError("Tool choice 'function' not found in 'tools' parameter.", { param: 'tool_choice' });
  }
  return { type: 'function', function: { name: choice.name } };
}
