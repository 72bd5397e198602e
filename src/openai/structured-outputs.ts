/**
 * Structured outputs (`response_format`, `structured_outputs`) on the ANSWER only (issue 13,
 * item 3; docs/api.md, "Structured outputs").
 *
 * vLLM 0.32 turns both fields into one StructuredOutputsParams
 * (entrypoints/generate/base/protocol.py `structured_outputs_from_response_format`: response_format
 * json_object / json_schema / structural_tag overrides the matching key of structured_outputs;
 * `text` changes nothing), and with a reasoning parser its grammar starts only where reasoning ends.
 * thinkgate's segments are /v1/completions calls, whose protocol applies the same function, so
 * the client's two fields go as they are on answer segments (EngineInput.answerSampling) and on no
 * thinking segment: the grammar never constrains the thinking, as on vLLM.
 *
 * vLLM < 0.11's `guided_json`, `guided_regex`, `guided_choice`, `guided_grammar` and
 * `guided_whitespace_pattern` are honoured as the structured_outputs keys they became (0.32 ignores
 * them with a warning, which would leave the client silently unconstrained).
 *
 * A required / named tool_choice replaces both with the tools' schema, as vLLM's ToolParser
 * `adjust_request` does (structured_outputs = {json: schema}, response_format = None).
 *
 * What vLLM refuses when it reads the request (chat_completion/protocol.py model validators and
 * StructuredOutputsParams.__post_init__) is refused here with the same rule, before anything is
 * generated: a grammar error found only at the answer segment would come after the thinking was
 * spent. What only the grammar compiler can tell (a malformed regex or schema) still comes from
 * vLLM, at the answer segment.
 */
import { InvalidRequestError } from '../errors.js';
import { toolAnswerSampling, type ToolPlan } from '../tools/tool-plan.js';

/** vLLM 0.32 StructuredOutputsParams: the constraint kinds (exactly one applies) and the options. */
const CONSTRAINTS = ['json', 'regex', 'choice', 'grammar', 'json_object', 'structural_tag'] as const;
const OPTIONS = ['disable_any_whitespace', 'disable_additional_properties', 'whitespace_pattern'] as const;
const RESPONSE_FORMAT_TYPES = ['text', 'json_object', 'json_schema', 'structural_tag'];

export interface StructuredFields {
  response_format?: unknown;
  structured_outputs?: unknown;
  tool_choice?: unknown;
  guided_json?: unknown;
  guided_regex?: unknown;
  guided_choice?: unknown;
  guided_grammar?: unknown;
  guided_whitespace_pattern?: unknown;
}

/** vLLM < 0.11's request fields -> the StructuredOutputsParams keys they became. */
const GUIDED: Readonly<Record<string, string>> = {
  guided_json: 'json',
  guided_regex: 'regex',
  guided_choice: 'choice',
  guided_grammar: 'grammar',
  guided_whitespace_pattern: 'whitespace_pattern',
};

/**
 * The fields answer segments carry for this request (none: undefined), after vLLM's request-time
 * checks. `tools` is the chat request's tool plan (completions have none).
 */
export function answerSamplingFor(req: StructuredFields, tools: ToolPlan = { mode: 'off' }): Readonly<Record<string, unknown>> | undefined {
  const rf = checkResponseFormat(req.response_format);
  const so = checkStructuredOutputs(withGuided(req), rf);
  if (so !== undefined && hasConstraint(so, ['json', 'regex', 'choice']) && typeof req.tool_choice === 'object' && req.tool_choice !== null) {
    // vLLM's check_structured_outputs_count: a named tool choice is a constraint of its own.
    throw new InvalidRequestError('You can only either use constraints for structured outputs or tools, not both.', { param: 'structured_outputs' });
  }
  const forTools = toolAnswerSampling(tools);
  if (forTools !== undefined) return forTools;
  const out: Record<string, unknown> = {};
  if (rf !== undefined && rf.type !== 'text') out.response_format = req.response_format;
  if (so !== undefined) out.structured_outputs = so;
  return Object.keys(out).length > 0 ? out : undefined;
}

type ResponseFormat = { type: string } & Record<string, unknown>;

/** structured_outputs with the guided_* spellings folded in (a key given both ways is refused). */
function withGuided(req: StructuredFields): unknown {
  const guided = Object.entries(GUIDED).filter(([field]) => {
    const v = (req as Record<string, unknown>)[field];
    return v !== undefined && v !== null;
  });
  if (guided.length === 0) return req.structured_outputs;
  const so = req.structured_outputs ?? {};
  if (!isObject(so)) return so; // checkStructuredOutputs names it
  const out: Record<string, unknown> = { ...so };
  for (const [field, key] of guided) {
    if (out[key] !== undefined && out[key] !== null) {
      throw bad(field, `\`${field}\` is the old spelling of \`structured_outputs.${key}\`; send one of them.`);
    }
    out[key] = (req as Record<string, unknown>)[field];
  }
  return out;
}

function checkResponseFormat(v: unknown): ResponseFormat | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw bad('response_format', '`response_format` must be an object.');
  const type = v.type;
  if (typeof type !== 'string' || !RESPONSE_FORMAT_TYPES.includes(type)) {
    throw bad('response_format.type', `\`response_format.type\` must be one of ${RESPONSE_FORMAT_TYPES.map((t) => `'${t}'`).join(', ')}.`);
  }
  if (type === 'json_schema') {
    const js = v.json_schema;
    if (js === undefined || js === null) {
      throw bad('response_format', "When response_format type is 'json_schema', the 'json_schema' field must be provided.");
    }
    if (!isObject(js)) throw bad('response_format.json_schema', '`response_format.json_schema` must be an object.');
    if (typeof js.name !== 'string') throw bad('response_format.json_schema.name', '`response_format.json_schema.name` must be a string.');
    // vLLM: json = json_schema.schema; without one, StructuredOutputsParams has no constraint and refuses.
    if (!isObject(js.schema)) throw bad('response_format.json_schema.schema', '`response_format.json_schema.schema` must be a JSON Schema object.');
  }
  return v as ResponseFormat;
}

/** The client's structured_outputs, checked as StructuredOutputsParams would be after response_format's override. */
function checkStructuredOutputs(v: unknown, rf: ResponseFormat | undefined): Record<string, unknown> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw bad('structured_outputs', '`structured_outputs` must be an object.');
  for (const [k, val] of Object.entries(v)) {
    const param = `structured_outputs.${k}`;
    if (!(CONSTRAINTS as readonly string[]).includes(k) && !(OPTIONS as readonly string[]).includes(k)) {
      throw bad(param, `Unknown field \`${k}\` in \`structured_outputs\` (vLLM's StructuredOutputsParams: ${[...CONSTRAINTS, ...OPTIONS].join(', ')}).`);
    }
    if (val === null) continue;
    const ok =
      k === 'json' ? typeof val === 'string' || isObject(val)
      : k === 'choice' ? Array.isArray(val) && val.length > 0 && val.every((c) => typeof c === 'string')
      : k === 'json_object' || k === 'disable_any_whitespace' || k === 'disable_additional_properties' ? typeof val === 'boolean'
      : typeof val === 'string';
    if (!ok) throw bad(param, `\`${param}\` has the wrong type (${describeType(k)}).`);
    if (k === 'json' && typeof val === 'string' && !parsesAsObject(val)) {
      throw bad(param, '`structured_outputs.json` as text must be a JSON Schema object in JSON.');
    }
  }
  // What applies once response_format overrides its key (vLLM's `replace(structured_outputs, **overrides)`).
  const applied: Record<string, unknown> = { ...v };
  if (rf?.type === 'json_object') applied.json_object = true;
  else if (rf?.type === 'json_schema') applied.json = (rf.json_schema as Record<string, unknown>).schema ?? null;
  else if (rf?.type === 'structural_tag') applied.structural_tag = 'response_format';
  const kinds = CONSTRAINTS.filter((k) => applied[k] !== undefined && applied[k] !== null);
  if (kinds.length > 1) {
    throw bad('structured_outputs', `You can only use one kind of structured outputs constraint but multiple are specified: ${kinds.join(', ')}.`);
  }
  if (kinds.length === 0) {
    throw bad('structured_outputs', `You must use one kind of structured outputs constraint (${CONSTRAINTS.join(', ')}) but none are specified.`);
  }
  return v;
}

function hasConstraint(so: Record<string, unknown>, kinds: readonly string[]): boolean {
  return kinds.some((k) => so[k] !== undefined && so[k] !== null);
}

function parsesAsObject(text: string): boolean {
  try {
    return isObject(JSON.parse(text));
  } catch {
    return false;
  }
}

function describeType(k: string): string {
  if (k === 'json') return 'a JSON Schema object or its JSON text';
  if (k === 'choice') return 'a non-empty array of strings';
  if (k === 'json_object' || k.startsWith('disable_')) return 'a boolean';
  return 'a string';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function bad(param: string, message: string): InvalidRequestError {
  return new InvalidRequestError(message, { param, code: 'invalid_value' });
}
