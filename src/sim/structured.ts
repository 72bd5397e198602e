/**
 * SIMULATOR structured outputs: what the scripted model writes under a grammar.
 *
 * vLLM 0.32's /v1/completions folds `response_format` into `structured_outputs`
 * (entrypoints/generate/base/protocol.py `structured_outputs_from_response_format`) and, with no
 * reasoning parser in play (a completions call has none), the grammar holds from the FIRST
 * generated token: a thinking model under a grammar writes the constrained text and no thinking.
 * The simulator does the same (model.ts), so a gateway that put a grammar on a thinking segment
 * would see its thinking vanish in the tests.
 *
 * Not a grammar engine: the answer is one fixed instance of the constraint: for `json`, the
 * smallest instance of the schema (required properties only; strings "sim", numbers 42 clamped
 * into their bounds, booleans true, minItems items, the first enum value / anyOf branch, local
 * `$ref`s resolved); `json_object` `{}`; `choice` the first choice. `regex`, `grammar` and
 * `structural_tag` are refused with a 400 that says the simulator does not simulate them.
 */
import { InvalidRequestError } from '../errors.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Schema = Record<string, unknown>;

/** The text the model writes under the request's constraint, or undefined when it has none. */
export function simStructuredText(body: { response_format?: unknown; structured_outputs?: unknown }): string | undefined {
  const so: Record<string, unknown> = isObject(body.structured_outputs) ? { ...body.structured_outputs } : {};
  const rf = isObject(body.response_format) ? body.response_format : undefined;
  if (rf?.type === 'json_object') so.json_object = true;
  else if (rf?.type === 'json_schema') so.json = isObject(rf.json_schema) ? (rf.json_schema.schema ?? null) : null;
  else if (rf?.type === 'structural_tag') so.structural_tag = 'response_format';
  const kinds = ['json', 'regex', 'choice', 'grammar', 'json_object', 'structural_tag'].filter((k) => so[k] !== undefined && so[k] !== null);
  if (kinds.length === 0) {
    if (body.structured_outputs !== undefined && body.structured_outputs !== null) {
      throw new InvalidRequestError('You must use one kind of structured outputs constraint but none are specified.', { param: 'structured_outputs' });
    }
    return undefined;
  }
  if (kinds.length > 1) {
    throw new InvalidRequestError(`You can only use one kind of structured outputs constraint but multiple are specified: ${kinds.join(', ')}.`, { param: 'structured_outputs' });
  }
  const kind = kinds[0]!;
  if (kind === 'json_object') return '{}';
  if (kind === 'choice') {
    const choice = so.choice;
    if (!Array.isArray(choice) || choice.length === 0 || typeof choice[0] !== 'string') {
      throw new InvalidRequestError('structured_outputs.choice must be a non-empty list of strings.', { param: 'structured_outputs' });
    }
    return choice[0];
  }
  if (kind === 'json') {
    let schema = so.json;
    if (typeof schema === 'string') {
      try {
        schema = JSON.parse(schema) as unknown;
      } catch {
        throw new InvalidRequestError('structured_outputs.json is not valid JSON.', { param: 'structured_outputs' });
      }
    }
    if (!isObject(schema)) throw new InvalidRequestError('The JSON schema must be an object.', { param: 'structured_outputs' });
    return JSON.stringify(instanceOf(schema, schema, 0));
  }
  throw new InvalidRequestError(`SIMULATOR: structured outputs of kind '${kind}' are not simulated (json, json_object and choice are).`, {
    param: 'structured_outputs',
  });
}

/** The smallest instance of `schema` (see the header); `root` resolves local `$ref`s. */
export function instanceOf(schema: Schema, root: Schema, depth: number): Json {
  if (depth > 32) throw new InvalidRequestError('SIMULATOR: the JSON schema nests too deeply.', { param: 'structured_outputs' });
  if (typeof schema.$ref === 'string') return instanceOf(resolveRef(schema.$ref, root), root, depth + 1);
  if ('const' in schema) return schema.const as Json;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0] as Json;
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    const branches = schema[key];
    if (Array.isArray(branches) && branches.length > 0 && isObject(branches[0])) return instanceOf(branches[0], root, depth + 1);
  }
  const type = Array.isArray(schema.type) ? (schema.type.find((t) => t !== 'null') ?? schema.type[0]) : schema.type;
  switch (type) {
    case 'string':
      // Bounded: a hostile minLength / minItems must not make the simulator allocate without end.
      return 'sim'.padEnd(typeof schema.minLength === 'number' ? Math.min(schema.minLength, 256) : 0, 'm');
    case 'integer':
    case 'number':
      return clamp(42, schema.minimum, schema.maximum);
    case 'boolean':
      return true;
    case 'null':
      return null;
    case 'array': {
      const n = typeof schema.minItems === 'number' ? Math.max(0, Math.min(schema.minItems, 64)) : 0;
      const items = isObject(schema.items) ? schema.items : {};
      return Array.from({ length: n }, () => instanceOf(items, root, depth + 1));
    }
    default: {
      const out: { [k: string]: Json } = {};
      const props = isObject(schema.properties) ? schema.properties : {};
      const required = Array.isArray(schema.required) ? schema.required.filter((k): k is string => typeof k === 'string') : [];
      for (const k of required) out[k] = instanceOf(isObject(props[k]) ? props[k] : {}, root, depth + 1);
      return out;
    }
  }
}

function resolveRef(ref: string, root: Schema): Schema {
  const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref);
  const defs = m ? root[m[1]!] : undefined;
  const target = m && isObject(defs) ? defs[m[2]!] : undefined;
  if (!isObject(target)) throw new InvalidRequestError(`SIMULATOR: cannot resolve $ref '${ref}'.`, { param: 'structured_outputs' });
  return target;
}

function clamp(v: number, min: unknown, max: unknown): number {
  if (typeof min === 'number' && v < min) return min;
  if (typeof max === 'number' && v > max) return max;
  return v;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
