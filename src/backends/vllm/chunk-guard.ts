/**
 * The hot path's check of a streamed vLLM chunk (issue 14, item 3): hand-written guards that
 * accept exactly the chunks VllmCompletionChunkSchema (schemas.ts) accepts, without zod's
 * per-chunk cost (a profile of 64 streams put zod plus JSON.parse at ~20% of the relay's CPU).
 * A chunk the guard does not accept goes through zod after all (chunk-reader.ts), so zod stays
 * the one source of error messages; the guard only ever says "valid as is" or "ask zod".
 *
 * The rule that keeps the two equal: the guard may refuse more than zod (zod then decides), never
 * less. test/unit/vllm-chunk-guard.test.ts checks it on every field's valid and invalid values.
 */
import type { VllmCompletionChunk } from './schemas.js';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
// zod 4's .int() is a safe integer (|v| <= 2^53 - 1): 1e300 and 2^53 are refused.
const isNonNegInt = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isInt = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v);
/** zod's `.optional()`: absent or undefined. */
const optional = (v: unknown, ok: (v: unknown) => boolean): boolean => v === undefined || ok(v);
/** zod's `.nullish()`: absent, undefined or null. */
const nullish = (v: unknown, ok: (v: unknown) => boolean): boolean => v === undefined || v === null || ok(v);

function isIdList(v: unknown): boolean {
  if (!Array.isArray(v)) return false;
  for (let i = 0; i < v.length; i++) if (!isNonNegInt(v[i])) return false;
  return true;
}

/** A `usage` object as VllmUsageSchema accepts it (the chat first segment's reader uses it too). */
export function isUsage(u: unknown): boolean {
  if (!isObj(u)) return false;
  if (!isNonNegInt(u.prompt_tokens)) return false;
  if (!nullish(u.completion_tokens, isNonNegInt)) return false;
  if (!optional(u.total_tokens, isNonNegInt)) return false;
  const d = u.prompt_tokens_details;
  return nullish(d, (x) => isObj(x) && nullish(x.cached_tokens, isNonNegInt));
}

function isChoice(c: unknown): boolean {
  if (!isObj(c)) return false;
  return (
    isNonNegInt(c.index) &&
    typeof c.text === 'string' &&
    nullish(c.finish_reason, (v) => typeof v === 'string') &&
    nullish(c.stop_reason, (v) => typeof v === 'string' || isInt(v)) &&
    nullish(c.token_ids, isIdList) &&
    nullish(c.prompt_token_ids, isIdList)
  );
}

/** The parsed JSON as a chunk when it certainly is one; null: let zod decide (and explain). */
export function guardChunk(json: unknown): VllmCompletionChunk | null {
  if (!isObj(json)) return null;
  if (!optional(json.id, (v) => typeof v === 'string')) return null;
  if (!optional(json.object, (v) => typeof v === 'string')) return null;
  if (!optional(json.created, (v) => typeof v === 'number')) return null;
  if (!optional(json.model, (v) => typeof v === 'string')) return null;
  const choices = json.choices;
  if (!Array.isArray(choices)) return null;
  for (let i = 0; i < choices.length; i++) if (!isChoice(choices[i])) return null;
  if (!nullish(json.usage, isUsage)) return null;
  return json as VllmCompletionChunk;
}
