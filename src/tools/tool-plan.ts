/**
 * A chat request's tool semantics, decided before anything is sent upstream, as vLLM 0.32 decides
 * them (entrypoints/openai/chat_completion/protocol.py `check_tool_usage`,
 * renderers/online_renderer.py, tool_parsers/utils.py `get_json_schema_from_tools`):
 *
 * - `tools: []` is refused; `tools` without `tool_choice` means "auto".
 * - `tool_choice` without `tools` is refused; a named choice must name one of `tools`.
 * - "none": the tools still reach the chat template (vLLM's exclude_tools_when_tool_choice_none
 *   is off by default) and the answer is plain content.
 * - "auto", "required" and named need a tool-call parser for the model (config: the model
 *   entry's or profile's `tool_call_parser`), as vLLM needs --enable-auto-tool-choice and
 *   --tool-call-parser.
 * - "required" and named constrain the ANSWER segment with the tools' JSON schema (vLLM's
 *   non-strict path, VLLM_ENFORCE_STRICT_TOOL_CALLING=0; the strict structural-tag path is
 *   not mirrored, docs/api.md "Tool calls").
 * - The deprecated `functions` / `function_call` are refused: vLLM 0.32 has no such fields.
 */
import { InvalidRequestError } from '../errors.js';
import { deepseekV3 } from './deepseek-v3.js';
import { hermes } from './hermes.js';
import { llama3Json } from './llama3-json.js';
import type { ToolParserKind } from './types.js';

/** vLLM's `--tool-call-parser` names thinkgate implements. */
export const TOOL_CALL_PARSERS: Readonly<Record<string, ToolParserKind>> = Object.freeze(
  Object.assign(Object.create(null) as Record<string, ToolParserKind>, { hermes, deepseek_v3: deepseekV3, llama3_json: llama3Json }),
);
export const TOOL_CALL_PARSER_NAMES: readonly string[] = Object.freeze(Object.keys(TOOL_CALL_PARSERS));

export type ToolPlan =
  | { mode: 'off' }
  | { mode: 'auto'; parser: ToolParserKind; parallel: boolean }
  | { mode: 'required'; parallel: boolean; schema: Record<string, unknown> }
  | { mode: 'named'; name: string; parallel: boolean; schema: Record<string, unknown> };

export interface ToolFields {
  tools?: readonly { type: string; function?: { name: string; parameters?: Record<string, unknown> | null } }[] | undefined;
  tool_choice?: unknown;
  parallel_tool_calls?: boolean | undefined;
  functions?: unknown;
  function_call?: unknown;
}

const CORRECT_USAGE = 'Correct usage: `{"type": "function", "function": {"name": "my_function"}}`';

export function planTools(req: ToolFields, parserName: string | undefined): ToolPlan {
  for (const field of ['functions', 'function_call'] as const) {
    if (req[field] !== undefined) {
      throw new InvalidRequestError(`\`${field}\` is deprecated and not supported (vLLM has no such field); use \`tools\` and \`tool_choice\`.`, { param: field });
    }
  }
  const tools = req.tools;
  if (tools !== undefined && tools.length === 0) {
    throw new InvalidRequestError('`tools` must not be an empty array. Either provide at least one tool or omit the field entirely.', { param: 'tools' });
  }
  const choice = req.tool_choice ?? (tools !== undefined ? 'auto' : undefined);
  if (choice === undefined || choice === 'none') return { mode: 'off' };
  if (tools === undefined) throw new InvalidRequestError('When using `tool_choice`, `tools` must be set.', { param: 'tool_choice' });
  const parallel = req.parallel_tool_calls !== false;
  let named: string | undefined;
  if (typeof choice === 'object' && choice !== null) {
    const fn = (choice as { function?: unknown }).function;
    if (typeof fn !== 'object' || fn === null || Array.isArray(fn)) {
      throw new InvalidRequestError(`Invalid value for \`function\` in \`tool_choice\`! ${CORRECT_USAGE}`, { param: 'tool_choice.function' });
    }
    if (!('name' in fn)) throw new InvalidRequestError(`Expected field \`name\` in \`function\` in \`tool_choice\`! ${CORRECT_USAGE}`, { param: 'tool_choice.function.name' });
    const name = (fn as { name: unknown }).name;
    if (typeof name !== 'string' || name === '') {
      throw new InvalidRequestError(`Invalid \`name\` in \`function\` in \`tool_choice\`! ${CORRECT_USAGE}`, { param: 'tool_choice.function.name' });
    }
    if (!tools.some((t) => t.function?.name === name)) {
      throw new InvalidRequestError('The tool specified in `tool_choice` does not match any of the specified `tools`', { param: 'tool_choice' });
    }
    named = name;
  }
  const parser = parserName === undefined ? undefined : TOOL_CALL_PARSERS[parserName];
  if (parser === undefined) {
    const what = named !== undefined ? `tool_choice=function "${named}"` : `tool_choice="${String(choice)}"`;
    throw new InvalidRequestError(
      `${what} needs a tool-call parser for this model (the model entry's or profile's \`tool_call_parser\`, as vLLM needs --enable-auto-tool-choice --tool-call-parser).`,
      { param: 'tool_choice' },
    );
  }
  if (named !== undefined) {
    const params = tools.find((t) => t.function?.name === named)?.function?.parameters;
    return { mode: 'named', name: named, parallel, schema: paramsOrEmptyObject(params) };
  }
  if (choice === 'required') return { mode: 'required', parallel, schema: requiredSchema(tools, parallel) };
  return { mode: 'auto', parser, parallel };
}

/** The answer segment's structured-output field for a plan (vLLM 0.32 /v1/completions `structured_outputs`). */
export function toolAnswerSampling(plan: ToolPlan): Readonly<Record<string, unknown>> | undefined {
  if (plan.mode !== 'required' && plan.mode !== 'named') return undefined;
  return { structured_outputs: { json: plan.schema } };
}

/** tool_parsers/utils.py `_params_or_empty_object`: empty or missing parameters still mean an object. */
function paramsOrEmptyObject(params: Record<string, unknown> | null | undefined): Record<string, unknown> {
  return params && Object.keys(params).length > 0 ? params : { type: 'object', properties: {} };
}

/** tool_parsers/utils.py `_get_json_schema_from_tools`: an array of `{name, parameters}`, `$defs` hoisted. */
function requiredSchema(tools: NonNullable<ToolFields['tools']>, parallel: boolean): Record<string, unknown> {
  const defs: Record<string, unknown> = {};
  const anyOf = tools.map((t) => {
    const name = t.function?.name ?? '';
    let params = t.function?.parameters ?? null;
    if (params && Object.hasOwn(params, '$defs')) {
      const { $defs, ...rest } = params;
      if (typeof $defs !== 'object' || $defs === null || Array.isArray($defs)) {
        throw new InvalidRequestError(`\`$defs\` in the parameters of tool '${name}' must be an object.`, { param: 'tools' });
      }
      for (const [k, v] of Object.entries($defs)) {
        if (Object.hasOwn(defs, k) && JSON.stringify(defs[k]) !== JSON.stringify(v)) {
          throw new InvalidRequestError(`Tool definition '${k}' has multiple schemas, which is not supported.`, { param: 'tools' });
        }
        defs[k] = v;
      }
      params = rest;
    }
    return {
      properties: { name: { type: 'string', enum: [name] }, parameters: paramsOrEmptyObject(params) },
      required: ['name', 'parameters'],
    };
  });
  const schema: Record<string, unknown> = { type: 'array', minItems: 1, items: { type: 'object', anyOf } };
  if (!parallel) schema.maxItems = 1;
  if (Object.keys(defs).length > 0) schema.$defs = defs;
  return schema;
}
