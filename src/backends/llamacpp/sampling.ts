/**
 * The client's sampling fields (OpenAI / vLLM names, src/openai/sampling.ts) -> llama-server's
 * `/completion` fields.
 *
 * Same request, same meaning on both backends: llama-server's sampling defaults differ from
 * vLLM's and OpenAI's (README "Sampling params": top_k 40, top_p 0.95, min_p 0.05, temperature
 * 0.8; vLLM: top_k off, top_p 1, min_p 0, temperature 1, no repetition penalty), so a field the
 * client leaves out gets vLLM's neutral value here. Renamed: `repetition_penalty` ->
 * `repeat_penalty`. Everything else passes as is (llama-server ignores fields it does not know,
 * and accepts OpenAI's `logit_bias` object and `seed`).
 */

import { llamaGrammarFields } from './grammar.js';

const NEUTRAL: Readonly<Record<string, unknown>> = {
  temperature: 1,
  top_k: 0, // <= 0 disables top-k in llama.cpp, as -1 or 0 does in vLLM
  top_p: 1,
  min_p: 0,
  typical_p: 1,
  repeat_penalty: 1,
  presence_penalty: 0,
  frequency_penalty: 0,
};

const RENAMED: Readonly<Record<string, string>> = { repetition_penalty: 'repeat_penalty' };

/** vLLM's structured-output fields: translated by grammar.ts, never passed as they are. */
const STRUCTURED = new Set(['structured_outputs', 'response_format']);

/** Fields the adapter owns on every request; a client value would break the token accounting. */
const PROTOCOL = new Set(['prompt', 'stream', 'n_predict', 'return_tokens', 'cache_prompt', 'stop', 'timings_per_token', 'n_cmpl', 'n_probs', 'response_fields']);

export function llamaSampling(sampling: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...NEUTRAL };
  for (const [key, value] of Object.entries(sampling)) {
    if (value === undefined || value === null || PROTOCOL.has(key) || STRUCTURED.has(key)) continue;
    out[RENAMED[key] ?? key] = value;
  }
  return { ...out, ...llamaGrammarFields(sampling) };
}
