/**
 * Answer-only structured outputs on llama-server (src/backends/llamacpp/grammar.ts): vLLM's
 * fields become llama-server's json_schema / GBNF grammar, and what it has no constraint for is
 * refused, never sent unconstrained.
 */
import { describe, expect, it } from 'vitest';
import { llamaSampling } from '../../src/backends/llamacpp/sampling.js';
import { llamaGrammarFields } from '../../src/backends/llamacpp/grammar.js';
import { InvalidRequestError } from '../../src/errors.js';

describe('llama-server structured outputs', () => {
  const schema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] };

  it.each([
    ['structured_outputs.json (object)', { structured_outputs: { json: schema } }, { json_schema: schema }],
    ['structured_outputs.json (text)', { structured_outputs: { json: JSON.stringify(schema) } }, { json_schema: schema }],
    ['structured_outputs.json_object', { structured_outputs: { json_object: true } }, { json_schema: { type: 'object' } }],
    ['response_format json_schema', { response_format: { type: 'json_schema', json_schema: { name: 'x', schema } } }, { json_schema: schema }],
    ['response_format json_object', { response_format: { type: 'json_object' } }, { json_schema: { type: 'object' } }],
    ['structured_outputs.choice, as a GBNF alternation with escapes', { structured_outputs: { choice: ['yes', 'say "no"\n'] } }, { grammar: 'root ::= "yes" | "say \\"no\\"\\n"' }],
    ['structured_outputs.grammar (GBNF, as is)', { structured_outputs: { grammar: 'root ::= "a"' } }, { grammar: 'root ::= "a"' }],
    ['nothing', { temperature: 0 }, {}],
  ])('%s', (_name, sampling, expected) => {
    expect(llamaGrammarFields(sampling)).toEqual(expected);
    const out = llamaSampling(sampling);
    expect(out).toMatchObject(expected);
    expect(out.structured_outputs).toBeUndefined();
    expect(out.response_format).toBeUndefined();
  });

  it.each([
    ['structured_outputs.regex', { structured_outputs: { regex: 'a+' } }],
    ['structured_outputs.structural_tag', { structured_outputs: { structural_tag: '{}' } }],
    ['response_format', { response_format: { type: 'structural_tag', format: {} } }],
  ])('%s is refused, naming it', (param, sampling) => {
    let err: unknown;
    try {
      llamaGrammarFields(sampling);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect((err as InvalidRequestError).param).toBe(param);
  });
});
