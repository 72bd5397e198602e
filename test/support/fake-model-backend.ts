/**
 * A scripted Backend for engine unit tests: a tiny deterministic "reasoning model" over a toy
 * vocabulary, with vLLM's stop semantics (a stop token is in token_ids, not in text; finish_reason
 * rides on the last token's chunk; a usage event trails). It records every request it got (a copy)
 * and whether the engine abandoned the stream (the upstream abort).
 */
import type { Backend, CompletionDelta, CompletionEvent, CompletionRequest, ModelInfo, TokenLogprob, TokenizeResult } from '../../src/engine/backend.js';
import type { Profile, ResolvedProfile } from '../../src/profiles/profile.js';

export const T = {
  EOT: 0, IM_START: 1, EOS: 2, THINK: 3, END: 4, NL: 5, NLNL: 6, WAIT: 10, ANSWER: 11, THINKW: 12, FINAL: 13,
  // Qwen2.5-style `</think>` spelled as three ordinary ids.
  LT_SLASH: 20, THINK_WORD: 21, GT: 22,
};

const TEXT = new Map<number, string>([
  [T.EOT, '<|endoftext|>'], [T.IM_START, '<|im_start|>'], [T.EOS, '<|im_end|>'], [T.THINK, '<think>'],
  [T.END, '</think>'], [T.NL, '\n'], [T.NLNL, '\n\n'], [T.WAIT, 'Wait'], [T.ANSWER, 'answer'], [T.THINKW, 'think'],
  [T.FINAL, 'Final Answer:'], [T.LT_SLASH, '</'], [T.THINK_WORD, 'think'], [T.GT, '>'],
]);

export const thought = (k: number): number => 100 + k;
export const answerTok = (k: number): number => 1000 + k;

export function textOf(id: number): string {
  if (id >= 1000) return ` a${id - 1000}`;
  if (id >= 100) return ` t${id - 100}`;
  return TEXT.get(id) ?? `<${id}>`;
}
export const textOfIds = (ids: readonly number[]): string => ids.map(textOf).join('');

const baseProfile = { effort: {} } as const;
export const thinkTags: ResolvedProfile = {
  profile: { ...baseProfile, name: 'think-tags', thinking_start: '<think>', thinking_end: '</think>', forced_close: '\n</think>\n\n', open_text: '<think>\n', extension: 'Wait' } as Profile,
  startIds: [T.THINK], endIds: [T.END], forcedCloseIds: [T.NL, T.END, T.NLNL], openIds: [T.THINK, T.NL], eosIds: [T.EOS],
};
export const s1: ResolvedProfile = {
  profile: { ...baseProfile, name: 's1', thinking_start: '<|im_start|>think', thinking_end: '<|im_start|>answer', forced_close: '\n<|im_start|>answer\nFinal Answer:', open_text: '<|im_start|>think', extension: 'Wait' } as Profile,
  startIds: [T.IM_START, T.THINKW], endIds: [T.IM_START, T.ANSWER], forcedCloseIds: [T.NL, T.IM_START, T.ANSWER, T.NL, T.FINAL], openIds: [T.IM_START, T.THINKW], eosIds: [T.EOS],
};
/** think-tags where `</think>` is three ordinary ids (Qwen2.5 tokenizers). */
export const threeIdEnd: ResolvedProfile = {
  ...thinkTags,
  endIds: [T.LT_SLASH, T.THINK_WORD, T.GT],
  forcedCloseIds: [T.NL, T.LT_SLASH, T.THINK_WORD, T.GT, T.NLNL],
};

export interface FakeModelOptions {
  profile: ResolvedProfile;
  /** Thinking tokens it writes on its own before closing. */
  think: number;
  /** Thinking tokens it writes after each Wait before closing again. */
  extend: number;
  answer: number;
  /** Ids per streamed chunk (vLLM sends one per step; more with --stream-interval). */
  chunk?: number;
  /**
   * Chunk sizes for a segment that streams `length` ids (they sum to `length`); overrides `chunk`.
   * The replay test uses it to deliver the same token stream at every split.
   */
  chunks?: (length: number) => number[];
  /** Emit EOS instead of the end delimiter when it closes thinking. */
  closeWithEos?: boolean;
  /** Appended after the end delimiter before the answer. */
  afterEnd?: number[];
  /** Ids written after the first thought of the first segment (e.g. a delimiter's prefix that goes nowhere). */
  detour?: number[];
  cachedTokens?: (req: CompletionRequest) => number;
}

export interface RecordedRequest extends CompletionRequest {
  aborted: boolean;
  completed: boolean;
  /** Ids this segment would stream if read to the end (what `chunks` is asked to split). */
  streamable: number;
}

function lastIndexOfSeq(h: readonly number[], n: readonly number[]): number {
  for (let i = h.length - n.length; i >= 0; i--) if (n.every((x, j) => h[i + j] === x)) return i;
  return -1;
}

/** What the toy model would write after `prompt`, up to EOS. Stateless, like a real model. */
export function continuation(prompt: readonly number[], o: FakeModelOptions): number[] {
  const { startIds, endIds } = o.profile;
  const s = lastIndexOfSeq(prompt, startIds);
  const e = lastIndexOfSeq(prompt, endIds);
  const answer = Array.from({ length: o.answer }, (_, k) => answerTok(k));
  if (s === -1 || e > s) {
    // Answering: go on from where the prompt stands (a continuation segment resumes mid-answer).
    const after = prompt.slice(e + endIds.length);
    const done = after.filter((id) => id >= 1000).length;
    const lead = after.length === 0 && e !== -1 ? (o.afterEnd ?? [T.NLNL]) : [];
    return [...lead, ...answer.slice(done), T.EOS];
  }
  let body = prompt.slice(s + startIds.length);
  if (body[0] === T.NL) body = body.slice(1);
  const w = body.lastIndexOf(T.WAIT);
  const left = w === -1 ? o.think - body.length : o.extend - (body.length - w - 1);
  const thoughts = Array.from({ length: Math.max(0, left) }, (_, k) => thought(body.length + k));
  if (o.detour && body.length === 0) thoughts.splice(1, 0, ...o.detour);
  const close = o.closeWithEos ? [T.EOS] : [...endIds, ...(o.afterEnd ?? [T.NLNL])];
  return o.closeWithEos ? [...thoughts, T.EOS] : [...thoughts, ...close, ...answer, T.EOS];
}

/** The fake logprob of `id` at `position` of the whole token sequence (prompt + generated). */
export function fakeLogprob(id: number, position: number): TokenLogprob {
  const logprob = -position / 1000;
  return { token: textOf(id), logprob, top: [{ token: textOf(id), logprob }, { token: '<alt>', logprob: logprob - 1 }] };
}

function fixedSizes(length: number, size: number): number[] {
  const sizes: number[] = [];
  for (let left = length; left > 0; left -= size) sizes.push(Math.min(size, left));
  return sizes;
}

export class FakeModelBackend implements Backend {
  readonly name = 'fake://model';
  readonly requests: RecordedRequest[] = [];
  constructor(public opts: FakeModelOptions) {}

  async tokenizeChat(): Promise<TokenizeResult> {
    return { ids: [T.IM_START, 50, 51, T.EOS] };
  }
  async tokenize(): Promise<number[]> {
    return [T.WAIT];
  }
  async tokenizePrompt(): Promise<TokenizeResult> {
    return { ids: [T.IM_START, 50, 51, T.EOS] };
  }
  async models(): Promise<ModelInfo[]> {
    return [{ id: 'fake' }];
  }
  async health(): Promise<boolean> {
    return true;
  }

  async *streamCompletion(req: CompletionRequest, signal: AbortSignal): AsyncGenerator<CompletionEvent> {
    const rec: RecordedRequest = { ...req, promptIds: req.promptIds.slice(), aborted: false, completed: false, streamable: 0 };
    this.requests.push(rec);
    const onAbort = (): void => void (rec.aborted = true);
    signal.addEventListener('abort', onAbort);
    try {
      const all = continuation(req.promptIds, this.opts);
      const stopIds = new Set([T.EOS, ...(req.stopTokenIds ?? [])]);
      let n = all.findIndex((id) => stopIds.has(id));
      let finish: 'stop' | 'length' = 'stop';
      let stopReason: number | null = null;
      // vLLM v1 checks the length before EOS: a stop token that is also the max_tokens-th token
      // ends the request with `length`, and its text stays in the output.
      if (n === -1 || n + 1 >= req.maxTokens) {
        n = Math.min(all.length, req.maxTokens);
        finish = 'length';
      } else {
        stopReason = all[n] === T.EOS ? null : all[n]!;
        n += 1;
      }
      const out = all.slice(0, n);
      rec.streamable = out.length;
      const sizes = this.opts.chunks?.(out.length) ?? fixedSizes(out.length, this.opts.chunk ?? 1);
      let at = 0;
      for (const size of sizes) {
        const ids = out.slice(at, (at += size));
        const isLast = at >= out.length;
        const visible = isLast && finish === 'stop' ? ids.slice(0, -1) : ids;
        await Promise.resolve();
        if (signal.aborted) throw Object.assign(new Error('aborted'), { name: 'AbortError' });
        const delta: CompletionDelta = { kind: 'delta', text: textOfIds(visible), tokenIds: ids, finishReason: isLast ? finish : null, stopReason: isLast ? stopReason : null };
        // With logprobs: each entry says where its id stands in the token sequence (logprob = -position / 1000).
        if (req.logprobs !== undefined) delta.logprobs = ids.map((id, j) => fakeLogprob(id, req.promptIds.length + at - ids.length + j));
        yield delta;
      }
      const cached = this.opts.cachedTokens?.(req);
      yield { kind: 'usage', promptTokens: req.promptIds.length, completionTokens: out.length, ...(cached === undefined ? {} : { cachedTokens: cached }) };
      rec.completed = true;
    } finally {
      if (!rec.completed) rec.aborted = true;
      signal.removeEventListener('abort', onAbort);
    }
  }
}
