/**
 * Answer-only structured outputs (src/openai/structured-outputs.ts: vLLM's `structured_outputs`
 * and `response_format`) -> llama-server's own `/completion` fields: `json_schema` (a JSON
 * Schema, converted to a grammar by the server) and `grammar` (GBNF). llama-server has no regex
 * or structural-tag constraint: those are refused before anything is generated
 * (LlamaCppBackend.checkAnswerFields), never sent unconstrained.
 */
import { InvalidRequestError } from '../../errors.js';

/** The llama-server fields for the request's constraint (none: {}); throws for what it cannot do. */
export function llamaGrammarFields(sampling: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const so = isObject(sampling.structured_outputs) ? sampling.structured_outputs : {};
  const rf = isObject(sampling.response_format) ? sampling.response_format : undefined;
  // vLLM's order: response_format overrides its key of structured_outputs (structured-outputs.ts).
  if (rf?.type === 'json_object') return { json_schema: { type: 'object' } };
  if (rf?.type === 'json_schema') return { json_schema: (rf.json_schema as Record<string, unknown> | undefined)?.schema ?? {} };
  if (rf?.type === 'structural_tag') throw unsupported('response_format', 'structural tags');
  if (so.json !== undefined && so.json !== null) {
    return { json_schema: typeof so.json === 'string' ? (JSON.parse(so.json) as unknown) : so.json };
  }
  if (so.json_object === true) return { json_schema: { type: 'object' } };
  if (Array.isArray(so.choice)) return { grammar: `root ::= ${so.choice.map((c) => gbnfString(String(c))).join(' | ')}` };
  if (typeof so.grammar === 'string') return { grammar: so.grammar };
  if (so.regex !== undefined && so.regex !== null) throw unsupported('structured_outputs.regex', 'regular expressions');
  if (so.structural_tag !== undefined && so.structural_tag !== null) throw unsupported('structured_outputs.structural_tag', 'structural tags');
  return {};
}

/** A GBNF string literal (llama.cpp grammars/README.md: "..." with \\, \" and control escapes). */
function gbnfString(s: string): string {
  return `"${s.replace(/[\\"\n\r\t]/g, (c) => ({ '\\': '\\\\', '"': '\\"', '\n': '\\n', '\r': '\\r', '\t': '\\t' })[c]!)}"`;
}

function unsupported(param: string, what: string): InvalidRequestError {
  return new InvalidRequestError(`llama-server has no constraint for ${what}; models served by llama.cpp take json, json_object, choice and grammar (GBNF).`, {
    param,
    code: 'unsupported_parameter',
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
