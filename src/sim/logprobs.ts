/**
 * SIMULATED log-probabilities (not a real model's): deterministic pseudo-values in the shape of
 * vLLM's `CompletionLogProbs` (vllm/entrypoints/openai/protocol.py: `text_offset`,
 * `token_logprobs`, `tokens`, `top_logprobs`), for `logprobs` on /v1/completions with and
 * without `echo`. lm-evaluation-harness `local-completions` scores loglikelihood requests
 * (`echo: true, logprobs: 1, max_tokens: 1`) by summing `token_logprobs[ctxlen:-1]` and checks
 * greediness against `top_logprobs` (lm_eval/models/openai_completions.py, parse_logprobs).
 *
 * So that a multiple-choice task over the solver's problems (./solver.ts) is scored sensibly:
 * in the text after a recognised problem, the digits of the first number written score -0.05
 * per token when they spell the problem's answer and -9 when they do not. Every other prompt
 * token gets a pseudo-random value in [-4, -0.5] from a hash of (previous id, id), with itself
 * as the top choice; generated tokens (the model's own greedy choices) get values in [-0.3, -0.01].
 */
import { findProblems, hash32 } from './solver.js';
import { BYTE_BASE, WORD_BASE, type Tokenizer } from './tokenizer.js';

/** vLLM's CompletionLogProbs. */
export interface CompletionLogprobs {
  text_offset: number[];
  token_logprobs: (number | null)[];
  tokens: string[];
  top_logprobs: (Record<string, number> | null)[];
}

export const RIGHT_DIGIT_LOGPROB = -0.05;
export const WRONG_DIGIT_LOGPROB = -9;
/** vLLM's default --max-logprobs. */
export const MAX_LOGPROBS = 20;

/** A token as vLLM shows it in logprobs: its text, or `bytes:\xNN` for a lone non-ASCII byte. */
export function tokenText(tok: Tokenizer, id: number): string {
  if (id >= BYTE_BASE && id < WORD_BASE && id - BYTE_BASE >= 0x80) {
    return `bytes:\\x${(id - BYTE_BASE).toString(16).padStart(2, '0')}`;
  }
  return tok.decode([id]);
}

/** Alternatives offered in top_logprobs beyond the top choice (plain vocabulary words). */
const ALTERNATIVES = [' the', ' a', ' is', '.', ',', ' and', ' of', ' to', ' in', ' it', ' that', ' so', ' be', ' I', ' we',
  ' for', ' on', ' with', ' this', ' not', ' can'];

function topOf(actual: string, actualLp: number, best: string, bestLp: number, k: number): Record<string, number> {
  const top: Record<string, number> = { [best]: bestLp };
  top[actual] = actualLp; // vLLM always includes the chosen token (k + 1 entries at most)
  let lp = Math.min(bestLp, actualLp);
  for (const alt of ALTERNATIVES) {
    if (Object.keys(top).length >= Math.max(k, 1) + (actual === best ? 0 : 1)) break;
    if (alt in top) continue;
    lp -= 0.75;
    top[alt] = Math.round(lp * 1e4) / 1e4;
  }
  return top;
}

const generic = (prev: number, id: number): number => -(0.5 + (hash32(`${prev},${id}`) % 3501) / 1000);

/**
 * Logprobs of a prompt, as vLLM's echo returns them: the first token has none. `k` is the
 * request's `logprobs` (how many top alternatives).
 */
export function promptLogprobs(tok: Tokenizer, ids: readonly number[], k: number, offset0 = 0): CompletionLogprobs {
  const texts = ids.map((id) => tokenText(tok, id));
  const full = texts.join('');
  const problems = findProblems(full);
  const out: CompletionLogprobs = { text_offset: [], token_logprobs: [], tokens: [], top_logprobs: [] };
  let off = 0;
  let pi = -1; // index of the governing problem (the last one that ended before this token)
  let digits = 0; // digits of the first number after that problem seen so far
  let state: 'before' | 'in' | 'after' = 'after';
  ids.forEach((id, i) => {
    const t = texts[i]!;
    while (pi + 1 < problems.length && problems[pi + 1]!.end <= off) {
      pi++;
      digits = 0;
      state = 'before';
    }
    out.text_offset.push(offset0 + off);
    out.tokens.push(t);
    off += t.length;
    if (i === 0) {
      out.token_logprobs.push(null);
      out.top_logprobs.push(null);
      return;
    }
    const m = /^(\s?)(\d+)$/.exec(t);
    if (pi >= 0 && state !== 'after' && m) {
      state = 'in';
      const answer = String(problems[pi]!.answer);
      const want = answer.slice(digits, digits + m[2]!.length);
      digits += m[2]!.length;
      const right = want === m[2];
      const best = want === '' ? '.' : m[1]! + answer[digits - m[2]!.length]!;
      const lp = right ? RIGHT_DIGIT_LOGPROB * m[2]!.length : WRONG_DIGIT_LOGPROB;
      out.token_logprobs.push(lp);
      out.top_logprobs.push(topOf(t, lp, right ? t : best, right ? lp : RIGHT_DIGIT_LOGPROB, k));
      return;
    }
    if (state === 'in') state = 'after';
    const lp = Math.round(generic(ids[i - 1]!, id) * 1e4) / 1e4;
    out.token_logprobs.push(lp);
    out.top_logprobs.push(topOf(t, lp, t, lp, k));
  });
  return out;
}

/** Logprobs of generated tokens: the model's own greedy choices, so each is its top choice. */
export function generatedLogprobs(
  tok: Tokenizer,
  prev: number,
  ids: readonly number[],
  k: number,
  offset0 = 0,
): CompletionLogprobs {
  const out: CompletionLogprobs = { text_offset: [], token_logprobs: [], tokens: [], top_logprobs: [] };
  let off = offset0;
  let p = prev;
  for (const id of ids) {
    const t = tokenText(tok, id);
    const lp = -(0.01 + (hash32(`g${p},${id}`) % 291) / 1000);
    out.text_offset.push(off);
    out.tokens.push(t);
    out.token_logprobs.push(Math.round(lp * 1e4) / 1e4);
    out.top_logprobs.push(topOf(t, Math.round(lp * 1e4) / 1e4, t, Math.round(lp * 1e4) / 1e4, k));
    off += t.length;
    p = id;
  }
  return out;
}

export function concatLogprobs(a: CompletionLogprobs, b: CompletionLogprobs): CompletionLogprobs {
  return {
    text_offset: [...a.text_offset, ...b.text_offset],
    token_logprobs: [...a.token_logprobs, ...b.token_logprobs],
    tokens: [...a.tokens, ...b.tokens],
    top_logprobs: [...a.top_logprobs, ...b.top_logprobs],
  };
}

/**
 * Completions logprobs in the chat shape /inference/v1/generate sends in text mode
 * (scale_out/token_in_token_out/serving.py, _create_text_logprobs): per token {token, logprob,
 * bytes, top_logprobs}, the alternatives a list, the sampled token first, then by rank, max(k, 1)
 * of them.
 */
export function chatShapeLogprobs(lp: CompletionLogprobs, k: number): { content: unknown[] } {
  const bytes = (t: string): number[] => [...Buffer.from(t, 'utf8')];
  return {
    content: lp.tokens.map((token, i) => {
      const logprob = lp.token_logprobs[i] ?? -9999;
      const dict = lp.top_logprobs[i] ?? {};
      const others = Object.entries(dict)
        .filter(([t]) => t !== token)
        .sort((a, b) => b[1] - a[1]);
      const top = [[token, logprob] as const, ...others].slice(0, Math.max(k, 1)).map(([t, l]) => ({ token: t, logprob: l, bytes: bytes(t) }));
      return { token, logprob, bytes: bytes(token), top_logprobs: top };
    }),
  };
}
